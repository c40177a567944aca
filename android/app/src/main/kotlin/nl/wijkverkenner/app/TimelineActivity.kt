package nl.wijkverkenner.app

import android.app.Activity
import android.os.Bundle
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import nl.wijkverkenner.ffi.RecordBody

/** The walk's timeline: what was noted, when and where, and what the lead asked. */
class TimelineActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val col = column()
        val time = DateTimeFormatter.ofPattern("HH:mm")
        work(app.scope) {
            val store = app.store()
            val page = store.activeWalk.value?.let { store.timeline(it.id) } ?: store.latest(50)
            for (r in page.items) {
                val what = when (val b = r.body) {
                    is RecordBody.Observation -> b.observation.themes.joinToString()
                    is RecordBody.Conversation -> b.conversation.roles.joinToString()
                    is RecordBody.Signal -> b.signal.category
                }
                val at = r.created.at.atOffset(ZoneOffset.ofTotalSeconds(r.created.utcOffsetSeconds)).format(time)
                val question = r.review.question?.let { "\n  ? $it" } ?: ""
                col.text(18f, "$at  $what  ${r.buurt ?: ""}${if (r.pendingSync) "  ⇡" else ""}$question")
            }
        }
    }
}
