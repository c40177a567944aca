package nl.wijkverkenner.app

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.TextView
import java.time.Instant
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import nl.wijkverkenner.android.Kind
import nl.wijkverkenner.android.StatusLine
import nl.wijkverkenner.android.WalkAction
import nl.wijkverkenner.android.WalkScreenState
import nl.wijkverkenner.android.durationText
import nl.wijkverkenner.android.usableFix
import nl.wijkverkenner.ffi.WvException

/**
 * The walk screen: online or not, what waits, the last sync; the walk under way (time, distance,
 * buurten) with pause and end; three big buttons to note something; the notes, past walks,
 * the map and sync one tap away.
 */
class MainActivity : Activity() {
    private var watching: Job? = null
    private lateinit var status: TextView
    private lateinit var walkLine: TextView
    private lateinit var primary: Button
    private lateinit var end: Button
    private lateinit var captures: List<Button>
    private lateinit var map: Button
    private lateinit var questions: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val col = screen(getString(R.string.app_name))
        status = col.text(16f, "", R.id.status_line)
        walkLine = col.text(22f, "", R.id.walk_status)
        primary = col.button(getString(R.string.walk_start), R.id.primary_action) { onPrimary() }
        captures = listOf(
            col.button(getString(R.string.capture_observation), R.id.capture_observation) { capture(Kind.OBSERVATION) },
            col.button(getString(R.string.capture_conversation), R.id.capture_conversation) { capture(Kind.CONVERSATION) },
            col.button(getString(R.string.capture_signal), R.id.capture_signal) { capture(Kind.SIGNAL) },
        )
        map = col.button(getString(R.string.map), R.id.map_button) { startActivity(Intent(this, MapActivity::class.java)) }
        end = col.button(getString(R.string.walk_end), R.id.end_walk) { startActivity(Intent(this, EndWalkActivity::class.java)) }
        questions = col.button(getString(R.string.questions), R.id.questions_button) {
            startActivity(Intent(this, QuestionsActivity::class.java))
        }.apply { visibility = View.GONE }
        col.button(getString(R.string.timeline), R.id.timeline_button) { startActivity(Intent(this, TimelineActivity::class.java)) }
        col.button(getString(R.string.past_walks), R.id.walks_button) { startActivity(Intent(this, WalksActivity::class.java)) }
        col.button(getString(R.string.sync), R.id.sync_button) { startActivity(Intent(this, SyncActivity::class.java)) }
    }

    override fun onResume() {
        super.onResume()
        val app = wijk
        if (!app.enrolled) {
            startActivity(Intent(this, EnrolActivity::class.java))
            finish()
            return
        }
        val wipes = app.wiped.value
        watching = work(app.scope, status) {
            val store = app.store()
            store.refreshSyncStatus()
            // A walk under way records its route: the service again after the system stopped it
            // (a restart in the background may not start it; the walker opening the app does).
            if (store.activeWalk.value?.paused == false) app.startRoute()
            var tick = 0
            // Re-render every second while the screen shows: the walk's time moves on its own.
            while (true) {
                if (app.wiped.value != wipes || !app.enrolled) {
                    startActivity(Intent(this@MainActivity, EnrolActivity::class.java))
                    finish()
                    return@work
                }
                try {
                    render(store.activeWalk.value?.let { it to store.distanceM(it.id) }, store.syncStatus.value)
                    // The questions badge less often: it reads the walks and notes.
                    if (tick++ % 15 == 0) badge(store.openQuestions().size)
                } catch (e: WvException.Closed) {
                    // Wiped meanwhile: the next round goes to enrolment.
                } catch (e: WvException.Locked) {
                    // Not synced for longer than the team allows: say so, offer the sync only.
                    renderLocked(store.syncStatus.value)
                }
                delay(1_000)
            }
        }
    }

    override fun onPause() {
        watching?.cancel()
        super.onPause()
    }

    private fun render(walk: Pair<nl.wijkverkenner.ffi.Walk, Double>?, sync: nl.wijkverkenner.ffi.SyncStatus?) {
        val app = wijk
        val english = Words.english(this)
        val line = StatusLine.of(app.online.value, sync, Instant.now())
        status.text = listOfNotNull(
            getString(if (line.online) R.string.online else R.string.offline),
            if (line.pending > 0u) getString(R.string.sync_pending, line.pending.toInt()) else getString(R.string.sync_all_sent),
            line.lastSuccess?.let { getString(R.string.last_sync, it) } ?: getString(R.string.sync_never),
            if (line.failing) getString(R.string.sync_failed) else null,
        ).joinToString(" · ")
        val state = WalkScreenState.of(walk?.first, Instant.now(), walk?.second, Words.english(this))
        walkLine.text = if (state.walking) {
            val paused = if (state.paused) " · " + getString(R.string.walk_paused) else ""
            val route = if (!app.locationAllowed()) {
                " · " + getString(R.string.walk_no_route)
            } else {
                ""
            }
            // Walking with the location allowed but no precise fix lately: a note gets no place
            // of its own, and the walker should know before noting.
            val gps = if (route.isEmpty() && !state.paused && usableFix(app.lastFix, Instant.now()) == null) {
                " · " + getString(R.string.walk_gps_searching)
            } else {
                ""
            }
            "${durationText(state.elapsed, english)} · ${state.distanceText}$paused$route$gps"
        } else {
            getString(R.string.no_walk)
        }
        primary.text = getString(when (state.primaryAction) {
            WalkAction.START -> R.string.walk_start
            WalkAction.PAUSE -> R.string.walk_pause
            WalkAction.RESUME -> R.string.walk_resume
        })
        val visible = if (state.walking) View.VISIBLE else View.GONE
        primary.visibility = View.VISIBLE
        for (b in captures + end) b.visibility = visible
        map.visibility = visible
    }

    private fun renderLocked(sync: nl.wijkverkenner.ffi.SyncStatus?) {
        val line = StatusLine.of(wijk.online.value, sync, Instant.now())
        status.text = line.lastSuccess?.let { getString(R.string.last_sync, it) } ?: getString(R.string.sync_never)
        walkLine.text = getString(R.string.notes_locked)
        for (b in captures + end + listOf(primary, map, questions)) b.visibility = View.GONE
    }

    private fun badge(open: Int) {
        questions.visibility = if (open > 0) View.VISIBLE else View.GONE
        questions.text = getString(R.string.questions_badge, open)
    }

    private fun onPrimary() {
        val app = wijk
        work(app.scope) {
            val store = app.store()
            val walk = store.activeWalk.value
            when {
                walk == null -> startActivity(Intent(this@MainActivity, StartWalkActivity::class.java))
                walk.paused -> {
                    store.resumeWalk(walk.id)
                    app.startRoute()
                }
                else -> {
                    // A pause records no route: the service stops, what it collected is kept.
                    stopService(Intent(this@MainActivity, WalkLocationService::class.java))
                    app.flushFixes()
                    store.pauseWalk(walk.id)
                }
            }
        }
    }

    private fun capture(kind: Kind) {
        startActivity(Intent(this, CaptureActivity::class.java).putExtra(CaptureActivity.KIND, kind.name))
    }
}
