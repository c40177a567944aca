package nl.wijkverkenner.android

import java.time.Instant
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.LocationSource

/**
 * How the location service asks for fixes while a walk runs, and how it batches them for the
 * core. The core judges plausibility (and keeps every fix); this only decides what to ask the
 * platform for and drops readings that are not positions at all.
 */
data class GpsFilterSettings(
    /** Ask the platform for a fix this often. */
    val intervalMillis: Long = 5_000,
    /** And only when the walker moved at least this far (0 = every interval). */
    val minDistanceM: Float = 0f,
    /** Hand fixes to the core in batches of this many (or at [flushMillis]). */
    val batchSize: Int = 10,
    val flushMillis: Long = 30_000,
)

/** Collects fixes and releases them in batches, so the core writes once per batch. */
class FixBatcher(private val settings: GpsFilterSettings = GpsFilterSettings()) {
    private val pending = mutableListOf<Fix>()
    private var oldest: Instant? = null

    /** Adds a platform reading; returns a batch when one is ready. Non-positions are dropped here. */
    fun add(at: Instant, lat: Double, lon: Double, accuracyM: Double, source: LocationSource): List<Fix>? {
        if (lat.isNaN() || lon.isNaN() || accuracyM.isNaN() || accuracyM < 0) return null
        if (oldest == null) oldest = at
        pending += Fix(at, lat, lon, accuracyM, source)
        val due = oldest!!.plusMillis(settings.flushMillis)
        return if (pending.size >= settings.batchSize || !at.isBefore(due)) flush() else null
    }

    /** Whatever is collected (on pause or end of a walk). */
    fun flush(): List<Fix> {
        val out = pending.toList()
        pending.clear()
        oldest = null
        return out
    }
}
