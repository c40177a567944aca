package nl.wijkverkenner.android

import java.time.Duration
import java.time.Instant
import nl.wijkverkenner.ffi.Walk
import nl.wijkverkenner.ffi.WalkStatus

/** What the walk screen shows, derived from the core's walk; the screen only renders it. */
data class WalkScreenState(
    val walking: Boolean,
    val paused: Boolean,
    val elapsed: Duration,
    val distanceText: String,
    val buurten: List<String>,
    val primaryAction: String,
) {
    companion object {
        /** For a walk under way (or none), at [now], with the distance walked so far. */
        fun of(walk: Walk?, now: Instant, distanceM: Double?): WalkScreenState {
            if (walk == null || walk.status != WalkStatus.ACTIVE) {
                return WalkScreenState(false, false, Duration.ZERO, "", emptyList(), "Start ronde")
            }
            var paused = Duration.ZERO
            for (p in walk.pauses) {
                val until = p.until?.at ?: now
                paused = paused.plus(Duration.between(p.from.at, until))
            }
            val elapsed = Duration.between(walk.started.at, now).minus(paused).let { if (it.isNegative) Duration.ZERO else it }
            val distance = distanceM ?: walk.summary?.distanceM ?: 0.0
            val text = if (distance < 1000) "${distance.toInt()} m" else String.format(java.util.Locale.ROOT, "%.1f km", distance / 1000)
            return WalkScreenState(true, walk.paused, elapsed, text, walk.buurten, if (walk.paused) "Verder" else "Pauze")
        }
    }
}
