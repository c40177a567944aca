package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import java.time.Instant
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.launch
import nl.wijkverkenner.android.WalkScreenState

/** The walk screen: start, pause, end; live duration and distance; quick capture. */
class MainActivity : Activity() {
    private var watching: Job? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val col = column()
        val status = col.text(24f)
        val details = col.text(16f)
        val primary = col.button(getString(R.string.walk_start)) {}
        col.button(getString(R.string.capture_observation)) { capture("observation") }
        col.button(getString(R.string.capture_conversation)) { capture("conversation") }
        col.button(getString(R.string.capture_signal)) { capture("signal") }
        val end = col.button(getString(R.string.walk_end)) {}
        col.button(getString(R.string.timeline)) { startActivity(Intent(this, TimelineActivity::class.java)) }
        col.button(getString(R.string.sync)) { startActivity(Intent(this, SyncActivity::class.java)) }

        watching = app.scope.launch {
            val store = app.store()
            if (store.identity() == null) {
                startActivity(Intent(this@MainActivity, EnrolActivity::class.java))
                return@launch
            }
            // Re-render every second while a walk runs: the duration moves on its own.
            launch {
                while (true) {
                    val walk = store.activeWalk.value
                    val state = WalkScreenState.of(walk, Instant.now(), walk?.let { store.distanceM(it.id) })
                    status.text = if (state.walking) "${state.elapsed.toMinutes()} min · ${state.distanceText}" else ""
                    details.text = walk?.purpose ?: ""
                    primary.text = state.primaryAction
                    end.isEnabled = state.walking
                    delay(1_000)
                }
            }
            store.activeWalk.collectLatest { walk ->
                primary.setOnClickListener {
                    work(app.scope) {
                        when {
                            walk == null -> {
                                store.startWalk(purpose = "Wijkverkenning")
                                startForegroundService(Intent(this@MainActivity, WalkLocationService::class.java))
                            }
                            walk.paused -> store.resumeWalk(walk.id)
                            else -> store.pauseWalk(walk.id)
                        }
                    }
                }
                end.setOnClickListener {
                    if (walk != null) {
                        work(app.scope) {
                            stopService(Intent(this@MainActivity, WalkLocationService::class.java))
                            store.endWalk(walk.id)
                        }
                    }
                }
            }
        }
    }

    private fun capture(kind: String) {
        startActivity(Intent(this, CaptureActivity::class.java).putExtra(CaptureActivity.KIND, kind))
    }

    override fun onDestroy() {
        watching?.cancel()
        super.onDestroy()
    }
}
