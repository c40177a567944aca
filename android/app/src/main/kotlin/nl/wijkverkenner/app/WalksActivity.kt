package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout
import java.time.Instant
import nl.wijkverkenner.android.localTime
import nl.wijkverkenner.ffi.Walk
import nl.wijkverkenner.ffi.WalkStatus

/** The walks this phone holds, newest first: when, what for, whether submitted or asked about. */
class WalksActivity : Activity() {
    private lateinit var col: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        col = screen(getString(R.string.past_walks))
    }

    override fun onResume() {
        super.onResume()
        while (col.childCount > 1) col.removeViewAt(1)
        val app = wijk
        val problem = col.text(16f, "", R.id.walks_problem)
        work(app.scope, problem) {
            val walks = app.store().recentWalks(100).items
            if (walks.isEmpty()) col.text(18f, getString(R.string.walks_empty), R.id.walks_empty)
            val list = LinearLayout(this@WalksActivity).apply {
                orientation = LinearLayout.VERTICAL
                id = R.id.walks_list
            }
            col.addView(list)
            list.list(walks, { line(it) }) {
                startActivity(Intent(this@WalksActivity, WalkReportActivity::class.java).putExtra(WalkReportActivity.WALK, it.id))
            }
        }
    }

    private fun line(w: Walk): String = buildList {
        add(localTime(w.started.at, Instant.now()))
        if (w.purpose.isNotBlank()) add(w.purpose)
        add(getString(when (w.status) {
            WalkStatus.ACTIVE -> R.string.walk_state_active
            WalkStatus.ENDED -> R.string.walk_state_ended
            WalkStatus.SUBMITTED -> R.string.walk_state_submitted
        }))
        if (w.reviewed != null) add(getString(R.string.record_reviewed))
        if (w.review.question != null && w.review.answer.isNullOrBlank()) add(getString(R.string.question_badge))
    }.joinToString(" · ")
}
