package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout
import java.time.Instant
import nl.wijkverkenner.android.Labels
import nl.wijkverkenner.android.kind
import nl.wijkverkenner.android.localTime
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordBody

/** The notes of the walk under way (or of [WALK]), newest first, in words; one tap opens a note. */
class TimelineActivity : Activity() {
    companion object {
        const val WALK = "walk"
    }

    private lateinit var col: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        col = screen(getString(R.string.timeline))
    }

    override fun onResume() {
        super.onResume()
        while (col.childCount > 1) col.removeViewAt(1)
        val app = wijk
        val problem = col.text(16f, "", R.id.timeline_problem)
        work(app.scope, problem) {
            val store = app.store()
            val labels = store.labels(Words.english(this@TimelineActivity))
            val walkId = intent.getStringExtra(WALK) ?: store.activeWalk.value?.id
            val notes = if (walkId != null) store.timeline(walkId, 500).items.reversed() else store.latest(100).items
            if (notes.isEmpty()) col.text(18f, getString(R.string.timeline_empty), R.id.timeline_empty)
            val list = LinearLayout(this@TimelineActivity).apply {
                orientation = LinearLayout.VERTICAL
                id = R.id.timeline_list
            }
            col.addView(list)
            list.list(notes, { line(it, labels) }) {
                startActivity(Intent(this@TimelineActivity, RecordActivity::class.java).putExtra(RecordActivity.RECORD, it.id))
            }
        }
    }

    /** "20:15 · Signaal · Drugshandel · Acuut · vraag van je teamleider". */
    private fun line(r: Record, labels: Labels): String = buildList {
        add(localTime(r.created.at, Instant.now()))
        add(Words.kind(this@TimelineActivity, r.body.kind()))
        add(labels.what(r))
        (r.body as? RecordBody.Signal)?.let { add(Words.severity(this@TimelineActivity, it.signal.severity)) }
        r.review.status?.let { add(Words.status(this@TimelineActivity, it)) }
        if (r.reviewed != null) add(getString(R.string.record_reviewed))
        if (r.review.question != null && r.review.answer.isNullOrBlank()) add(getString(R.string.question_badge))
        if (r.pendingSync) add(getString(R.string.record_pending_short))
    }.joinToString(" · ")
}
