package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout

/** The lead's questions waiting for the walker's answer; one tap opens the note or the walk. */
class QuestionsActivity : Activity() {
    private lateinit var col: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        col = screen(getString(R.string.questions))
    }

    override fun onResume() {
        super.onResume()
        while (col.childCount > 1) col.removeViewAt(1)
        val app = wijk
        val problem = col.text(16f, "", R.id.questions_problem)
        work(app.scope, problem) {
            val questions = app.store().openQuestions()
            if (questions.isEmpty()) col.text(18f, getString(R.string.questions_none), R.id.questions_none)
            val list = LinearLayout(this@QuestionsActivity).apply {
                orientation = LinearLayout.VERTICAL
                id = R.id.questions_list
            }
            col.addView(list)
            list.list(questions, { q ->
                getString(if (q.recordId != null) R.string.question_about_note else R.string.question_about_walk, q.question)
            }) { q ->
                val open = if (q.recordId != null) {
                    Intent(this@QuestionsActivity, RecordActivity::class.java).putExtra(RecordActivity.RECORD, q.recordId)
                } else {
                    Intent(this@QuestionsActivity, WalkReportActivity::class.java).putExtra(WalkReportActivity.WALK, q.walkId)
                }
                startActivity(open)
            }
        }
    }
}
