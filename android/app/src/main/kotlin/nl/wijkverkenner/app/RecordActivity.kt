package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.widget.LinearLayout
import android.widget.TextView
import java.time.Instant
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

    private fun show(record: Record, view: RecordView, labels: Labels, buurt: String?) {
        val c = this
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
        if (frozen == null) {
            col.button(getString(R.string.record_edit), R.id.record_edit) {
                startActivity(Intent(c, CaptureActivity::class.java).putExtra(CaptureActivity.RECORD, record.id))
            }
        } else {
            col.text(16f, Words.frozen(c, frozen), R.id.record_frozen)
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
