package nl.wijkverkenner.android

import nl.wijkverkenner.ffi.Identity
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.Walk

/** A lead's question that waits for this phone's member to answer: about a note or a whole walk. */
data class OpenQuestion(val walkId: String, val recordId: String?, val question: String)

/**
 * The questions the main screen's badge counts and its list shows: asked by a lead about the
 * member's own notes and walks, not answered yet. A new question after an answer counts again
 * (the server clears the answer when a lead asks again).
 */
fun openQuestions(me: Identity?, walks: List<Walk>, records: List<Record>): List<OpenQuestion> {
    if (me == null) return emptyList()
    val forWalks = walks.filter { it.authorId == me.memberId }.mapNotNull { w ->
        val q = w.review.question?.takeIf { it.isNotBlank() && w.review.answer.isNullOrBlank() }
        q?.let { OpenQuestion(w.id, null, it) }
    }
    val forRecords = records.filter { it.authorId == me.memberId }.mapNotNull { r ->
        val q = r.review.question?.takeIf { it.isNotBlank() && r.review.answer.isNullOrBlank() }
        q?.let { OpenQuestion(r.walkId, r.id, it) }
    }
    return forWalks + forRecords
}
