package nl.wijkverkenner.app

import android.app.Activity
import android.app.KeyguardManager
import android.content.Intent
import android.os.Build
import android.os.Bundle
import android.provider.Settings
import android.text.InputType
import android.view.View
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.ffi.serverUrlIsAllowed

/**
 * Enrolment with the code a team lead hands out (typed, or scanned into the field). After it,
 * the first sync brings the team's categories, buurten and colleagues.
 */
class EnrolActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val col = screen(getString(R.string.enrol_title))
        col.text(16f, getString(R.string.enrol_intro))
        val server = col.field(getString(R.string.enrol_server), R.id.enrol_server, app.serverUrl, type = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_VARIATION_URI)
        val code = col.field(getString(R.string.enrol_code), R.id.enrol_code, type = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_CAP_CHARACTERS)
        val problem = col.text(16f, "", R.id.enrol_problem)
        val lock = col.button(getString(R.string.enrol_set_lock), R.id.enrol_set_lock) {
            startActivity(Intent(Settings.ACTION_SECURITY_SETTINGS))
        }.apply { visibility = View.GONE }
        col.button(getString(R.string.enrol_button), R.id.enrol_button) {
            // The team's notes need a locked phone: no enrolment without a secure lock screen.
            if (!getSystemService(KeyguardManager::class.java).isDeviceSecure) {
                problem.text = getString(R.string.enrol_needs_lock)
                lock.visibility = View.VISIBLE
                return@button
            }
            val url = server.text.toString().trim().trimEnd('/')
            if (url.isEmpty() || code.text.isBlank()) {
                problem.text = getString(R.string.enrol_missing)
                return@button
            }
            // Notes never cross a network in clear: the core refuses http:// but to this phone.
            if (!serverUrlIsAllowed(url)) {
                problem.text = getString(R.string.enrol_needs_https)
                return@button
            }
            work(app.scope, problem) {
                app.serverUrl = url
                app.store().enrol(url, code.text.toString(), Build.MODEL ?: "Android")
                app.markEnrolled()
                // The team's settings (categories, buurten, colleagues) come with the first sync.
                app.requestSync(Trigger.MANUAL)?.join()
                startActivity(Intent(this@EnrolActivity, MainActivity::class.java))
                finish()
            }
        }
    }
}
