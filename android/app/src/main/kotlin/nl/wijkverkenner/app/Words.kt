package nl.wijkverkenner.app

import android.content.Context
import nl.wijkverkenner.android.CaptureForm
import nl.wijkverkenner.android.EndSummary
import nl.wijkverkenner.android.distanceText
import nl.wijkverkenner.android.durationText
import nl.wijkverkenner.android.Frozen
import nl.wijkverkenner.android.Kind
import nl.wijkverkenner.android.SyncHeadline
import nl.wijkverkenner.android.WaitReason
import nl.wijkverkenner.ffi.PersonalDataKind
import nl.wijkverkenner.ffi.Logic
import nl.wijkverkenner.ffi.Mood
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.SignalStatus
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.SyncProblem
import nl.wijkverkenner.ffi.Trust
import nl.wijkverkenner.ffi.WvException

/** The library's states in the walker's language (the strings live in the app's resources). */
object Words {
    fun tone(c: Context, t: Tone) = c.getString(when (t) {
        Tone.POSITIVE -> R.string.tone_positive
        Tone.NEUTRAL -> R.string.tone_neutral
        Tone.CONCERN -> R.string.tone_concern
    })

    fun mood(c: Context, m: Mood) = c.getString(when (m) {
        Mood.HOSTILE -> R.string.mood_hostile
        Mood.TENSE -> R.string.mood_tense
        Mood.NEUTRAL -> R.string.mood_neutral
        Mood.OPEN -> R.string.mood_open
        Mood.WARM -> R.string.mood_warm
    })

    fun trust(c: Context, t: Trust) = c.getString(when (t) {
        Trust.LOW -> R.string.trust_low
        Trust.MEDIUM -> R.string.trust_medium
        Trust.HIGH -> R.string.trust_high
    })

    fun severity(c: Context, s: Severity) = c.getString(when (s) {
        Severity.LOW -> R.string.severity_low
        Severity.MEDIUM -> R.string.severity_medium
        Severity.HIGH -> R.string.severity_high
        Severity.ACUTE -> R.string.severity_acute
    })

    fun status(c: Context, s: SignalStatus) = c.getString(when (s) {
        SignalStatus.NEW -> R.string.status_new
        SignalStatus.IN_REVIEW -> R.string.status_in_review
        SignalStatus.REFERRED -> R.string.status_referred
        SignalStatus.CLOSED -> R.string.status_closed
    })

    fun logic(c: Context, l: Logic) = c.getString(when (l) {
        Logic.INSTITUTIONAL -> R.string.logic_institutional
        Logic.SITUATIONAL -> R.string.logic_situational
        Logic.INSTRUMENTAL -> R.string.logic_instrumental
        Logic.CULTURAL -> R.string.logic_cultural
    })

    fun kind(c: Context, k: Kind) = c.getString(when (k) {
        Kind.OBSERVATION -> R.string.capture_observation
        Kind.CONVERSATION -> R.string.capture_conversation
        Kind.SIGNAL -> R.string.capture_signal
    })

    fun personalData(c: Context, k: PersonalDataKind) = c.getString(when (k) {
        PersonalDataKind.PHONE -> R.string.personal_phone
        PersonalDataKind.EMAIL -> R.string.personal_email
        PersonalDataKind.IBAN -> R.string.personal_iban
        PersonalDataKind.BSN -> R.string.personal_bsn
        PersonalDataKind.PLATE -> R.string.personal_plate
        PersonalDataKind.POSTCODE, PersonalDataKind.ADDRESS -> R.string.personal_address
        PersonalDataKind.BIRTHDATE -> R.string.personal_birthdate
        PersonalDataKind.NAME -> R.string.personal_name
    })

    fun problem(c: Context, p: CaptureForm.Problem) = c.getString(when (p) {
        CaptureForm.Problem.NO_THEME -> R.string.problem_no_theme
        CaptureForm.Problem.NO_ROLE -> R.string.problem_no_role
        CaptureForm.Problem.NO_CATEGORY -> R.string.problem_no_category
        CaptureForm.Problem.PEOPLE -> R.string.problem_people
        CaptureForm.Problem.DURATION -> R.string.problem_duration
        CaptureForm.Problem.TOO_LONG -> R.string.problem_too_long
    })

    fun frozen(c: Context, f: Frozen) = c.getString(when (f) {
        Frozen.REVIEWED -> R.string.frozen_reviewed
        Frozen.REFERRED -> R.string.frozen_referred
        Frozen.NOT_AUTHOR -> R.string.frozen_not_author
    })

    fun wait(c: Context, w: WaitReason) = c.getString(when (w) {
        WaitReason.REVOKED -> R.string.wait_revoked
        WaitReason.NO_NETWORK -> R.string.wait_no_network
        WaitReason.WAIT_FOR_WIFI -> R.string.wait_wifi
        WaitReason.LOW_BATTERY -> R.string.wait_battery
        WaitReason.BACKING_OFF -> R.string.wait_backoff
        WaitReason.UP_TO_DATE -> R.string.wait_up_to_date
    })

    fun headline(c: Context, h: SyncHeadline, pending: ULong) = when (h) {
        SyncHeadline.NEVER -> c.getString(R.string.sync_never)
        SyncHeadline.REVOKED -> c.getString(R.string.wait_revoked)
        SyncHeadline.FAILED -> c.getString(R.string.sync_failed)
        SyncHeadline.ALL_SENT -> c.getString(R.string.sync_all_sent)
        SyncHeadline.PENDING -> c.getString(R.string.sync_pending, pending.toInt())
    }

    /** What went wrong, for the walker: never the core's English sentence, never record content. */
    fun error(c: Context, e: WvException): String = c.getString(when (e) {
        is WvException.Network -> R.string.error_network
        is WvException.Server -> when (e.code) {
            "invalid_code" -> R.string.error_code_invalid
            "rate_limited" -> R.string.error_rate_limited
            "admin_cannot_enrol" -> R.string.error_admin_cannot_enrol
            "member_disabled" -> R.string.error_member_disabled
            "protocol_unsupported" -> R.string.error_update_app
            else -> if (e.status.toInt() >= 500) R.string.error_server_busy else R.string.error_server
        }
        is WvException.InvalidInput -> R.string.error_invalid
        is WvException.NotFound -> R.string.error_not_found
        is WvException.WalkState -> R.string.error_walk_state
        is WvException.NotAllowed -> R.string.error_not_allowed
        is WvException.NotEnrolled -> R.string.error_not_enrolled
        is WvException.WrongKey -> R.string.error_wrong_key
        is WvException.StoreTooNew -> R.string.error_update_app
        is WvException.Revoked -> R.string.wait_revoked
        is WvException.Cancelled -> R.string.error_cancelled
        is WvException.Locked -> R.string.error_notes_locked
        is WvException.Closed -> R.string.error_closed
        is WvException.Internal -> R.string.error_internal
    })

    fun problem(c: Context, p: SyncProblem) = c.getString(when (p) {
        SyncProblem.UNREACHABLE -> R.string.sync_problem_unreachable
        SyncProblem.SERVER_BUSY -> R.string.sync_problem_busy
        SyncProblem.NOT_ACCEPTED -> R.string.sync_problem_not_accepted
        SyncProblem.REFUSED -> R.string.sync_problem_refused
        SyncProblem.NOT_ENROLLED -> R.string.error_not_enrolled
        SyncProblem.STORAGE -> R.string.error_internal
        SyncProblem.OTHER -> R.string.sync_failed
    })

    /** A walk's figures as the end screen and the walk report show them. */
    fun summary(c: Context, s: EndSummary): List<String> {
        val english = english(c)
        return buildList {
            add(c.getString(R.string.end_duration, durationText(s.duration, english), durationText(s.walking, english)))
            add(c.getString(R.string.end_distance, distanceText(s.distanceM, english)))
            add(c.getString(R.string.end_outside_hours, durationText(s.outsideOfficeHours, english), s.outsideShare))
            add(if (s.buurten.isEmpty()) c.getString(R.string.end_no_buurten) else c.getString(R.string.end_buurten, s.buurten.joinToString(", ")))
            add(c.getString(R.string.end_records, s.records))
            if (s.flaggedFixes > 0u) add(c.getString(R.string.end_flagged, s.flaggedFixes.toInt(), s.fixes.toInt()))
        }
    }

    fun english(c: Context): Boolean = c.resources.configuration.locales[0].language == "en"
}
