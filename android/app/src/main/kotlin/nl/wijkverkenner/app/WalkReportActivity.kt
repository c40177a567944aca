package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout
import android.widget.TextView
import nl.wijkverkenner.android.EndSummary
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.ffi.WalkStatus

/**
 * A walk's report, the core's figures as the review pages show them: the summary, the debrief,
 * the lead's question about the walk (answerable by its walker), and its notes and map.
 */
class WalkReportActivity : Activity() {
    companion object {
        const val WALK = "walk"
    }

    private lateinit var col: LinearLayout
    private lateinit var problem: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        col = screen(getString(R.string.walk_report))
        problem = col.text(16f, "", R.id.report_problem)
    }

    override fun onResume() {
        super.onResume()
        refresh()
    }

    /** Shown afresh on return and after an answer; an answer being typed is kept. */
    private fun refresh() {
        val draft = col.findViewById<android.widget.EditText>(R.id.question_answer)?.text?.toString()
        while (col.childCount > 2) col.removeViewAt(2)
        val app = wijk
        val id = intent.getStringExtra(WALK) ?: return finish()
        work(app.scope, problem) {
            val store = app.store()
            val walk = store.walk(id)
            val report = store.walkReport(id)
            val names = report.buurten.associateWith { store.buurtName(it) }
            val mine = store.identity()?.memberId == walk.authorId
            if (walk.purpose.isNotBlank()) col.text(20f, walk.purpose, R.id.report_purpose)
            col.text(18f, Words.summary(this@WalkReportActivity, EndSummary.of(walk, report) { names[it] ?: it }).joinToString("\n"), R.id.report_summary)
            walk.debrief?.let { d ->
                col.heading(getString(R.string.debrief_title))
                val lines = listOfNotNull(d.dominant?.let { Words.logic(this@WalkReportActivity, it) }, d.note.takeIf { it.isNotBlank() })
                col.text(18f, lines.joinToString("\n"), R.id.report_debrief)
            }
            if (walk.reviewed != null) col.text(18f, getString(R.string.walk_reviewed), R.id.report_reviewed)
            walk.review.question?.let { q ->
                col.heading(getString(R.string.question_title))
                col.text(18f, q, R.id.report_question)
                walk.review.answer?.takeIf { it.isNotBlank() }?.let { col.text(18f, getString(R.string.question_answered, it), R.id.report_answer) }
                if (mine && walk.review.answer.isNullOrBlank()) {
                    val field = col.field(getString(R.string.question_answer), R.id.question_answer, lines = 2)
                    if (!draft.isNullOrEmpty()) field.setText(draft)
                    col.button(getString(R.string.question_send), R.id.question_send) {
                        if (field.text.toString().trim().isEmpty()) {
                            problem.text = getString(R.string.question_empty)
                            return@button
                        }
                        guardPersonalData(listOf(field)) {
                            val text = field.text.toString().trim()
                            work(app.scope, problem) {
                                app.store().answerWalk(id, text)
                                field.setText("")
                                app.requestSync(Trigger.CAPTURE)
                                refresh()
                            }
                        }
                    }
                }
            }
            if (mine && walk.status == WalkStatus.ENDED) {
                col.button(getString(R.string.end_submit), R.id.report_submit) {
                    startActivity(Intent(this@WalkReportActivity, EndWalkActivity::class.java).putExtra(EndWalkActivity.WALK, id))
                }
            }
            col.button(getString(R.string.timeline), R.id.report_timeline) {
                startActivity(Intent(this@WalkReportActivity, TimelineActivity::class.java).putExtra(TimelineActivity.WALK, id))
            }
            col.button(getString(R.string.map), R.id.report_map) {
                startActivity(Intent(this@WalkReportActivity, MapActivity::class.java).putExtra(MapActivity.WALK, id))
            }
        }
    }
}
