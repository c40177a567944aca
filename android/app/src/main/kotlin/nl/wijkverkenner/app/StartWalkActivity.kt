package nl.wijkverkenner.app

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import android.widget.CheckBox
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.TextView
import android.widget.Toast
import nl.wijkverkenner.android.Guest
import nl.wijkverkenner.android.StartWalkForm
import nl.wijkverkenner.ffi.CategoryKind
import nl.wijkverkenner.ffi.Colleague

/**
 * Before a walk: its purpose, the themes to pay attention to, who walks along (colleagues from
 * the team, guests by role). Then the location permission, explained first; without it the walk
 * still starts, without a route.
 */
class StartWalkActivity : Activity() {
    companion object {
        const val PERMISSIONS_REQUEST = 7
    }

    private val form = StartWalkForm()
    private var roster: List<Colleague> = emptyList()
    private lateinit var purpose: EditText
    private lateinit var focus: LinearLayout
    private lateinit var colleagues: LinearLayout
    private lateinit var guestsLine: TextView
    private lateinit var explanation: TextView
    private lateinit var startButton: android.widget.Button
    /** The walker has read why the location is asked for; the next tap asks the system. */
    private var explained = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val col = screen(getString(R.string.walk_new))
        purpose = col.field(getString(R.string.walk_purpose), R.id.purpose, lines = 2)
        col.heading(getString(R.string.walk_focus))
        focus = col.checks(R.id.focus_list, emptyList(), emptySet())
        col.heading(getString(R.string.walk_colleagues))
        colleagues = col.checks(R.id.colleague_list, emptyList(), emptySet())
        col.heading(getString(R.string.walk_guests))
        val guestRole = col.field(getString(R.string.walk_guest_role), R.id.guest_role)
        val lay = CheckBox(this).apply {
            id = R.id.guest_lay
            text = getString(R.string.walk_guest_lay)
            textSize = 18f
        }
        col.addView(lay)
        col.button(getString(R.string.walk_guest_add), R.id.guest_add) {
            val role = guestRole.text.toString().trim()
            if (role.isNotEmpty()) {
                form.guests += Guest(role, lay.isChecked)
                guestRole.setText("")
                lay.isChecked = false
                showGuests()
            }
        }
        guestsLine = col.text(16f, "", R.id.guest_list)
        explanation = col.text(16f, "", R.id.permission_text)
        startButton = col.button(getString(R.string.walk_start), R.id.start_button) { askAndStart() }
        work(app.scope) {
            val store = app.store()
            val labels = store.labels(Words.english(this@StartWalkActivity))
            val me = store.identity()?.memberId
            roster = store.colleagues().filter { it.memberId != me }
            for (c in labels.offered(CategoryKind.OBSERVATION_THEME)) focus.addView(check(c.code, labels.of(c.code)))
            for (c in roster) {
                colleagues.addView(check(c.memberId, if (c.organisation.isBlank()) c.name else "${c.name} (${c.organisation})"))
            }
        }
    }

    private fun check(code: String, label: String) = CheckBox(this).apply {
        text = label
        tag = code
        textSize = 18f
        minHeight = dp(48)
    }

    private fun showGuests() {
        guestsLine.text = form.guests.joinToString("\n") {
            it.role + if (it.layPerson) " (" + getString(R.string.walk_guest_lay_short) + ")" else ""
        }
    }

    /** What the walker needs to allow: the location, and on Android 13+ the notification. */
    private fun missing(): List<String> = buildList {
        if (!wijk.locationAllowed()) {
            // Both: Android 12+ then lets the walker choose precise or approximate (asked for
            // the precise one alone, some versions ask nothing).
            add(Manifest.permission.ACCESS_FINE_LOCATION)
            add(Manifest.permission.ACCESS_COARSE_LOCATION)
        }
        if (Build.VERSION.SDK_INT >= 33 && checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED) {
            add(Manifest.permission.POST_NOTIFICATIONS)
        }
    }

    private fun askAndStart() {
        val need = missing()
        if (need.isEmpty()) {
            start(withRoute = true)
            return
        }
        // Say why first, and let it be read: the system's question covers the screen, so it
        // follows the walker's next tap.
        if (!explained) {
            explained = true
            explanation.text = getString(R.string.permission_why)
            startButton.text = getString(R.string.permission_continue)
            return
        }
        requestPermissions(need.toTypedArray(), PERMISSIONS_REQUEST)
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode != PERMISSIONS_REQUEST) return
        val location = wijk.locationAllowed()
        // Without the location the walk starts all the same, without a route; the walker is told
        // (here, and on the walk screen) and can allow it later in the phone's settings. With an
        // approximate one only, the route is vague and notes get no place of their own.
        when {
            !location -> Toast.makeText(this, R.string.permission_denied, Toast.LENGTH_LONG).show()
            !wijk.preciseLocationAllowed() -> Toast.makeText(this, R.string.permission_approximate, Toast.LENGTH_LONG).show()
        }
        start(withRoute = location)
    }

    private fun start(withRoute: Boolean) = guardPersonalData(listOf(purpose)) { startChecked(withRoute) }

    private fun startChecked(withRoute: Boolean) {
        val app = wijk
        form.purpose = purpose.text.toString()
        form.focus.clear()
        form.focus += focus.ticked()
        form.colleagues.clear()
        form.colleagues += colleagues.ticked()
        work(app.scope, explanation) {
            app.store().startWalk(form.newWalk(roster))
            if (withRoute) app.startRoute()
            finish()
        }
    }
}
