package nl.wijkverkenner.app

import android.app.Activity
import android.content.Context
import android.view.View
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import android.widget.Toast
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import nl.wijkverkenner.ffi.WvException

/** Thin helpers for framework-only screens: a vertical column, big buttons for one hand. */
fun Activity.column(): LinearLayout {
    val col = LinearLayout(this).apply {
        orientation = LinearLayout.VERTICAL
        setPadding(32, 32, 32, 32)
    }
    setContentView(ScrollView(this).apply { addView(col) })
    return col
}

fun LinearLayout.text(size: Float = 18f, initial: CharSequence = ""): TextView =
    TextView(context).apply {
        textSize = size
        text = initial
    }.also { addView(it) }

fun LinearLayout.button(label: CharSequence, onClick: (View) -> Unit): Button =
    Button(context).apply {
        text = label
        textSize = 20f
        minHeight = 160
        setOnClickListener(onClick)
    }.also { addView(it) }

/** Runs [block] in the app's scope; a core error becomes a message on screen, never a crash. */
fun Context.work(scope: CoroutineScope, block: suspend () -> Unit): Job = scope.launch {
    try {
        block()
    } catch (e: WvException) {
        Toast.makeText(this@work, getString(R.string.error_generic, e.message), Toast.LENGTH_LONG).show()
    }
}
