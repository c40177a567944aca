package nl.wijkverkenner.app

import android.app.Activity
import android.location.LocationManager
import android.os.Bundle
import android.widget.EditText
import android.widget.RadioButton
import android.widget.RadioGroup
import java.time.Instant
import nl.wijkverkenner.ffi.CategoryKind
import nl.wijkverkenner.ffi.Conversation
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.Mood
import nl.wijkverkenner.ffi.Observation
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.Signal
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.Trust

/** Quick capture in a few taps: pick a category, optionally a line of text, save. */
class CaptureActivity : Activity() {
    companion object {
        const val KIND = "kind"
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val kind = intent.getStringExtra(KIND) ?: "observation"
        val col = column()
        val picker = RadioGroup(this)
        val note = EditText(this).apply { minLines = 2 }
        col.addView(picker)
        col.addView(note)
        work(app.scope) {
            val categoryKind = when (kind) {
                "conversation" -> CategoryKind.COUNTERPART_ROLE
                "signal" -> CategoryKind.SIGNAL_CATEGORY
                else -> CategoryKind.OBSERVATION_THEME
            }
            app.store().categories(categoryKind).forEachIndexed { i, c ->
                picker.addView(RadioButton(this@CaptureActivity).apply {
                    id = i + 1
                    text = c.labelNl
                    tag = c.code
                    textSize = 20f
                })
            }
        }
        col.button(getString(R.string.capture_save)) {
            val code = picker.findViewById<RadioButton>(picker.checkedRadioButtonId)?.tag as? String ?: return@button
            val text = note.text.toString()
            val body = when (kind) {
                "conversation" -> RecordBody.Conversation(
                    Conversation(listOf(code), 1u, 10u, text, Mood.NEUTRAL, Trust.MEDIUM, "", false),
                )
                "signal" -> RecordBody.Signal(Signal(code, Severity.MEDIUM, text, false, "", null))
                else -> RecordBody.Observation(Observation(listOf(code), Tone.NEUTRAL, text))
            }
            work(app.scope) {
                val store = app.store()
                val walk = store.activeWalk.value ?: return@work
                store.capture(walk.id, body, lastFix())
                finish()
            }
        }
    }

    /** The platform's last fix, if fresh; indoors there is none and the core takes the walk's. */
    private fun lastFix(): Location? {
        val lm = getSystemService(LocationManager::class.java) ?: return null
        val fix = try {
            lm.getLastKnownLocation(LocationManager.GPS_PROVIDER)
        } catch (e: SecurityException) {
            null
        } ?: return null
        val at = Instant.ofEpochMilli(fix.time)
        if (at.isBefore(Instant.now().minusSeconds(60))) return null
        return Location(fix.latitude, fix.longitude, fix.accuracy.toDouble(), at, LocationSource.GPS)
    }
}
