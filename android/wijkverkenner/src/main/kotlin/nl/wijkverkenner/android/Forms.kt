package nl.wijkverkenner.android

import java.time.Instant
import nl.wijkverkenner.ffi.Colleague
import nl.wijkverkenner.ffi.Conversation
import nl.wijkverkenner.ffi.Debrief
import nl.wijkverkenner.ffi.Logic
import nl.wijkverkenner.ffi.Mood
import nl.wijkverkenner.ffi.NewWalk
import nl.wijkverkenner.ffi.Observation
import nl.wijkverkenner.ffi.Participant
import nl.wijkverkenner.ffi.PersonalDataKind
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.Signal
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.Trust
import nl.wijkverkenner.ffi.checkPersonalData

/** The three kinds of note a walker makes. */
enum class Kind { OBSERVATION, CONVERSATION, SIGNAL }

fun RecordBody.kind(): Kind = when (this) {
    is RecordBody.Observation -> Kind.OBSERVATION
    is RecordBody.Conversation -> Kind.CONVERSATION
    is RecordBody.Signal -> Kind.SIGNAL
}

/**
 * A capture screen's state: every field the core has for the kind, with the defaults a walker
 * changes least. The screen binds its widgets to it; [problems] says what keeps it from being
 * saved (the core checks again, by the same rules), [body] is what is saved.
 */
class CaptureForm(val kind: Kind) {
    /** Observation themes; several may apply. */
    val themes = linkedSetOf<String>()
    var tone: Tone = Tone.NEUTRAL
    var note = ""

    /** Counterpart roles: whom the conversation was with, never a name. */
    val roles = linkedSetOf<String>()
    var people = 1
    var durationMin = 10
    var gist = ""
    var mood: Mood = Mood.NEUTRAL
    var trust: Trust = Trust.MEDIUM
    var agreements = ""
    var immediateHelp = false

    var category: String? = null
    var severity: Severity = Severity.MEDIUM
    var description = ""
    var atKnownPlace = false
    var followUp = ""
    var suggestedReferral: String? = null

    enum class Problem { NO_THEME, NO_ROLE, NO_CATEGORY, PEOPLE, DURATION, TOO_LONG }

    /** Every field's value, to tell whether the walker changed anything (before discarding). */
    fun snapshot(): List<Any?> = listOf(
        kind, themes.toList(), tone, note, roles.toList(), people, durationMin, gist, mood, trust, agreements,
        immediateHelp, category, severity, description, atKnownPlace, followUp, suggestedReferral,
    )

    /** The free texts of the kind: where a walker may type personal data. */
    private fun texts(): List<String> = when (kind) {
        Kind.OBSERVATION -> listOf(note)
        Kind.CONVERSATION -> listOf(gist, agreements)
        Kind.SIGNAL -> listOf(description, followUp)
    }

    /**
     * The kinds of personal data the core finds in the texts (phone numbers, addresses,
     * names, …), each once, in the order they first appear: the walker is warned before the
     * note is saved, and it reaches the team only as the walker decides.
     */
    fun personalData(): List<PersonalDataKind> =
        texts().flatMap { checkPersonalData(it).findings }.map { it.kind }.distinct()

    /** Every piece of personal data in the texts replaced by its placeholder (`[telefoonnummer]`). */
    fun redactPersonalData() {
        fun r(t: String) = checkPersonalData(t).redacted
        when (kind) {
            Kind.OBSERVATION -> note = r(note)
            Kind.CONVERSATION -> {
                gist = r(gist)
                agreements = r(agreements)
            }
            Kind.SIGNAL -> {
                description = r(description)
                followUp = r(followUp)
            }
        }
    }

    fun problems(): List<Problem> = buildList {
        val texts = texts()
        if (texts.any { it.codePointCount(0, it.length) > MAX_TEXT }) add(Problem.TOO_LONG)
        when (kind) {
            Kind.OBSERVATION -> if (themes.isEmpty()) add(Problem.NO_THEME)
            Kind.CONVERSATION -> {
                if (roles.isEmpty()) add(Problem.NO_ROLE)
                if (people !in 1..100) add(Problem.PEOPLE)
                if (durationMin !in 0..24 * 60) add(Problem.DURATION)
            }
            Kind.SIGNAL -> if (category == null) add(Problem.NO_CATEGORY)
        }
    }

    /** The record's content; only when there are no [problems]. */
    fun body(): RecordBody {
        check(problems().isEmpty()) { "the form is not complete: ${problems()}" }
        return when (kind) {
            Kind.OBSERVATION -> RecordBody.Observation(Observation(themes.toList(), tone, note.trim()))
            Kind.CONVERSATION -> RecordBody.Conversation(
                Conversation(
                    roles.toList(),
                    people.toUByte(),
                    durationMin.toUShort(),
                    gist.trim(),
                    mood,
                    trust,
                    agreements.trim(),
                    immediateHelp,
                ),
            )
            Kind.SIGNAL -> RecordBody.Signal(
                Signal(category!!, severity, description.trim(), atKnownPlace, followUp.trim(), suggestedReferral),
            )
        }
    }

    companion object {
        /** Longest text the core takes. */
        const val MAX_TEXT = 4000

        /** A form holding what a record says, for an edit. */
        fun from(record: Record): CaptureForm = when (val b = record.body) {
            is RecordBody.Observation -> CaptureForm(Kind.OBSERVATION).apply {
                themes += b.observation.themes
                tone = b.observation.tone
                note = b.observation.note
            }
            is RecordBody.Conversation -> CaptureForm(Kind.CONVERSATION).apply {
                val c = b.conversation
                roles += c.roles
                people = c.people.toInt()
                durationMin = c.durationMin.toInt()
                gist = c.gist
                mood = c.mood
                trust = c.trust
                agreements = c.agreements
                immediateHelp = c.immediateHelp
            }
            is RecordBody.Signal -> CaptureForm(Kind.SIGNAL).apply {
                val s = b.signal
                category = s.category
                severity = s.severity
                description = s.description
                atKnownPlace = s.atKnownPlace
                followUp = s.followUp
                suggestedReferral = s.suggestedReferral
            }
        }
    }
}

/** A guest on a walk: someone from outside the team, known by role only (never a name). */
data class Guest(val role: String, val layPerson: Boolean)

/** The start-of-walk screen: purpose, focus themes, who walks along. */
class StartWalkForm {
    var purpose = ""
    val focus = linkedSetOf<String>()

    /** Member ids of colleagues along (from the team's roster). */
    val colleagues = linkedSetOf<String>()
    val guests = mutableListOf<Guest>()

    /** The walk to start at [at], naming the chosen colleagues as the roster has them. */
    fun newWalk(roster: List<Colleague>, at: Instant = Instant.now()): NewWalk {
        val members = roster.filter { it.memberId in colleagues }.map {
            Participant.Member(it.memberId, it.name, it.organisation)
        }
        val guestList = guests.filter { it.role.isNotBlank() }.map { Participant.Guest(it.role.trim(), it.layPerson) }
        return NewWalk(members + guestList, purpose.trim(), focus.toList(), momentNow(at))
    }
}

/** The look back at the end of a walk: which of the four logics dominated, and a note. */
class DebriefForm {
    var dominant: Logic? = null
    var note = ""

    val isEmpty: Boolean get() = dominant == null && note.isBlank()

    fun debrief(): Debrief = Debrief(dominant, note.trim())
}
