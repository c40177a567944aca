package nl.wijkverkenner.app

import android.app.Activity
import android.app.KeyguardManager
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.CheckBox
import android.widget.EditText
import android.widget.RadioButton
import android.widget.TextView
import org.robolectric.RuntimeEnvironment
import java.io.File
import java.net.ServerSocket
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.android.Wijkverkenner
import org.junit.Assert.assertEquals
import org.junit.Assert.fail
import org.robolectric.Shadows.shadowOf
import org.robolectric.shadows.ShadowNetworkCapabilities

/** The app under test: the store's key in a file (Robolectric has no Android Keystore). */
class TestApp : WijkApp() {
    override fun makeVault(): KeyVault = FileVault(File(noBackupFilesDir, "test-store.key"))
}

/** A key vault in a plain file: for tests only. */
class FileVault(private val file: File) : KeyVault {
    override fun key(): ByteArray {
        if (!file.exists()) {
            file.parentFile?.mkdirs()
            file.writeBytes(ByteArray(32).also { java.security.SecureRandom().nextBytes(it) })
        }
        return file.readBytes()
    }

    override fun destroy() {
        file.delete()
    }
}

/**
 * A real team server process with one team: a walker (the app's member), a colleague who walks
 * along, and a lead with a phone of their own (a [Wijkverkenner] store in the test), Utrecht's
 * buurten as the team's boundaries.
 */
class Team : AutoCloseable {
    val dir: File = Files.createTempDirectory("wv-app").toFile()
    private val data = File(dir, "server")
    private var process: Process? = null
    val team: String
    val walker: String
    val colleague: String
    val lead: String
    /** An observation theme of this team's own (not in the default taxonomy). */
    val theme: String
    val url: String

    init {
        team = admin("team-create", "Team Noordwest")
        walker = admin("member-add", "--team", team, "--name", "Sanne de Vries", "--role", "field_worker", "--organisation", "Jongerenwerk")
        colleague = admin("member-add", "--team", team, "--name", "Ahmed Bakker", "--role", "field_worker", "--organisation", "Buurtteam")
        lead = admin("member-add", "--team", team, "--name", "Lotte Jansen", "--role", "lead")
        theme = admin("category-add", "--team", team, "--kind", "observation_theme", "--nl", "Drugsafval", "--en", "Drug waste")
        admin("boundaries", "--team", team, "--buurten", repoFile("data/utrecht/buurt.geojson").path, "--wijken", repoFile("data/utrecht/wijk.geojson").path)
        val port = ServerSocket(0).use { it.localPort }
        process = ProcessBuilder(serverBin(), "--data", data.path, "serve", "--listen", "127.0.0.1:$port")
            .redirectError(File(dir, "server.log"))
            .redirectOutput(File(dir, "server.out"))
            .start()
        url = "http://127.0.0.1:$port"
        waitForServer()
    }

    private fun waitForServer() {
        repeat(200) {
            try {
                java.net.URL("$url/health").openStream().use { return }
            } catch (e: java.io.IOException) {
                Thread.sleep(50)
            }
        }
        fail("the team server did not start: " + File(dir, "server.log").readText())
    }

    fun code(member: String): String = admin("enrol-code", "--member", member)

    fun admin(vararg args: String): String {
        val p = ProcessBuilder(listOf(serverBin(), "--data", data.path) + args).start()
        val out = p.inputStream.bufferedReader().readText().trim()
        val err = p.errorStream.bufferedReader().readText().trim()
        assertEquals("admin ${args.toList()}: $err", 0, p.waitFor())
        return out
    }

    /** A phone of another member, outside the app: the lead's, or a colleague's. */
    fun phone(member: String, name: String): Wijkverkenner = runBlocking {
        Wijkverkenner.open(File(dir, "$name.db").path, ByteArray(32) { 3 }).also { it.enrol(url, code(member), name) }
    }

    override fun close() {
        process?.destroy()
        process?.waitFor()
        dir.deleteRecursively()
    }

    companion object {
        fun serverBin(): String = System.getProperty("wv.server") ?: error("set -Dwv.server to the wijkverkenner-server binary")

        /** A file of the repository (tests run from its root). */
        fun repoFile(path: String): File = File(path).takeIf { it.exists() } ?: error("run from the repository root: $path missing")
    }
}

val app: TestApp get() = RuntimeEnvironment.getApplication() as TestApp

/** Runs the main looper until [what] holds; the core's calls run on real IO threads meanwhile. */
fun waitUntil(what: String, timeoutMs: Long = 15_000, cond: () -> Boolean) {
    val end = System.currentTimeMillis() + timeoutMs
    while (true) {
        shadowOf(Looper.getMainLooper()).idle()
        if (cond()) return
        if (System.currentTimeMillis() > end) fail("timed out waiting for: $what")
        Thread.sleep(15)
    }
}

/**
 * The phone has a connection (Robolectric's default network gets the internet capability);
 * [tell]: the app's network callback hears of it (as when a connection returns).
 */
fun online(tell: Boolean = true) {
    val cm = app.getSystemService(ConnectivityManager::class.java)
    val caps = ShadowNetworkCapabilities.newInstance()
    shadowOf(caps).addCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
    shadowOf(caps).addCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED)
    shadowOf(cm).setNetworkCapabilities(cm.activeNetwork, caps)
    if (tell) for (callback in shadowOf(cm).networkCallbacks) callback.onAvailable(cm.activeNetwork!!)
}

/**
 * The parameters the system hands a job: made without a constructor (the framework's is hidden);
 * Robolectric's job service records `jobFinished` without reading them.
 */
fun jobParameters(): android.app.job.JobParameters {
    val field = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe").apply { isAccessible = true }
    val unsafe = field.get(null)
    val allocate = unsafe.javaClass.getMethod("allocateInstance", Class::class.java)
    return allocate.invoke(unsafe, android.app.job.JobParameters::class.java) as android.app.job.JobParameters
}

/** The connection is gone. */
fun offline() {
    val cm = app.getSystemService(ConnectivityManager::class.java)
    shadowOf(cm).setNetworkCapabilities(cm.activeNetwork, ShadowNetworkCapabilities.newInstance())
    for (callback in shadowOf(cm).networkCallbacks) callback.onLost(cm.activeNetwork!!)
}

fun secureLockScreen(secure: Boolean = true) {
    shadowOf(app.getSystemService(KeyguardManager::class.java)).setIsDeviceSecure(secure)
}

/** The screen is kept out of screenshots, screen recordings and the recent-apps preview. */
val Activity.secure: Boolean
    get() = (window.attributes.flags and android.view.WindowManager.LayoutParams.FLAG_SECURE) != 0

fun <T : View> Activity.view(id: Int): T = findViewById<T>(id) ?: error("no view ${resources.getResourceEntryName(id)} on ${javaClass.simpleName}")

fun Activity.text(id: Int): String = view<TextView>(id).text.toString()

fun Activity.type(id: Int, text: String) = view<EditText>(id).setText(text)

/** Taps a button once it shows (a screen renders its state a moment after it opens). */
fun Activity.tap(id: Int) {
    waitUntil("${resources.getResourceEntryName(id)} can be tapped", 5_000) {
        findViewById<View>(id)?.let { it.visibility == View.VISIBLE && it.isEnabled } == true
    }
    view<View>(id).performClick()
    shadowOf(Looper.getMainLooper()).idle()
}

/** Ticks the check box or radio button tagged [tag] inside the group [id]. */
fun Activity.pick(id: Int, tag: Any) {
    val group = view<View>(id)
    when (val v = group.findViewWithTag<View>(tag) ?: error("no choice $tag in ${resources.getResourceEntryName(id)}")) {
        is RadioButton -> v.isChecked = true
        is CheckBox -> v.isChecked = true
        else -> error("$tag is not a choice")
    }
}

fun Activity.button(id: Int): Button = view(id)

/** Ticks a yes/no check box. */
fun Activity.tick(id: Int) {
    view<CheckBox>(id).isChecked = true
}
