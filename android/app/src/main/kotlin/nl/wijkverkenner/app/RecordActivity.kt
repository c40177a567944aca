package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout
import android.widget.TextView
import java.time.Instant
import kotlinx.coroutines.launch
import nl.wijkverkenner.android.Labels
import nl.wijkverkenner.android.RecordView
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.android.localTime
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordBody

/**
 * One note as the team sees it: what, when, where, what was written, and the lead's side —
 * the signal's status and referral, "reviewed", a question and its answer. The author answers
 * here, and edits or deletes while no lead has reviewed or referred it.
 */
class RecordActivity : Activity() {
    companion object {
        /** The long edge a photo is decoded at for the screen's row (not the whole photo). */
        private const val THUMB_PX = 320
        const val RECORD = "record"
    }

    private lateinit var col: LinearLayout
    private lateinit var problem: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        col = screen(getString(R.string.record_title))
        problem = col.text(16f, "", R.id.record_problem)
    }

    override fun onResume() {
        super.onResume()
        refresh()
    }

    /** Shown afresh after an edit, an answer or a sync; an answer being typed is kept. */
    private fun refresh() {
        val draft = col.findViewById<android.widget.EditText>(R.id.question_answer)?.text?.toString()
        while (col.childCount > 2) col.removeViewAt(2)
        val app = wijk
        val id = intent.getStringExtra(RECORD) ?: return finish()
        work(app.scope, problem) {
            val store = app.store()
            val labels = store.labels(Words.english(this@RecordActivity))
            val record = store.record(id)
            val buurt = record.buurt?.let { store.buurtName(it) }
            show(record, RecordView.of(record, store.identity(), labels), labels, buurt)
            if (!draft.isNullOrEmpty()) col.findViewById<android.widget.EditText>(R.id.question_answer)?.setText(draft)
        }
    }

    private suspend fun show(record: Record, view: RecordView, labels: Labels, buurt: String?) {
        val c = this
        // Read before the first view goes in: the screen appears whole, in one step.
        val photos = if (view.kind != nl.wijkverkenner.android.Kind.CONVERSATION) wijk.store().photos(record.id) else null
        val lines = buildList {
            add("${Words.kind(c, view.kind)} · ${view.what}")
            add(localTime(view.at, Instant.now()) + (buurt?.let { " · $it" } ?: ""))
            if (!view.located) add(getString(R.string.record_no_location))
            addAll(content(record, labels))
        }
        col.text(18f, lines.joinToString("\n"), R.id.record_body)
        col.heading(getString(R.string.record_review))
        val review = buildList {
            view.status?.let { add(getString(R.string.record_status, Words.status(c, it))) }
            view.referral?.let { add(getString(R.string.record_referral, it)) }
            if (record.reviewed != null) add(getString(R.string.record_reviewed))
            if (record.pendingSync) add(getString(R.string.record_pending))
            if (isEmpty()) add(getString(R.string.record_no_review))
        }
        col.text(18f, review.joinToString("\n"), R.id.record_review)
        view.question?.let { q ->
            col.heading(getString(R.string.question_title))
            col.text(18f, q, R.id.record_question)
            view.answer?.let { col.text(18f, getString(R.string.question_answered, it), R.id.record_answer) }
            if (view.canAnswer) answerField { text -> wijk.store().answer(record.id, text) }
        }
        val frozen = view.frozen
        if (photos != null) photos(record, photos, canAdd = frozen == null)
        if (frozen == null) {
            col.button(getString(R.string.record_edit), R.id.record_edit) {
                startActivity(Intent(c, CaptureActivity::class.java).putExtra(CaptureActivity.RECORD, record.id))
            }
        } else {
            col.text(16f, Words.frozen(c, frozen), R.id.record_frozen)
        }
    }

    /**
     * The note's photos: how many, which still wait for a connection, and — for the author's
     * own, unreviewed observation or signal — a button for the platform camera. Before the
     * first photo ever, a notice: no recognisable people or plates.
     */
    private fun photos(record: Record, photos: List<nl.wijkverkenner.ffi.Photo>, canAdd: Boolean) {
        if (photos.isEmpty() && !canAdd) return
        col.heading(getString(R.string.photo_title))
        val waiting = photos.count { !it.uploaded && it.uploadRefused == null && it.onPhone }
        val refused = photos.count { it.uploadRefused != null }
        val lines = buildList {
            add(resources.getQuantityString(R.plurals.photo_count, photos.size, photos.size))
            if (waiting > 0) add(getString(R.string.photo_waiting, waiting))
            if (refused > 0) add(getString(R.string.photo_refused, refused))
        }
        col.text(18f, lines.joinToString("\n"), R.id.photo_summary)
        // The row fills in after the screen is there (decoding takes a moment).
        val row = LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            id = R.id.photo_thumbs
        }
        col.addView(row)
        wijk.scope.launch { thumbnails(row, photos) }
        if (canAdd && photos.size < 5) {
            col.button(getString(R.string.photo_take), R.id.photo_take) { takePhoto(record.id) }
        }
    }

    /**
     * The photos themselves, small: the member's own from the phone, a colleague's as the
     * thumbnail that came with the sync (no network while the screen opens).
     */
    private suspend fun thumbnails(row: LinearLayout, photos: List<nl.wijkverkenner.ffi.Photo>) {
        val app = wijk
        for (p in photos) {
            if (isDestroyed) return
            val bytes = runCatching {
                if (p.onPhone) app.store().photo(app.serverUrl, p.id) else app.store().heldThumbnail(p.id)
            }.getOrNull() ?: continue
            val bitmap = kotlinx.coroutines.withContext(kotlinx.coroutines.Dispatchers.IO) {
                val bounds = android.graphics.BitmapFactory.Options().apply { inJustDecodeBounds = true }
                android.graphics.BitmapFactory.decodeByteArray(bytes, 0, bytes.size, bounds)
                val sample = nl.wijkverkenner.android.PhotoScale.sampleSize(bounds.outWidth, bounds.outHeight, THUMB_PX)
                android.graphics.BitmapFactory.decodeByteArray(
                    bytes, 0, bytes.size, android.graphics.BitmapFactory.Options().apply { inSampleSize = sample },
                )
            } ?: continue
            row.addView(
                android.widget.ImageView(this).apply {
                    setImageBitmap(bitmap)
                    contentDescription = getString(R.string.photo_alt)
                    adjustViewBounds = true
                    maxHeight = dp(120)
                    maxWidth = dp(160)
                    setPadding(0, 0, dp(8), 0)
                },
            )
        }
    }

    private fun takePhoto(recordId: String) {
        val prefs = getSharedPreferences("wv", MODE_PRIVATE)
        val open = {
            pendingPhoto = recordId
            try {
                startActivityForResult(Camera.intent(this), Camera.REQUEST)
            } catch (e: android.content.ActivityNotFoundException) {
                problem.text = getString(R.string.photo_no_camera)
            }
        }
        if (prefs.getBoolean("photo_notice_seen", false)) return open()
        android.app.AlertDialog.Builder(this)
            .setTitle(R.string.photo_notice_title)
            .setMessage(R.string.photo_notice)
            .setPositiveButton(R.string.photo_notice_ok) { _, _ ->
                prefs.edit().putBoolean("photo_notice_seen", true).apply()
                open()
            }
            .setNegativeButton(R.string.photo_notice_cancel, null)
            .show()
    }

    /** The record the camera is taking a photo for (one at a time). */
    private var pendingPhoto: String? = null

    override fun onSaveInstanceState(outState: Bundle) {
        super.onSaveInstanceState(outState)
        pendingPhoto?.let { outState.putString("pending_photo", it) }
    }

    override fun onRestoreInstanceState(state: Bundle) {
        super.onRestoreInstanceState(state)
        pendingPhoto = state.getString("pending_photo")
    }

    @Deprecated("The framework's own result path; no AndroidX here.")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        if (requestCode != Camera.REQUEST) return
        val recordId = pendingPhoto ?: intent.getStringExtra(RECORD)
        pendingPhoto = null
        if (resultCode != RESULT_OK || recordId == null) {
            Camera.discard(this)
            return
        }
        val app = wijk
        work(app.scope, problem) {
            val jpeg = kotlinx.coroutines.withContext(kotlinx.coroutines.Dispatchers.IO) { Camera.take(this@RecordActivity) }
            if (jpeg == null) {
                problem.text = getString(R.string.photo_none)
                return@work
            }
            app.store().attachPhoto(recordId, jpeg)
            refresh()
            // "1 waiting for a connection" until the sync has taken it; then the screen says so.
            app.requestSync(Trigger.CAPTURE)?.invokeOnCompletion { runOnUiThread { if (!isDestroyed) refresh() } }
        }
    }

    /** An answer to a lead's question, sent at once when there is a connection. */
    private fun answerField(send: suspend (String) -> Unit) {
        val field = col.field(getString(R.string.question_answer), R.id.question_answer, lines = 2)
        col.button(getString(R.string.question_send), R.id.question_send) {
            if (field.text.toString().trim().isEmpty()) {
                problem.text = getString(R.string.question_empty)
                return@button
            }
            guardPersonalData(listOf(field)) {
                val text = field.text.toString().trim()
                val app = wijk
                work(app.scope, problem) {
                    send(text)
                    field.setText("")
                    app.requestSync(Trigger.CAPTURE)
                    refresh()
                }
            }
        }
    }

    private fun content(record: Record, labels: Labels): List<String> = when (val b = record.body) {
        is RecordBody.Observation -> listOfNotNull(
            Words.tone(this, b.observation.tone),
            b.observation.note.takeIf { it.isNotBlank() },
        )
        is RecordBody.Conversation -> b.conversation.let { c ->
            listOfNotNull(
                getString(R.string.record_conversation, c.people.toInt(), c.durationMin.toInt()),
                "${Words.mood(this, c.mood)} · ${Words.trust(this, c.trust)}",
                c.gist.takeIf { it.isNotBlank() },
                c.agreements.takeIf { it.isNotBlank() }?.let { getString(R.string.record_agreements, it) },
                if (c.immediateHelp) getString(R.string.capture_immediate_help) else null,
            )
        }
        is RecordBody.Signal -> b.signal.let { s ->
            listOfNotNull(
                Words.severity(this, s.severity),
                s.description.takeIf { it.isNotBlank() },
                if (s.atKnownPlace) getString(R.string.capture_known_place) else null,
                s.followUp.takeIf { it.isNotBlank() }?.let { getString(R.string.record_follow_up, it) },
                s.suggestedReferral?.let { getString(R.string.record_suggested, labels.of(it)) },
            )
        }
    }
}
