package nl.wijkverkenner.android

import java.time.Instant
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.SyncState
import nl.wijkverkenner.ffi.SyncStatus
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/** The shell's own logic, pure Kotlin. */
class PolicyTest {
    private val now = Instant.parse("2026-11-28T19:00:00Z")
    private fun status(pending: ULong = 3u, next: Instant? = null, state: SyncState = SyncState.IDLE, last: Instant? = null) =
        SyncStatus(state, pending, last, null, null, 0u, next, 0u, emptyList())

    @Test
    fun syncPolicyWaitsForTheRightReasons() {
        val policy = SyncPolicy(SyncSettings(unmeteredOnly = true))
        val wifi = NetworkState(connected = true, unmetered = true)
        val mobile = NetworkState(connected = true, unmetered = false)
        val battery = BatteryState(80, charging = false)
        assertEquals(SyncDecision.Now, policy.decide(wifi, battery, status(), now))
        assertTrue(policy.decide(mobile, battery, status(), now) is SyncDecision.Wait)
        assertTrue(policy.decide(NetworkState(false, false), battery, status(), now) is SyncDecision.Wait)
        val backoff = policy.decide(wifi, battery, status(next = now.plusSeconds(60)), now)
        assertEquals(now.plusSeconds(60), (backoff as SyncDecision.Wait).until)
        assertEquals(SyncDecision.Now, policy.decide(wifi, battery, status(next = now.plusSeconds(60)), now, manual = true))
        assertTrue(policy.decide(wifi, BatteryState(5, false), status(), now) is SyncDecision.Wait)
        assertEquals(SyncDecision.Now, policy.decide(wifi, BatteryState(5, true), status(), now))
        assertTrue(policy.decide(wifi, battery, status(state = SyncState.REVOKED), now, manual = true) is SyncDecision.Wait)
        assertTrue(policy.decide(wifi, battery, status(pending = 0u, last = now.minusSeconds(60)), now) is SyncDecision.Wait)
    }

    @Test
    fun fixesAreBatchedAndNonPositionsDropped() {
        val b = FixBatcher(GpsFilterSettings(batchSize = 3, flushMillis = 60_000))
        assertNull(b.add(now, 52.0, 5.0, 5.0, LocationSource.GPS))
        assertNull(b.add(now.plusSeconds(5), Double.NaN, 5.0, 5.0, LocationSource.GPS))
        assertNull(b.add(now.plusSeconds(10), 52.0, 5.0, 5.0, LocationSource.GPS))
        assertEquals(3, b.add(now.plusSeconds(15), 52.0, 5.0, 5.0, LocationSource.GPS)?.size)
        assertNull(b.add(now.plusSeconds(20), 52.0, 5.0, 5.0, LocationSource.GPS))
        assertEquals(2, b.add(now.plusSeconds(90), 52.0, 5.0, 5.0, LocationSource.GPS)?.size)
        assertEquals(0, b.flush().size)
    }

    @Test
    fun syncScreenPutsTheReasonFirst() {
        val failed = SyncStatus(SyncState.FAILED, 2u, null, now, "de teamserver is niet bereikbaar", 1u, now.plusSeconds(5), 0u, emptyList())
        val s = SyncScreenState.of(failed, SyncDecision.Wait("Geen verbinding"))
        assertEquals("Synchroniseren lukte niet", s.headline)
        assertEquals("de teamserver is niet bereikbaar", s.lines.first())
        assertTrue(s.lines.contains("Geen verbinding"))
        assertEquals("Alles is verstuurd", SyncScreenState.of(status(pending = 0u), SyncDecision.Now).headline)
        assertEquals(false, SyncScreenState.of(status(state = SyncState.REVOKED), SyncDecision.Now).canSyncNow)
    }

    @Test
    fun walkScreenWithoutAWalk() {
        val s = WalkScreenState.of(null, now, null)
        assertEquals("Start ronde", s.primaryAction)
        assertEquals(false, s.walking)
    }
}
