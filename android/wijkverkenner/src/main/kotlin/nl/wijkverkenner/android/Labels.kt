package nl.wijkverkenner.android

import nl.wijkverkenner.ffi.Category
import nl.wijkverkenner.ffi.CategoryKind
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordBody

/**
 * The team's categories as the screens name them: a code's label in the walker's language
 * (retired codes too: old records keep their label), and the categories still offered for a new
 * record. Never a raw code on screen unless the team's taxonomy does not know it.
 */
class Labels(categories: List<Category>, val english: Boolean = false) {
    private val byCode = categories.associateBy { it.code }
    private val all = categories

    fun of(code: String): String = byCode[code]?.let { if (english) it.labelEn else it.labelNl } ?: code

    fun of(codes: List<String>): String = codes.joinToString(", ") { of(it) }

    /** What a new record (or a code added by an edit) may use, in the team's order. */
    fun offered(kind: CategoryKind): List<Category> = all.filter { it.kind == kind && !it.retired }

    /** For an edit: the offered ones plus the retired ones the record already has. */
    fun choicesFor(kind: CategoryKind, keeping: List<String>): List<Category> =
        all.filter { it.kind == kind && (!it.retired || it.code in keeping) }

    fun isSensitive(code: String): Boolean = byCode[code]?.sensitive ?: true

    /** What a record is about, in words: its themes, roles or category. */
    fun what(record: Record): String = when (val b = record.body) {
        is RecordBody.Observation -> of(b.observation.themes)
        is RecordBody.Conversation -> of(b.conversation.roles)
        is RecordBody.Signal -> of(b.signal.category)
    }
}
