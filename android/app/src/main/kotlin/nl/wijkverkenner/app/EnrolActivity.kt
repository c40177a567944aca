package nl.wijkverkenner.app

import android.app.Activity
import android.os.Build
import android.os.Bundle
import android.text.InputType
import android.widget.EditText

/** Enrolment by the code a team lead hands out (typed, or scanned into the field). */
class EnrolActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = wijk
        val col = column()
        col.text(24f, getString(R.string.enrol_title))
        val server = EditText(this).apply {
            hint = getString(R.string.enrol_server)
            inputType = InputType.TYPE_TEXT_VARIATION_URI
            setText(app.serverUrl)
        }
        val code = EditText(this).apply {
            hint = getString(R.string.enrol_code)
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_CAP_CHARACTERS
        }
        col.addView(server)
        col.addView(code)
        col.button(getString(R.string.enrol_button)) {
            work(app.scope) {
                app.serverUrl = server.text.toString().trim()
                app.store().enrol(app.serverUrl, code.text.toString(), Build.MODEL)
                SyncJob.schedule(this@EnrolActivity)
                finish()
            }
        }
    }
}
