package nl.wijkverkenner.app

import android.app.Activity
import android.os.Bundle
import android.widget.Button
import android.widget.TextView
import java.time.Instant
import nl.wijkverkenner.android.SyncPolicy
import nl.wijkverkenner.android.SyncScreenState
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.android.localTime

/**
 * Sync as the walker sees it: what waits, when it last worked, why the last try failed and why
 * the phone waits — all in the walker's language — and a button to try now.
 */
class SyncActivity : Activity() {
    private lateinit var state: TextView
    private lateinit var now: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val col = screen(getString(R.string.sync))
        state = col.text(18f, "", R.id.sync_state)
        now = col.button(getString(R.string.sync_now), R.id.sync_now) {
            val app = wijk
            now.isEnabled = false
            work(app.scope, state) {
                try {
                    app.requestSync(Trigger.MANUAL)?.join()
                } finally {
                    render()
                }
            }
        }
    }

    override fun onResume() {
        super.onResume()
        work(wijk.scope, state) { render() }
    }

    private suspend fun render() {
        val app = wijk
        // A revoked phone was wiped: nothing to show, and no store to open again.
        if (!app.enrolled) return finish()
        val status = app.store().refreshSyncStatus()
        val s = SyncScreenState.of(status, SyncPolicy().decide(app.network(), app.battery(), status, Instant.now(), Trigger.MANUAL))
        state.text = buildList {
            add(Words.headline(this@SyncActivity, s.headline, s.pending))
            s.problem?.let { add(Words.problem(this@SyncActivity, it)) }
            if (s.refused > 0) add(getString(R.string.sync_refused, s.refused))
            status.lastSuccess?.let { add(getString(R.string.last_sync, localTime(it, Instant.now()))) }
            s.wait?.let { add(Words.wait(this@SyncActivity, it)) }
            if (status.unreadable > 0u) add(getString(R.string.sync_unreadable))
        }.joinToString("\n")
        now.isEnabled = s.canSyncNow
    }
}
