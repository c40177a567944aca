package nl.wijkverkenner.android

import java.time.Duration
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import nl.wijkverkenner.ffi.Identity
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordLocation
import nl.wijkverkenner.ffi.SignalStatus
import nl.wijkverkenner.ffi.SyncStatus
import nl.wijkverkenner.ffi.Walk
import nl.wijkverkenner.ffi.WalkReport
import nl.wijkverkenner.ffi.WalkStatus

/** The walk screen's big button. */
enum class WalkAction { START, PAUSE, RESUME }

/** What the walk screen shows, derived from the core's walk; the screen only renders it. */
data class WalkScreenState(
    val walking: Boolean,
    val paused: Boolean,
    val elapsed: Duration,
    val distanceText: String,
    val buurten: List<String>,
    val primaryAction: WalkAction,
) {
    companion object {
        /** For a walk under way (or none), at [now], with the distance walked so far. */
        fun of(walk: Walk?, now: Instant, distanceM: Double?, english: Boolean = false): WalkScreenState {
            if (walk == null || walk.status != WalkStatus.ACTIVE) {
                return WalkScreenState(false, false, Duration.ZERO, "", emptyList(), WalkAction.START)
            }
            var paused = Duration.ZERO
            for (p in walk.pauses) {
                val until = p.until?.at ?: now
                paused = paused.plus(Duration.between(p.from.at, until))
            }
            val elapsed = Duration.between(walk.started.at, now).minus(paused).let { if (it.isNegative) Duration.ZERO else it }
            val distance = distanceM ?: walk.summary?.distanceM ?: 0.0
            return WalkScreenState(
                true,
                walk.paused,
                elapsed,
                distanceText(distance, english),
                walk.buurten,
                if (walk.paused) WalkAction.RESUME else WalkAction.PAUSE,
            )
        }
    }
}

/** Metres as a walker reads them: "850 m", "1,4 km" (Dutch decimal comma unless [english]). */
fun distanceText(m: Double, english: Boolean = false): String {
    if (m < 1000) return "${m.toInt()} m"
    val km = String.format(java.util.Locale.ROOT, "%.1f", m / 1000)
    return (if (english) km else km.replace('.', ',')) + " km"
}

/** A duration as "1 u 35 min" / "1 h 35 min" / "12 min". */
fun durationText(d: Duration, english: Boolean = false): String {
    val min = d.toMinutes().coerceAtLeast(0)
    return if (min >= 60) "${min / 60} ${if (english) "h" else "u"} ${min % 60} min" else "$min min"
}

/**
 * The main screen's line about sync: online or not, what waits, when it last worked (in the
 * phone's local time: "om 20:15" today, the date otherwise).
 */
data class StatusLine(val online: Boolean, val pending: ULong, val lastSuccess: String?, val failing: Boolean) {
    companion object {
        fun of(online: Boolean, status: SyncStatus?, now: Instant, zone: ZoneId = ZoneId.systemDefault()): StatusLine {
            val last = status?.lastSuccess?.let { localTime(it, now, zone) }
            return StatusLine(online, status?.pending ?: 0u, last, status?.failures?.let { it > 0u } ?: false)
        }
    }
}

/** "20:15" for a moment today, "28-11 20:15" on another day (local time). */
fun localTime(at: Instant, now: Instant, zone: ZoneId = ZoneId.systemDefault()): String {
    val t = at.atZone(zone)
    val sameDay = t.toLocalDate() == now.atZone(zone).toLocalDate()
    return t.format(DateTimeFormatter.ofPattern(if (sameDay) "HH:mm" else "dd-MM HH:mm"))
}

/** What the end-of-walk screen shows: the figures of the core's walk report. */
data class EndSummary(
    val duration: Duration,
    val walking: Duration,
    val distanceM: Double,
    val outsideOfficeHours: Duration,
    val outsideShare: Int,
    val buurten: List<String>,
    val records: Int,
    val flaggedFixes: UInt,
    val fixes: UInt,
) {
    companion object {
        /** From the ended [walk] and its [report]; [buurtName] names a buurt code. */
        fun of(walk: Walk, report: WalkReport, buurtName: (String) -> String): EndSummary = EndSummary(
            Duration.ofMillis(report.durationMs),
            Duration.ofMillis(report.walkingMs),
            report.distanceM,
            Duration.ofMillis(report.outsideOfficeHoursMs),
            Math.round(report.outsideOfficeHoursShare * 100).toInt(),
            report.buurten.map(buurtName),
            report.timeline.size,
            walk.summary?.flaggedFixes ?: 0u,
            walk.summary?.fixes ?: 0u,
        )
    }
}

/** Why a record can no longer be changed by its author. */
enum class Frozen { REVIEWED, REFERRED, NOT_AUTHOR }

/** What a record's screen shows and offers. */
data class RecordView(
    val what: String,
    val kind: Kind,
    val at: Instant,
    /** The note has a place of its own (a fix or a pin), not the walk's last one. */
    val located: Boolean,
    val status: SignalStatus?,
    val referral: String?,
    val question: String?,
    val answer: String?,
    /** The author may edit or delete it; otherwise why not. */
    val frozen: Frozen?,
    /** A lead asked, not yet answered, and this phone's member, the author, can answer. */
    val canAnswer: Boolean,
) {
    companion object {
        fun of(record: Record, me: Identity?, labels: Labels): RecordView {
            val author = me != null && record.authorId == me.memberId
            val frozen = when {
                !author -> Frozen.NOT_AUTHOR
                record.reviewed != null -> Frozen.REVIEWED
                record.review.status == SignalStatus.REFERRED -> Frozen.REFERRED
                else -> null
            }
            return RecordView(
                labels.what(record),
                record.body.kind(),
                record.created.at,
                record.location is RecordLocation.Fix,
                record.review.status,
                record.review.referral?.let { labels.of(it) },
                record.review.question,
                record.review.answer,
                frozen,
                author && record.review.question != null && record.review.answer.isNullOrBlank(),
            )
        }
    }
}
