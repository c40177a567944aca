package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.view.View
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.RadioGroup
import android.widget.TextView
import nl.wijkverkenner.android.DebriefForm
import nl.wijkverkenner.android.EndSummary
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.ffi.Logic
import nl.wijkverkenner.ffi.Walk
import nl.wijkverkenner.ffi.WalkStatus

/**
 * The end of a walk: asked once more (a mis-tap on a cold street must not end it), then the
 * route's last fixes go to the core, the walk ends, and the summary shows — time, walking
 * time, distance, time outside office hours, buurten, notes, unreliable GPS points. Then the
 * debrief (which logic dominated, a note) and submit. Opened with [WALK], it shows an ended
 * walk that waits to be submitted.
 */
class EndWalkActivity : Activity() {
    companion object {
        const val WALK = "walk"
    }

    private lateinit var col: LinearLayout
    private lateinit var problem: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        col = screen(getString(R.string.walk_end))
        problem = col.text(16f, "", R.id.end_problem)
        val walkId = intent.getStringExtra(WALK)
        if (walkId != null) {
            work(app.scope, problem) { summary(app.store().walk(walkId)) }
            return
        }
        val question = col.text(18f, getString(R.string.end_confirm_question), R.id.end_question)
        lateinit var cancel: View
        val confirm = col.button(getString(R.string.end_confirm), R.id.end_confirm) { button ->
            button.isEnabled = false
            // A failure (shown under the question) leaves the button to try again.
            work(app.scope, problem) {
                try {
                    end(app, question, button, cancel)
                } finally {
                    button.isEnabled = true
                }
            }
        }
        cancel = col.button(getString(R.string.cancel), R.id.end_cancel) { finish() }
        confirm.requestFocus()
    }

    private suspend fun end(app: WijkApp, question: View, button: View, cancel: View) {
        val store = app.store()
        val walk = store.activeWalk.value
        if (walk == null) {
            problem.text = getString(R.string.no_walk)
            return
        }
        // The last batch of the route first: nothing of the walk may be lost at its end.
        app.flushFixes()
        stopService(Intent(this@EndWalkActivity, WalkLocationService::class.java))
        app.flushFixes()
        val ended = store.endWalk(walk.id)
        for (v in listOf(question, button, cancel)) v.visibility = View.GONE
        app.requestSync(Trigger.CAPTURE)
        summary(ended)
    }

    private suspend fun summary(walk: Walk) {
        val app = wijk
        val store = app.store()
        val report = store.walkReport(walk.id)
        val names = report.buurten.associateWith { store.buurtName(it) }
        val s = EndSummary.of(walk, report) { names[it] ?: it }
        col.heading(getString(R.string.end_summary))
        val lines = Words.summary(this, s)
        col.text(18f, lines.joinToString("\n"), R.id.end_summary)
        if (walk.status == WalkStatus.SUBMITTED) {
            col.text(18f, getString(R.string.end_submitted), R.id.end_state)
            return
        }
        debrief(walk)
    }

    private fun debrief(walk: Walk) {
        val form = DebriefForm().apply {
            dominant = walk.debrief?.dominant
            note = walk.debrief?.note ?: ""
        }
        col.heading(getString(R.string.debrief_title))
        col.text(16f, getString(R.string.debrief_intro))
        val logic: RadioGroup = col.choice(
            R.id.debrief_logic,
            Logic.entries.map { it to Words.logic(this, it) },
            form.dominant,
        )
        val note: EditText = col.field(getString(R.string.debrief_note), R.id.debrief_note, form.note, lines = 3)
        col.button(getString(R.string.end_submit), R.id.end_submit) { button ->
            guardPersonalData(listOf(note)) {
                button.isEnabled = false
                val app = wijk
                form.dominant = logic.value<Logic>()
                form.note = note.text.toString()
                work(app.scope, problem) {
                    try {
                        val store = app.store()
                        if (!form.isEmpty) store.debrief(walk.id, form.debrief())
                        store.submitWalk(walk.id)
                        app.requestSync(Trigger.CAPTURE)
                        finish()
                    } finally {
                        button.isEnabled = true
                    }
                }
            }
        }
        col.button(getString(R.string.end_later), R.id.end_later) {
            guardPersonalData(listOf(note)) {
                val app = wijk
                form.dominant = logic.value<Logic>()
                form.note = note.text.toString()
                work(app.scope, problem) {
                    if (!form.isEmpty) app.store().debrief(walk.id, form.debrief())
                    finish()
                }
            }
        }
    }
}
