package nl.wijkverkenner.android

import java.time.Instant
import nl.wijkverkenner.ffi.SyncProblem
import nl.wijkverkenner.ffi.SyncState
import nl.wijkverkenner.ffi.SyncStatus

/** What the phone knows about its connection. */
data class NetworkState(val connected: Boolean, val unmetered: Boolean)

/** What the phone knows about its battery. */
data class BatteryState(val percent: Int, val charging: Boolean)

/** The team's choices about syncing, set by the administrator. */
data class SyncSettings(
    /** Only sync on Wi-Fi or other unmetered networks (for phones without a data plan). */
    val unmeteredOnly: Boolean = false,
    /** Below this battery level, sync only while charging. */
    val lowBatteryPercent: Int = 15,
)

/** What makes the phone consider a sync. */
enum class Trigger {
    /** The walker saved a note: send it while there is a connection. */
    CAPTURE,
    /** The connection came back after being gone. */
    NETWORK_BACK,
    /** The periodic background job, also after a reboot. */
    PERIODIC,
    /** The walker asked (the sync screen's button): no backoff, no battery rule. */
    MANUAL,
}

/** Why the phone does not sync now (the screen says it in the walker's language). */
enum class WaitReason { REVOKED, NO_NETWORK, WAIT_FOR_WIFI, LOW_BATTERY, BACKING_OFF, UP_TO_DATE }

/** Whether to sync now, and why not. */
sealed class SyncDecision {
    object Now : SyncDecision()
    data class Wait(val reason: WaitReason, val until: Instant? = null) : SyncDecision()
}

/**
 * When to sync — the shell's decision; how to sync is the core's. A note just saved is sent at
 * once when there is a connection; a returning connection sends what waited; the periodic job
 * keeps the phone's copy of the team fresh; the walker can always ask, except without network.
 */
class SyncPolicy(private val settings: SyncSettings = SyncSettings()) {
    fun decide(network: NetworkState, battery: BatteryState, status: SyncStatus?, now: Instant, trigger: Trigger): SyncDecision {
        val manual = trigger == Trigger.MANUAL
        if (status?.state == SyncState.REVOKED) return SyncDecision.Wait(WaitReason.REVOKED)
        if (!network.connected) return SyncDecision.Wait(WaitReason.NO_NETWORK)
        if (settings.unmeteredOnly && !network.unmetered) return SyncDecision.Wait(WaitReason.WAIT_FOR_WIFI)
        if (!battery.charging && battery.percent < settings.lowBatteryPercent && !manual) {
            return SyncDecision.Wait(WaitReason.LOW_BATTERY)
        }
        val next = status?.nextAttempt
        // A new note or a returning connection is a reason to try again before the backoff is over.
        if (trigger == Trigger.PERIODIC && next != null && next.isAfter(now)) return SyncDecision.Wait(WaitReason.BACKING_OFF, next)
        val last = status?.lastSuccess
        if (trigger == Trigger.PERIODIC && status != null && status.pending == 0uL && last != null && last.isAfter(now.minusSeconds(10 * 60))) {
            return SyncDecision.Wait(WaitReason.UP_TO_DATE, last.plusSeconds(10 * 60))
        }
        return SyncDecision.Now
    }

    /** The manual form of [decide] (kept for callers that only know "asked or not"). */
    fun decide(network: NetworkState, battery: BatteryState, status: SyncStatus?, now: Instant, manual: Boolean = false): SyncDecision =
        decide(network, battery, status, now, if (manual) Trigger.MANUAL else Trigger.PERIODIC)
}

/** The sync screen's headline, which the screen words in the walker's language. */
enum class SyncHeadline { NEVER, REVOKED, FAILED, ALL_SENT, PENDING }

/**
 * What the sync status screen shows: the headline, why the last sync failed ([problem], which
 * the screen words), how many changes the team kept its own way ([refused]), why the phone
 * waits, and the core's own sentences as technical details (in English, the reason first).
 */
data class SyncScreenState(
    val headline: SyncHeadline,
    val pending: ULong,
    val problem: SyncProblem?,
    val refused: Int,
    val details: List<String>,
    val wait: WaitReason?,
    val canSyncNow: Boolean,
) {
    companion object {
        fun of(status: SyncStatus?, decision: SyncDecision): SyncScreenState {
            val wait = (decision as? SyncDecision.Wait)?.reason
            if (status == null) return SyncScreenState(SyncHeadline.NEVER, 0u, null, 0, emptyList(), wait, decision is SyncDecision.Now)
            val headline = when {
                status.state == SyncState.REVOKED -> SyncHeadline.REVOKED
                status.state == SyncState.FAILED -> SyncHeadline.FAILED
                status.pending == 0uL -> SyncHeadline.ALL_SENT
                else -> SyncHeadline.PENDING
            }
            val details = buildList {
                status.lastError?.let { add(it) }
                addAll(status.refused)
            }
            val problem = if (status.state == SyncState.FAILED) status.problem ?: SyncProblem.OTHER else null
            return SyncScreenState(
                headline,
                status.pending,
                problem,
                status.refused.size,
                details,
                wait,
                status.state != SyncState.REVOKED && wait != WaitReason.NO_NETWORK,
            )
        }
    }
}
