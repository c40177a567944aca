package nl.wijkverkenner.app

import android.app.Activity
import android.content.Context
import android.text.InputType
import android.view.View
import android.view.WindowManager
import android.widget.Button
import android.widget.CheckBox
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.RadioButton
import android.widget.RadioGroup
import android.widget.ScrollView
import android.widget.TextView
import android.widget.Toast
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import nl.wijkverkenner.ffi.WvException

/*
 * Thin helpers for framework-only screens: one scrolling column, big targets for a thumb on a
 * street (buttons at least 64 dp high, text 18–20 sp), every input with a visible label.
 */

fun Context.dp(v: Int): Int = (v * resources.displayMetrics.density).toInt()

/**
 * A screen: a scrolling column with a title. Every screen may show notes about residents, so
 * none may appear in screenshots, screen recordings or the recent-apps preview (FLAG_SECURE).
 */
fun Activity.screen(title: CharSequence): LinearLayout {
    window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
    val col = LinearLayout(this).apply {
        orientation = LinearLayout.VERTICAL
        setPadding(dp(16), dp(16), dp(16), dp(16))
    }
    setContentView(ScrollView(this).apply { addView(col) })
    setTitle(title)
    col.text(24f, title)
    return col
}

fun LinearLayout.text(size: Float = 18f, initial: CharSequence = "", id: Int = View.NO_ID): TextView =
    TextView(context).apply {
        textSize = size
        text = initial
        if (id != View.NO_ID) this.id = id
        setPadding(0, context.dp(4), 0, context.dp(4))
    }.also { addView(it) }

fun LinearLayout.heading(label: CharSequence): TextView = text(20f, label).apply {
    setPadding(0, context.dp(16), 0, context.dp(4))
    isFocusable = true
}

fun LinearLayout.button(label: CharSequence, id: Int = View.NO_ID, onClick: (View) -> Unit): Button =
    Button(context).apply {
        text = label
        textSize = 20f
        isAllCaps = false
        minHeight = context.dp(64)
        if (id != View.NO_ID) this.id = id
        setOnClickListener(onClick)
    }.also { addView(it) }

/** A check box with a label (a yes/no field). */
fun LinearLayout.tick(label: CharSequence, id: Int, checked: Boolean): CheckBox = CheckBox(context).apply {
    this.id = id
    text = label
    textSize = 18f
    minHeight = context.dp(48)
    isChecked = checked
}.also { addView(it) }

/** A labelled text field. */
fun LinearLayout.field(
    label: CharSequence,
    id: Int,
    initial: CharSequence = "",
    lines: Int = 1,
    type: Int = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_CAP_SENTENCES,
): EditText {
    val caption = text(16f, label)
    return EditText(context).apply {
        this.id = id
        inputType = if (lines > 1) type or InputType.TYPE_TEXT_FLAG_MULTI_LINE else type
        minLines = lines
        textSize = 18f
        setText(initial)
        caption.labelFor = id
    }.also { addView(it) }
}

/** A labelled number field. */
fun LinearLayout.number(label: CharSequence, id: Int, initial: Int): EditText =
    field(label, id, initial.toString(), type = InputType.TYPE_CLASS_NUMBER)

/** Check boxes for several choices (codes with labels); [checked] are ticked. Tags hold the codes. */
fun LinearLayout.checks(id: Int, items: List<Pair<String, String>>, checked: Set<String>): LinearLayout {
    val box = LinearLayout(context).apply {
        orientation = LinearLayout.VERTICAL
        this.id = id
    }
    for ((code, label) in items) {
        box.addView(CheckBox(context).apply {
            text = label
            tag = code
            textSize = 18f
            minHeight = context.dp(48)
            isChecked = code in checked
        })
    }
    addView(box)
    return box
}

/** The codes ticked in a [checks] box. */
fun LinearLayout.ticked(): List<String> =
    (0 until childCount).mapNotNull { (getChildAt(it) as? CheckBox)?.takeIf { c -> c.isChecked }?.tag as? String }

/** One choice of several (values with labels). The selected value is the checked button's tag; find a button with `findViewWithTag(value)`. */
fun <T> LinearLayout.choice(id: Int, items: List<Pair<T, String>>, selected: T?): RadioGroup {
    val group = RadioGroup(context).apply { this.id = id }
    for ((value, label) in items) {
        val button = RadioButton(context).apply {
            this.id = View.generateViewId()
            text = label
            tag = value
            textSize = 18f
            minHeight = context.dp(48)
        }
        group.addView(button)
        if (value == selected) group.check(button.id)
    }
    addView(group)
    return group
}

@Suppress("UNCHECKED_CAST")
fun <T> RadioGroup.value(): T? = findViewById<RadioButton>(checkedRadioButtonId)?.tag as? T

/**
 * Runs [block] in the app's scope; a core error becomes a message in the walker's language
 * (on [problem] when given, else a toast), never a crash.
 */
fun Context.work(scope: CoroutineScope, problem: TextView? = null, block: suspend () -> Unit): Job = scope.launch {
    try {
        block()
    } catch (e: WvException) {
        say(problem, Words.error(this@work, e))
    } catch (e: java.security.GeneralSecurityException) {
        say(problem, getString(R.string.error_locked))
    }
}

private fun Context.say(problem: TextView?, message: String) {
    if (problem != null) problem.text = message else Toast.makeText(this, message, Toast.LENGTH_LONG).show()
}

/** A button per item that opens it; [label] says what it is. Used for lists of notes and walks. */
fun <T> LinearLayout.list(items: List<T>, label: (T) -> CharSequence, open: (T) -> Unit) {
    for (item in items) {
        button(label(item)) { open(item) }.apply {
            textSize = 17f
            isAllCaps = false
            textAlignment = View.TEXT_ALIGNMENT_VIEW_START
        }
    }
}

/**
 * Personal data in typed fields (a walk's purpose, a debrief, an answer to a lead): named
 * before it is kept, as on the capture screen. Replace puts the core's placeholders in the
 * fields, Keep goes on as typed, Cancel leaves the walker typing. [then] runs with the texts
 * as they are to be kept.
 */
fun Activity.guardPersonalData(fields: List<android.widget.EditText>, then: () -> Unit) {
    val checks = fields.map { nl.wijkverkenner.ffi.checkPersonalData(it.text.toString()) }
    val kinds = checks.flatMap { c -> c.findings.map { it.kind } }.distinct()
    if (kinds.isEmpty()) {
        then()
        return
    }
    android.app.AlertDialog.Builder(this)
        .setTitle(R.string.personal_title)
        .setMessage(getString(R.string.personal_found, kinds.map { Words.personalData(this, it) }.distinct().joinToString(", ")))
        .setPositiveButton(R.string.personal_replace) { _, _ ->
            fields.zip(checks).forEach { (f, c) -> f.setText(c.redacted) }
            then()
        }
        .setNeutralButton(R.string.personal_keep) { _, _ -> then() }
        .setNegativeButton(R.string.capture_keep_typing, null)
        .show()
}
