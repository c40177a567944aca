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

/**
 * Where a note made now is: the last fix when it is good enough (recent and precise), else
 * null — the capture screen then offers a pin on the map, or no location (indoors).
 */
fun usableFix(last: Fix?, now: Instant, maxAgeSeconds: Long = 120, maxAccuracyM: Double = 50.0): nl.wijkverkenner.ffi.Location? {
    if (last == null || last.accuracyM > maxAccuracyM) return null
    if (last.at.isBefore(now.minusSeconds(maxAgeSeconds)) || last.at.isAfter(now.plusSeconds(30))) return null
    return nl.wijkverkenner.ffi.Location(last.lat, last.lon, last.accuracyM, last.at, last.source)
}

/** A pin the walker placed on the map (a corrected or indoor place). */
fun pinned(lat: Double, lon: Double, at: Instant): nl.wijkverkenner.ffi.Location =
    nl.wijkverkenner.ffi.Location(lat, lon, 0.0, at, LocationSource.MANUAL_PIN)
