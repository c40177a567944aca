package nl.wijkverkenner.android

import java.time.Instant
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.SyncProblem
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
        SyncStatus(state, pending, last, null, null, null, 0u, next, 0u, emptyList())

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
    fun aNoteOrAReturningConnectionSyncsBeforeTheBackoffIsOver() {
        val policy = SyncPolicy()
        val wifi = NetworkState(connected = true, unmetered = true)
        val battery = BatteryState(80, charging = false)
        val backingOff = status(next = now.plusSeconds(300))
        assertEquals(SyncDecision.Wait(WaitReason.BACKING_OFF, now.plusSeconds(300)), policy.decide(wifi, battery, backingOff, now, Trigger.PERIODIC))
        assertEquals(SyncDecision.Now, policy.decide(wifi, battery, backingOff, now, Trigger.CAPTURE))
        assertEquals(SyncDecision.Now, policy.decide(wifi, battery, backingOff, now, Trigger.NETWORK_BACK))
        assertEquals(SyncDecision.Wait(WaitReason.NO_NETWORK), policy.decide(NetworkState(false, false), battery, status(), now, Trigger.MANUAL))
        val fresh = status(pending = 0u, last = now.minusSeconds(60))
        assertTrue(policy.decide(wifi, battery, fresh, now, Trigger.PERIODIC) is SyncDecision.Wait)
        assertEquals(SyncDecision.Now, policy.decide(wifi, battery, fresh, now, Trigger.NETWORK_BACK))
    }

    @Test
    fun syncScreenPutsTheReasonFirst() {
        val failed = SyncStatus(SyncState.FAILED, 2u, null, now, "de teamserver is niet bereikbaar", SyncProblem.UNREACHABLE, 1u, now.plusSeconds(5), 0u, emptyList())
        val s = SyncScreenState.of(failed, SyncDecision.Wait(WaitReason.NO_NETWORK))
        assertEquals(SyncHeadline.FAILED, s.headline)
        assertEquals("de teamserver is niet bereikbaar", s.details.first())
        assertEquals(SyncProblem.UNREACHABLE, s.problem)
        assertNull(SyncScreenState.of(status(), SyncDecision.Now).problem)
        assertEquals(WaitReason.NO_NETWORK, s.wait)
        assertEquals(false, s.canSyncNow)
        assertEquals(SyncHeadline.ALL_SENT, SyncScreenState.of(status(pending = 0u), SyncDecision.Now).headline)
        assertEquals(false, SyncScreenState.of(status(state = SyncState.REVOKED), SyncDecision.Now).canSyncNow)
    }

    @Test
    fun walkScreenWithoutAWalk() {
        val s = WalkScreenState.of(null, now, null)
        assertEquals(WalkAction.START, s.primaryAction)
        assertEquals(false, s.walking)
    }

    @Test
    fun textsAWalkerReads() {
        assertEquals("850 m", distanceText(850.4))
        assertEquals("1,4 km", distanceText(1420.0))
        assertEquals("1.4 km", distanceText(1420.0, english = true))
        assertEquals("1 u 35 min", durationText(java.time.Duration.ofMinutes(95)))
        assertEquals("12 min", durationText(java.time.Duration.ofMinutes(12)))
        val zone = java.time.ZoneId.of("Europe/Amsterdam")
        assertEquals("20:00", localTime(now, now, zone))
        assertEquals("27-11 20:00", localTime(now.minusSeconds(86_400), now, zone))
        val line = StatusLine.of(false, status(pending = 2u, last = now.minusSeconds(600)), now, zone)
        assertEquals(StatusLine(false, 2u, "19:50", false), line)
    }

    @Test
    fun captureFormsSayWhatIsMissingAndBuildTheBody() {
        val f = CaptureForm(Kind.CONVERSATION)
        assertEquals(listOf(CaptureForm.Problem.NO_ROLE), f.problems())
        f.roles += "role.resident"
        f.roles += "role.youth"
        f.people = 0
        assertEquals(listOf(CaptureForm.Problem.PEOPLE), f.problems())
        f.people = 3
        f.durationMin = 25
        f.gist = "  Over de speeltuin  "
        f.immediateHelp = true
        val body = f.body() as nl.wijkverkenner.ffi.RecordBody.Conversation
        assertEquals(listOf("role.resident", "role.youth"), body.conversation.roles)
        assertEquals("Over de speeltuin", body.conversation.gist)
        val s = CaptureForm(Kind.SIGNAL)
        assertEquals(listOf(CaptureForm.Problem.NO_CATEGORY), s.problems())
        s.category = "sig.other"
        s.description = "x".repeat(4001)
        assertEquals(listOf(CaptureForm.Problem.TOO_LONG), s.problems())
    }

    @Test
    fun aNoteTakesTheLastFixOnlyWhenItIsRecentAndPrecise() {
        val now = Instant.parse("2026-11-28T20:00:00Z")
        val fix = Fix(now.minusSeconds(20), 52.09, 5.12, 12.0, LocationSource.GPS)
        assertEquals(Location(52.09, 5.12, 12.0, now.minusSeconds(20), LocationSource.GPS), usableFix(fix, now))
        assertNull(usableFix(null, now))
        assertNull(usableFix(fix.copy(accuracyM = 80.0), now))
        assertNull(usableFix(fix.copy(at = now.minusSeconds(300)), now))
        assertEquals(LocationSource.MANUAL_PIN, pinned(52.1, 5.1, now).source)
    }
}
