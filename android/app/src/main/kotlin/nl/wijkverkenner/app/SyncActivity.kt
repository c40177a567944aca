package nl.wijkverkenner.app

import android.app.Activity
import android.os.Bundle
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.launch
import nl.wijkverkenner.android.SyncDecision
import nl.wijkverkenner.android.SyncScreenState

/** The sync status: what waits, when it last worked, and why it failed if it did. */
class SyncActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val col = column()
        val view = col.text(18f)
        col.button(getString(R.string.sync_now)) {
            work(app.scope) { app.store().sync(app.serverUrl) }
        }
        app.scope.launch {
            val store = app.store()
            store.refreshSyncStatus()
            store.syncStatus.collectLatest { s ->
                val screen = SyncScreenState.of(s, SyncDecision.Now)
                view.text = (listOf(screen.headline) + screen.lines).joinToString("\n")
            }
        }
    }
}
