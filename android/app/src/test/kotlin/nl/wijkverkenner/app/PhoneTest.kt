package nl.wijkverkenner.app

import android.Manifest
import android.app.AlertDialog
import android.app.job.JobScheduler
import android.content.Intent
import android.content.pm.PackageManager
import android.view.View
import java.io.File
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.ffi.Observation
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.Tone
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowAlertDialog
import org.robolectric.shadows.ShadowToast

/**
 * The phone around the walk: enrolment's rules, a permission refused, sync on every trigger the
 * walker expects (a note, a returning connection, the periodic job, a reboot), and a revoked
 * phone wiped to nothing from whichever path learnt it.
 */
@RunWith(WvTestRunner::class)
@Config(sdk = [34], application = TestApp::class, qualifiers = "nl")
class PhoneTest {
    private lateinit var team: Team

    @Before
    fun setUp() {
        team = Team()
        secureLockScreen()
        online()
    }

    @After
    fun tearDown() {
        team.close()
    }

    /** Enrols the app's store directly (the enrolment screen has its own test). */
    private fun enrolled() {
        runBlocking { app.store().enrol(team.url, team.code(team.walker), "Pixel") }
        app.serverUrl = team.url
        app.markEnrolled()
        synced(Trigger.MANUAL)
    }

    private fun note(text: String) = runBlocking {
        val store = app.store()
        val walk = store.activeWalk.value ?: store.startWalk("Ronde")
        store.capture(walk.id, RecordBody.Observation(Observation(listOf("obs.litter"), Tone.NEUTRAL, text)), null)
    }

    /** Asks for a sync and waits for it (on the main looper, where the app runs it). */
    private fun synced(trigger: Trigger) {
        val job = app.requestSync(trigger) ?: return
        waitUntil("the sync") { job.isCompleted }
    }

    private fun pending() = runBlocking { app.store().refreshSyncStatus().pending }

    /**
     * Personal data typed into a note is named before the note is saved (the core finds it):
     * replaced by placeholders, kept on purpose, or typed on; a changed text is checked again.
     */
    @Test
    fun personalDataIsNamedBeforeSavingAndReplacedOrKeptAsTheWalkerChooses() {
        enrolled()
        val walk = runBlocking { app.store().startWalk("Ronde") }
        fun opened(): CaptureActivity {
            val c = Robolectric.buildActivity(
                CaptureActivity::class.java,
                Intent(app, CaptureActivity::class.java).putExtra(CaptureActivity.KIND, "OBSERVATION"),
            ).setup().get()
            waitUntil("the form") { c.findViewById<View>(R.id.capture_save) != null }
            c.pick(R.id.capture_themes, "obs.litter")
            return c
        }
        fun notes() = runBlocking { app.store().timeline(walk.id) }.items.map { (it.body as RecordBody.Observation).observation.note }

        // Replaced: the note keeps what was seen, not who.
        val first = opened()
        first.type(R.id.capture_note, "Mevr. Jansen belt vaker, 06-12345678, over afval bij Kanaalstraat 120")
        first.tap(R.id.capture_save)
        var dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull("a warning before saving", dialog)
        val message = shadowOf(dialog).message.toString()
        for (k in listOf(R.string.personal_phone, R.string.personal_address, R.string.personal_name)) {
            assertTrue(message, message.contains(first.getString(k)))
        }
        assertFalse("nothing saved while the walker decides", first.isFinishing)
        assertEquals(emptyList<String>(), notes())
        dialog.getButton(AlertDialog.BUTTON_POSITIVE).performClick()
        waitUntil("saved") { first.isFinishing }
        assertEquals(listOf("Mevr. [naam] belt vaker, [telefoonnummer], over afval bij [adres]"), notes())

        // Typed on, then kept on purpose: a plate the police asked for.
        val second = opened()
        second.type(R.id.capture_note, "Auto met kenteken 12-ABC-3 weer bij de container")
        second.tap(R.id.capture_save)
        dialog = ShadowAlertDialog.getLatestAlertDialog()
        dialog.getButton(AlertDialog.BUTTON_NEGATIVE).performClick()
        assertFalse("typing on saves nothing", second.isFinishing)
        second.type(R.id.capture_note, "Auto met kenteken 12-ABC-3 weer bij de container, bel 030 123 45 67")
        second.tap(R.id.capture_save)
        val again = ShadowAlertDialog.getLatestAlertDialog()
        assertTrue("a changed text is checked again", again !== dialog)
        again.getButton(AlertDialog.BUTTON_NEUTRAL).performClick()
        waitUntil("saved") { second.isFinishing }
        assertTrue(notes().toString(), "Auto met kenteken 12-ABC-3 weer bij de container, bel 030 123 45 67" in notes())
        assertEquals(2, notes().size)
    }

    /** The walk's purpose is checked as a note is: replaced before the walk starts. */
    @Test
    fun personalDataInAWalksPurposeIsNamedToo() {
        enrolled()
        shadowOf(app).grantPermissions(
            Manifest.permission.ACCESS_FINE_LOCATION,
            Manifest.permission.ACCESS_COARSE_LOCATION,
            Manifest.permission.POST_NOTIFICATIONS,
        )
        val start = Robolectric.buildActivity(StartWalkActivity::class.java).setup().get()
        start.type(R.id.purpose, "Langs bij mevr. Jansen, 06-12345678")
        start.tap(R.id.start_button)
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull("named before the walk starts", dialog)
        assertNull(runBlocking { app.store().activeWalk.value })
        dialog.getButton(AlertDialog.BUTTON_POSITIVE).performClick()
        waitUntil("the walk started") { start.isFinishing }
        assertEquals("Langs bij mevr. [naam], [telefoonnummer]", runBlocking { app.store().activeWalk.value }!!.purpose)
    }

    @Test
    fun enrolmentNeedsALockScreenAndSaysWhyACodeFails() {
        secureLockScreen(false)
        val enrol = Robolectric.buildActivity(EnrolActivity::class.java).setup().get()
        enrol.type(R.id.enrol_server, team.url)
        enrol.type(R.id.enrol_code, team.code(team.walker))
        enrol.tap(R.id.enrol_button)
        assertEquals(enrol.getString(R.string.enrol_needs_lock), enrol.text(R.id.enrol_problem))
        assertEquals(View.VISIBLE, enrol.view<View>(R.id.enrol_set_lock).visibility)
        assertFalse(app.enrolled)

        secureLockScreen(true)
        enrol.type(R.id.enrol_code, "ABCD-EFGH-IJKL")
        enrol.tap(R.id.enrol_button)
        waitUntil("the refusal") { enrol.text(R.id.enrol_problem) != enrol.getString(R.string.enrol_needs_lock) }
        assertEquals(enrol.getString(R.string.error_code_invalid), enrol.text(R.id.enrol_problem))
        assertFalse(app.enrolled)
        assertFalse(enrol.isFinishing)

        enrol.type(R.id.enrol_server, "")
        enrol.tap(R.id.enrol_button)
        assertEquals(enrol.getString(R.string.enrol_missing), enrol.text(R.id.enrol_problem))

        // Not over a network in clear: http:// only to this device (the test's server).
        enrol.type(R.id.enrol_server, "http://wijkteam.example.nl")
        enrol.type(R.id.enrol_code, team.code(team.walker))
        enrol.tap(R.id.enrol_button)
        assertEquals(enrol.getString(R.string.enrol_needs_https), enrol.text(R.id.enrol_problem))
        assertFalse(app.enrolled)

        enrol.type(R.id.enrol_server, team.url + "/")
        enrol.type(R.id.enrol_code, team.code(team.walker))
        enrol.tap(R.id.enrol_button)
        waitUntil("enrolled") { enrol.isFinishing }
        assertTrue(app.enrolled)
        assertEquals("the address as typed, without the slash", team.url, app.serverUrl)
    }

    @Test
    fun anApproximateLocationIsSaidAndRecordsAVagueRoute() {
        enrolled()
        val start = Robolectric.buildActivity(StartWalkActivity::class.java).setup().get()
        start.tap(R.id.start_button)
        start.tap(R.id.start_button)
        val asked = shadowOf(start).lastRequestedPermission
        // Android 12+: the walker chose "approximate".
        shadowOf(app).grantPermissions(Manifest.permission.ACCESS_COARSE_LOCATION, Manifest.permission.POST_NOTIFICATIONS)
        shadowOf(app).denyPermissions(Manifest.permission.ACCESS_FINE_LOCATION)
        start.onRequestPermissionsResult(
            asked.requestCode,
            asked.requestedPermissions,
            IntArray(asked.requestedPermissions.size) {
                if (asked.requestedPermissions[it] == Manifest.permission.ACCESS_FINE_LOCATION) PackageManager.PERMISSION_DENIED else PackageManager.PERMISSION_GRANTED
            },
        )
        assertEquals(start.getString(R.string.permission_approximate), ShadowToast.getTextOfLatestToast())
        waitUntil("the walk started") { start.isFinishing }
        val intent = shadowOf(app).nextStartedService
        assertEquals(WalkLocationService::class.java.name, intent.component?.className)
        val service = Robolectric.buildService(WalkLocationService::class.java, intent).create().startCommand(0, 1).get()
        assertNotNull("the route is recorded, vaguely", shadowOf(service).lastForegroundNotification)
        assertFalse(shadowOf(service).isStoppedBySelf)
        val lm = app.getSystemService(android.location.LocationManager::class.java)
        assertTrue(
            "from the network's position",
            shadowOf(lm).getLocationRequests(android.location.LocationManager.NETWORK_PROVIDER).isNotEmpty(),
        )
    }

    @Test
    fun aRefusedLocationIsExplainedAndTheWalkGoesOnWithoutRoute() {
        enrolled()
        val start = Robolectric.buildActivity(StartWalkActivity::class.java).setup().get()
        start.type(R.id.purpose, "Ronde zonder GPS")
        start.tap(R.id.start_button)
        assertEquals(start.getString(R.string.permission_why), start.text(R.id.permission_text))
        start.tap(R.id.start_button)
        val asked = shadowOf(start).lastRequestedPermission
        shadowOf(app).denyPermissions(*asked.requestedPermissions)
        start.onRequestPermissionsResult(
            asked.requestCode,
            asked.requestedPermissions,
            IntArray(asked.requestedPermissions.size) { PackageManager.PERMISSION_DENIED },
        )
        assertEquals(start.getString(R.string.permission_denied), ShadowToast.getTextOfLatestToast())
        waitUntil("the walk started") { start.isFinishing }
        assertNotNull(runBlocking { app.store().activeWalk.value })
        assertNull("no location service without the permission", shadowOf(app).nextStartedService)

        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        waitUntil("the walk screen") { main.text(R.id.walk_status).contains(main.getString(R.string.walk_no_route)) }

        // Started anyway (a stale intent, a restart by the system): it stops itself, no crash.
        val service = Robolectric.buildService(WalkLocationService::class.java).create().startCommand(0, 1).get()
        assertTrue(shadowOf(service).isStoppedBySelf)
        assertNull(shadowOf(service).lastForegroundNotification)

        // Pause and resume without the permission: no service either.
        main.tap(R.id.primary_action)
        waitUntil("paused") { runBlocking { app.store().activeWalk.value }?.paused == true }
        main.tap(R.id.primary_action)
        waitUntil("resumed") { runBlocking { app.store().activeWalk.value }?.paused == false }
        val started = shadowOf(app).nextStartedService
        assertNull(started)
    }

    @Test
    fun syncFollowsNotesConnectionsThePeriodicJobAndReboots() {
        enrolled()
        val jobs = app.getSystemService(JobScheduler::class.java)
        val job = jobs.getPendingJob(SyncJob.ID)
        assertNotNull("the periodic sync is scheduled at enrolment", job)
        assertTrue("it survives a reboot", job!!.isPersisted)
        assertTrue(job.isPeriodic)

        // A note syncs at once while online.
        note("Volle container")
        synced(Trigger.CAPTURE)
        assertEquals(0uL, pending())

        // Offline: the note waits, the walk screen says so.
        offline()
        note("Nog een volle container")
        synced(Trigger.CAPTURE)
        assertEquals(1uL, pending())
        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        waitUntil("offline shown") { main.text(R.id.status_line).startsWith(main.getString(R.string.offline)) }
        assertTrue(main.text(R.id.status_line), main.text(R.id.status_line).contains(main.getString(R.string.sync_pending, 1)))

        // The connection returns: what waited goes, without anyone asking.
        online()
        waitUntil("sent when the connection came back") { pending() == 0uL }
        waitUntil("online shown") { main.text(R.id.status_line).startsWith(main.getString(R.string.online)) }

        // A reboot: the job is scheduled again (a system may drop it) and what waited goes. The
        // connection is there when the phone starts; no callback reports it returning.
        jobs.cancel(SyncJob.ID)
        offline()
        note("Na de herstart")
        online(tell = false)
        assertEquals(1uL, pending())
        BootReceiver().onReceive(app, Intent(Intent.ACTION_BOOT_COMPLETED))
        assertNotNull(jobs.getPendingJob(SyncJob.ID))
        waitUntil("sent after the reboot") { pending() == 0uL }

        // The periodic job, run by the system: what waited goes, and the job says it is done.
        offline()
        note("Bij de periodieke ronde")
        online(tell = false)
        val service = Robolectric.buildService(SyncJob::class.java).create().get()
        assertTrue("the job works on in the background", service.onStartJob(jobParameters()))
        waitUntil("sent by the periodic job") { pending() == 0uL }
        waitUntil("the job finished") { shadowOf(service).isJobFinished }

        // The colleague sees all four.
        team.phone(team.colleague, "ahmed").use { colleague ->
            runBlocking {
                colleague.sync(team.url)
                assertEquals(4, colleague.latest(10).items.size)
            }
        }
    }

    @Test
    fun aRevokedPhoneIsWipedAndBackAtEnrolment() {
        enrolled()
        note("Iets wat weg moet")
        synced(Trigger.MANUAL)
        val device = runBlocking { app.store().identity() }!!.deviceId
        val key = File(app.noBackupFilesDir, "test-store.key")
        assertTrue(key.exists() && app.storeFile().exists())
        team.admin("revoke", device)

        // The walker opens the sync screen and asks: the answer is "revoked".
        val sync = Robolectric.buildActivity(SyncActivity::class.java).setup().get()
        sync.tap(R.id.sync_now)
        waitUntil("wiped") { app.wiped.value == 1 }
        assertFalse("the store's file is gone", app.storeFile().exists())
        for (suffix in listOf("-wal", "-shm", "-journal")) assertFalse(File(app.storeFile().path + suffix).exists())
        assertFalse("the key is gone", key.exists())
        assertFalse(app.enrolled)
        assertNull("no periodic sync any more", app.getSystemService(JobScheduler::class.java).getPendingJob(SyncJob.ID))

        // The app is back at enrolment, with a fresh, empty store.
        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        assertTrue(main.isFinishing)
        assertEquals(EnrolActivity::class.java.name, shadowOf(main).nextStartedActivity.component?.className)
        assertNull(runBlocking { app.store().identity() })
        assertEquals(0, runBlocking { app.store().latest(10).items.size })
    }

    @Test
    fun aRevocationLearntWhenTheConnectionReturnsWipesToo() {
        enrolled()
        note("Iets")
        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        waitUntil("the walk screen") { main.text(R.id.status_line).isNotEmpty() }
        offline()
        team.admin("revoke", runBlocking { app.store().identity() }!!.deviceId)
        online()
        waitUntil("wiped") { app.wiped.value == 1 }
        assertFalse(app.storeFile().exists())
        // The open walk screen sees it and goes to enrolment.
        waitUntil("back at enrolment") { main.isFinishing }
        assertEquals(EnrolActivity::class.java.name, shadowOf(main).nextStartedActivity.component?.className)
    }

    @Test
    fun theLocationServiceRunsInTheForegroundWithItsType() {
        enrolled()
        shadowOf(app).grantPermissions(Manifest.permission.ACCESS_FINE_LOCATION, Manifest.permission.POST_NOTIFICATIONS)
        runBlocking { app.store().startWalk("Ronde") }
        assertTrue(app.startRoute())
        val intent = shadowOf(app).nextStartedService
        val service = Robolectric.buildService(WalkLocationService::class.java, intent).create().startCommand(0, 1).get()
        assertNotNull(shadowOf(service).lastForegroundNotification)
        assertEquals(android.content.pm.ServiceInfo.FOREGROUND_SERVICE_TYPE_LOCATION, service.foregroundServiceType)
        assertFalse(shadowOf(service).isStoppedBySelf)
    }
}

/** The oldest Android the app supports (API 26): the foreground service's two-argument start. */
@RunWith(WvTestRunner::class)
@Config(sdk = [26], application = TestApp::class, qualifiers = "nl")
class OldestAndroidTest {
    @Test
    fun theLocationServiceStartsOnAndroid8() {
        shadowOf(app).grantPermissions(Manifest.permission.ACCESS_FINE_LOCATION)
        val service = Robolectric.buildService(WalkLocationService::class.java).create().startCommand(0, 1).get()
        assertNotNull(shadowOf(service).lastForegroundNotification)
        assertFalse(shadowOf(service).isStoppedBySelf)
        // The walk screen renders on it too (framework calls of later APIs would throw here).
        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        assertTrue("not enrolled: to enrolment", main.isFinishing)
        val enrol = Robolectric.buildActivity(EnrolActivity::class.java).setup().get()
        assertEquals(enrol.getString(R.string.enrol_title), enrol.title)
    }
}
