package nl.wijkverkenner.app

import android.app.Activity
import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import android.widget.CheckBox
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.RadioGroup
import android.widget.TextView
import java.time.Instant
import nl.wijkverkenner.android.CaptureForm
import nl.wijkverkenner.android.Kind
import nl.wijkverkenner.android.Labels
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.android.pinned
import nl.wijkverkenner.android.usableFix
import nl.wijkverkenner.ffi.CategoryKind
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.Mood
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordLocation
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.Trust

/**
 * Notes an observation, a conversation or a signal with every field the core has — or edits
 * one ([RECORD]) while the core allows it, and deletes it. The place is the last good GPS fix,
 * a pin on the map, or none (indoors). Saving sends it at once when there is a connection.
 */
class CaptureActivity : Activity() {
    companion object {
        /** `Kind.name` of a new note. */
        const val KIND = "kind"

        /** The id of a note to edit. */
        const val RECORD = "record"
        private const val PIN_REQUEST = 3
    }

    private lateinit var form: CaptureForm
    private var editing: Record? = null
    private var location: Location? = null
    private var locationChanged = false
    private lateinit var labels: Labels
    private lateinit var col: LinearLayout
    private lateinit var problems: TextView
    private lateinit var where: TextView
    private val read = mutableListOf<() -> Unit>()
    /** A pin that came back before the form was built (the screen was made again meanwhile). */
    private var pendingPin: Location? = null
    /** The form as opened: Back asks before it throws changes away. */
    private var opened: List<Any?>? = null
    /** A save is under way: a second tap must not make a second note. */
    private var saving = false
    /** Puts the form's texts back into their fields (after personal data was replaced). */
    private val refill = mutableListOf<() -> Unit>()
    /** The walker saw the personal-data warning for these texts and chose to keep them. */
    private var keptPersonalData: List<Any?>? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val recordId = intent.getStringExtra(RECORD)
        val kind = intent.getStringExtra(KIND)?.let { runCatching { Kind.valueOf(it) }.getOrNull() } ?: Kind.OBSERVATION
        col = screen(Words.kind(this, kind))
        problems = col.text(16f, "", R.id.capture_problems)
        work(app.scope, problems) {
            val store = app.store()
            labels = store.labels(Words.english(this@CaptureActivity))
            if (recordId != null) {
                val record = store.record(recordId)
                editing = record
                form = CaptureForm.from(record)
                location = when (val l = record.location) {
                    is RecordLocation.Fix -> l.location
                    is RecordLocation.Inherited -> l.location
                    RecordLocation.Unknown -> null
                }
                title = getString(R.string.capture_edit, Words.kind(this@CaptureActivity, form.kind))
            } else {
                form = CaptureForm(kind)
                location = usableFix(app.lastFix, Instant.now())
            }
            build()
            opened = form.snapshot()
            pendingPin?.let { pin(it) }
        }
    }

    /** The fields of the form's kind, then the place, then save (and delete when editing). */
    private fun build() {
        when (form.kind) {
            Kind.OBSERVATION -> observation()
            Kind.CONVERSATION -> conversation()
            Kind.SIGNAL -> signal()
        }
        col.heading(getString(R.string.capture_where))
        where = col.text(18f, "", R.id.capture_where)
        showWhere()
        col.button(getString(R.string.capture_pin), R.id.capture_pin) {
            val pin = Intent(this, MapActivity::class.java).putExtra(MapActivity.PIN, true)
            location?.let { pin.putExtra(MapActivity.LAT, it.lat).putExtra(MapActivity.LON, it.lon) }
            startActivityForResult(pin, PIN_REQUEST)
        }
        // A note's place can be corrected by an edit, not taken away (the core keeps it).
        if (editing == null) {
            col.button(getString(R.string.capture_no_location), R.id.capture_no_location) {
                location = null
                locationChanged = true
                showWhere()
            }
        }
        col.button(getString(R.string.capture_save), R.id.capture_save) { save() }
        if (editing != null) col.button(getString(R.string.capture_delete), R.id.capture_delete) { confirmDelete() }
    }

    private fun observation() {
        col.heading(getString(R.string.capture_themes))
        val themes = col.checks(R.id.capture_themes, codes(CategoryKind.OBSERVATION_THEME, form.themes), form.themes)
        col.heading(getString(R.string.capture_tone))
        val tone = col.choice(R.id.capture_tone, Tone.entries.map { it to Words.tone(this, it) }, form.tone)
        val note = col.field(getString(R.string.capture_note), R.id.capture_note, form.note, lines = 3)
        read += {
            form.themes.clear()
            form.themes += themes.ticked()
            tone.value<Tone>()?.let { form.tone = it }
            form.note = note.text()
        }
        refill += { note.setText(form.note) }
    }

    private fun conversation() {
        col.heading(getString(R.string.capture_roles))
        val roles = col.checks(R.id.capture_roles, codes(CategoryKind.COUNTERPART_ROLE, form.roles), form.roles)
        val people = col.number(getString(R.string.capture_people), R.id.capture_people, form.people)
        val duration = col.number(getString(R.string.capture_duration), R.id.capture_duration, form.durationMin)
        val gist = col.field(getString(R.string.capture_gist), R.id.capture_gist, form.gist, lines = 3)
        col.heading(getString(R.string.capture_mood))
        val mood = col.choice(R.id.capture_mood, Mood.entries.map { it to Words.mood(this, it) }, form.mood)
        col.heading(getString(R.string.capture_trust))
        val trust = col.choice(R.id.capture_trust, Trust.entries.map { it to Words.trust(this, it) }, form.trust)
        val agreements = col.field(getString(R.string.capture_agreements), R.id.capture_agreements, form.agreements, lines = 2)
        val help = col.tick(getString(R.string.capture_immediate_help), R.id.capture_immediate_help, form.immediateHelp)
        read += {
            form.roles.clear()
            form.roles += roles.ticked()
            // An empty or impossible number is a problem the form names, not a crash.
            form.people = people.text.toString().toIntOrNull() ?: 0
            form.durationMin = duration.text.toString().toIntOrNull() ?: -1
            form.gist = gist.text()
            mood.value<Mood>()?.let { form.mood = it }
            trust.value<Trust>()?.let { form.trust = it }
            form.agreements = agreements.text()
            form.immediateHelp = help.isChecked
        }
        refill += {
            gist.setText(form.gist)
            agreements.setText(form.agreements)
        }
    }

    private fun signal() {
        col.heading(getString(R.string.capture_category))
        val category = col.choice(R.id.capture_category, codes(CategoryKind.SIGNAL_CATEGORY, listOfNotNull(form.category)), form.category)
        col.heading(getString(R.string.capture_severity))
        val severity = col.choice(R.id.capture_severity, Severity.entries.map { it to Words.severity(this, it) }, form.severity)
        val description = col.field(getString(R.string.capture_description), R.id.capture_description, form.description, lines = 3)
        val known: CheckBox = col.tick(getString(R.string.capture_known_place), R.id.capture_known_place, form.atKnownPlace)
        val followUp = col.field(getString(R.string.capture_follow_up), R.id.capture_follow_up, form.followUp, lines = 2)
        col.heading(getString(R.string.capture_referral))
        val none = getString(R.string.capture_referral_none)
        val referral: RadioGroup = col.choice(
            R.id.capture_referral,
            listOf("" to none) + codes(CategoryKind.REFERRAL_TARGET, listOfNotNull(form.suggestedReferral)),
            form.suggestedReferral ?: "",
        )
        read += {
            form.category = category.value<String>()
            severity.value<Severity>()?.let { form.severity = it }
            form.description = description.text()
            form.atKnownPlace = known.isChecked
            form.followUp = followUp.text()
            form.suggestedReferral = referral.value<String>()?.takeIf { it.isNotEmpty() }
        }
        refill += {
            description.setText(form.description)
            followUp.setText(form.followUp)
        }
    }

    /** The choices of a kind with their labels: those offered, and retired ones the note has. */
    private fun codes(kind: CategoryKind, keeping: Collection<String>): List<Pair<String, String>> =
        labels.choicesFor(kind, keeping.toList()).map { it.code to labels.of(it.code) }

    private fun EditText.text(): String = text.toString()

    private fun showWhere() {
        val l = location
        where.text = when {
            l == null -> getString(R.string.capture_where_none)
            l.source == nl.wijkverkenner.ffi.LocationSource.MANUAL_PIN -> getString(R.string.capture_where_pin)
            else -> getString(R.string.capture_where_gps, l.accuracyM.toInt())
        }
    }

    @Deprecated("framework API; no AndroidX here")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        @Suppress("DEPRECATION")
        super.onActivityResult(requestCode, resultCode, data)
        if (requestCode != PIN_REQUEST || resultCode != RESULT_OK || data == null) return
        val pin = pinned(data.getDoubleExtra(MapActivity.LAT, 0.0), data.getDoubleExtra(MapActivity.LON, 0.0), Instant.now())
        if (::where.isInitialized) pin(pin) else pendingPin = pin
    }

    private fun pin(pin: Location) {
        pendingPin = null
        location = pin
        locationChanged = true
        showWhere()
    }

    /** Back with something typed: asked first, a note is not lost by a slip of the thumb. */
    @Deprecated("framework API; no AndroidX here")
    override fun onBackPressed() {
        val before = opened
        read.forEach { it() }
        if (before == null || (before == form.snapshot() && !locationChanged)) {
            @Suppress("DEPRECATION")
            super.onBackPressed()
            return
        }
        AlertDialog.Builder(this)
            .setMessage(R.string.capture_discard_confirm)
            .setPositiveButton(R.string.capture_discard) { _, _ -> finish() }
            .setNegativeButton(R.string.capture_keep_typing, null)
            .show()
    }

    private fun save() {
        if (saving) return
        read.forEach { it() }
        val missing = form.problems()
        if (missing.isNotEmpty()) {
            problems.text = missing.joinToString("\n") { Words.problem(this, it) }
            problems.requestFocus()
            return
        }
        // Personal data in the texts: warned once for what is typed now, replaced or kept as
        // the walker decides (a changed text is checked again).
        val found = form.personalData()
        if (found.isNotEmpty() && keptPersonalData != form.snapshot()) {
            warnPersonalData(found)
            return
        }
        val app = wijk
        saving = true
        work(app.scope, problems) {
            try {
                store(app)
            } finally {
                saving = false
            }
        }
    }

    private fun warnPersonalData(found: List<nl.wijkverkenner.ffi.PersonalDataKind>) {
        val kinds = found.map { Words.personalData(this, it) }.distinct().joinToString(", ")
        AlertDialog.Builder(this)
            .setTitle(R.string.personal_title)
            .setMessage(getString(R.string.personal_found, kinds))
            .setPositiveButton(R.string.personal_replace) { _, _ ->
                form.redactPersonalData()
                refill.forEach { it() }
                save()
            }
            .setNeutralButton(R.string.personal_keep) { _, _ ->
                keptPersonalData = form.snapshot()
                save()
            }
            .setNegativeButton(R.string.capture_keep_typing, null)
            .show()
    }

    private suspend fun store(app: WijkApp) {
        val store = app.store()
        val record = editing
        if (record == null) {
            val walk = store.activeWalk.value ?: run {
                problems.text = getString(R.string.no_walk)
                return
            }
            // The route so far first: a note without a place of its own gets the walk's
            // last good fix, which must be the latest one.
            app.flushFixes()
            store.capture(walk.id, form.body(), location)
        } else {
            store.edit(record.id, form.body(), if (locationChanged) location else null)
        }
        app.requestSync(Trigger.CAPTURE)
        setResult(RESULT_OK)
        finish()
    }

    private fun confirmDelete() {
        val record = editing ?: return
        AlertDialog.Builder(this)
            .setMessage(R.string.capture_delete_confirm)
            .setPositiveButton(R.string.capture_delete) { _, _ ->
                val app = wijk
                work(app.scope, problems) {
                    app.store().delete(record.id)
                    app.requestSync(Trigger.CAPTURE)
                    setResult(RESULT_OK)
                    finish()
                }
            }
            .setNegativeButton(R.string.cancel, null)
            .show()
    }
}
