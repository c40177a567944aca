package nl.wijkverkenner.android

import java.time.Instant
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

/** Whether to sync now, and why (the sync screen shows the reason). */
sealed class SyncDecision {
    object Now : SyncDecision()
    data class Wait(val reason: String, val until: Instant? = null) : SyncDecision()
}

/**
 * When to sync — the shell's decision; how to sync is the core's. A manual sync (the user
 * pulls to refresh) ignores the backoff but not the absence of a network.
 */
class SyncPolicy(private val settings: SyncSettings = SyncSettings()) {
    fun decide(network: NetworkState, battery: BatteryState, status: SyncStatus?, now: Instant, manual: Boolean = false): SyncDecision {
        if (status?.state == SyncState.REVOKED) return SyncDecision.Wait("Deze telefoon is uit het team verwijderd")
        if (!network.connected) return SyncDecision.Wait("Geen verbinding")
        if (settings.unmeteredOnly && !network.unmetered) return SyncDecision.Wait("Wacht op wifi (teaminstelling)")
        if (!battery.charging && battery.percent < settings.lowBatteryPercent && !manual) {
            return SyncDecision.Wait("Batterij bijna leeg: synchroniseert tijdens het laden")
        }
        val next = status?.nextAttempt
        if (!manual && next != null && next.isAfter(now)) return SyncDecision.Wait("Nieuwe poging na een storing", next)
        val last = status?.lastSuccess
        if (!manual && status != null && status.pending == 0uL && last != null && last.isAfter(now.minusSeconds(15 * 60))) {
            return SyncDecision.Wait("Alles is al bijgewerkt", last.plusSeconds(15 * 60))
        }
        return SyncDecision.Now
    }
}

/** What the sync status screen shows: lines in the walker's language, the reason first. */
data class SyncScreenState(val headline: String, val lines: List<String>, val canSyncNow: Boolean) {
    companion object {
        fun of(status: SyncStatus?, decision: SyncDecision): SyncScreenState {
            if (status == null) return SyncScreenState("Nog niet gesynchroniseerd", emptyList(), decision is SyncDecision.Now)
            val headline = when {
                status.state == SyncState.REVOKED -> "Deze telefoon is uit het team verwijderd"
                status.state == SyncState.FAILED -> "Synchroniseren lukte niet"
                status.pending == 0uL -> "Alles is verstuurd"
                else -> "${status.pending} wachten op verzending"
            }
            val lines = buildList {
                status.lastError?.let { add(it) }
                addAll(status.refused)
                status.lastSuccess?.let { add("Laatst gelukt: $it") }
                if (decision is SyncDecision.Wait) add(decision.reason)
                if (status.unreadable > 0u) add("${status.unreadable} wijzigingen van het team vragen een nieuwere app")
            }
            return SyncScreenState(headline, lines, status.state != SyncState.REVOKED)
        }
    }
}
