package nl.wijkverkenner.app

import android.Manifest
import android.app.Activity
import android.app.AlertDialog
import android.content.Intent
import android.content.pm.PackageManager
import android.location.Location
import android.location.LocationManager
import android.os.SystemClock
import android.view.View
import android.widget.LinearLayout
import java.time.Instant
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.ffi.Decision
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.Logic
import nl.wijkverkenner.ffi.Mood
import nl.wijkverkenner.ffi.Participant
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.RecordLocation
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.SignalStatus
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.Trust
import nl.wijkverkenner.ffi.WalkStatus
import nl.wijkverkenner.ffi.WvException
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadows.ShadowAlertDialog

/**
 * A whole evening walk in the app, screen by screen, against the real core and a real team
 * server: enrol, start (permissions asked after an explanation), the route from the location
 * service, one note of each kind with every field, edit and delete, end with the summary and the
 * debrief, submit, sync, and the lead's questions seen and answered.
 */
@RunWith(WvTestRunner::class)
@Config(sdk = [34], application = TestApp::class, qualifiers = "nl")
class WalkTest {
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

    private fun <T : Activity> next(from: Activity, type: Class<T>): T {
        val intent = shadowOf(from).nextStartedActivity ?: shadowOf(app).nextStartedActivity
        assertNotNull("${from.javaClass.simpleName} started nothing", intent)
        assertEquals(type.name, intent.component?.className)
        return Robolectric.buildActivity(type, intent).setup().get()
    }

    private fun store() = app.store()

    /**
     * Walks north from Domplein at a brisk 5 m/s: a fix every 0.3 s (the walk in a test lasts
     * seconds; a fix after its end would not count), 1.5 m apart.
     */
    private fun feed(service: WalkLocationService, from: Instant, count: Int, first: Int = 0): List<Location> {
        val lm = app.getSystemService(LocationManager::class.java)
        return (first until first + count).map { i ->
            // The platform delivers at most one fix per requested interval (by its clock).
            shadowOf(android.os.Looper.getMainLooper()).idleFor(java.time.Duration.ofSeconds(5))
            Location(LocationManager.GPS_PROVIDER).apply {
                latitude = 52.0900 + i * 0.0000135
                longitude = 5.1214
                accuracy = 8f
                time = from.plusMillis(300L * (i - first + 1)).toEpochMilli()
                elapsedRealtimeNanos = SystemClock.elapsedRealtimeNanos()
            }.also { shadowOf(lm).simulateLocation(it) }
        }.also { waitUntil("the service got the fixes") { app.lastFix?.lat == it.last().latitude } }
    }

    @Test
    fun aWholeEveningWalk() {
        // Enrol with the lead's code; the first sync brings categories, buurten and colleagues.
        val enrol = Robolectric.buildActivity(EnrolActivity::class.java).setup().get()
        enrol.type(R.id.enrol_server, team.url)
        enrol.type(R.id.enrol_code, team.code(team.walker))
        enrol.tap(R.id.enrol_button)
        waitUntil("enrolled") { enrol.isFinishing }
        assertTrue(app.enrolled)
        assertNotNull("the boundaries came with the first sync", runBlocking { store().buurtenGeoJson() })

        // The walk screen offers a start, and nothing to note before a walk runs.
        val main = next(enrol, MainActivity::class.java)
        waitUntil("the walk screen") { main.text(R.id.walk_status).isNotEmpty() }
        assertEquals(main.getString(R.string.no_walk), main.text(R.id.walk_status))
        assertTrue(main.secure)
        assertEquals(View.GONE, main.view<View>(R.id.capture_signal).visibility)
        assertTrue(main.text(R.id.status_line), main.text(R.id.status_line).startsWith("Online"))
        main.tap(R.id.primary_action)
        waitUntil("the start screen was opened") { shadowOf(main).peekNextStartedActivity() != null }

        // Purpose, focus, a colleague and a guest by role.
        val start = next(main, StartWalkActivity::class.java)
        waitUntil("focus and colleagues") {
            start.view<LinearLayout>(R.id.focus_list).childCount > 0 && start.view<LinearLayout>(R.id.colleague_list).childCount > 0
        }
        val colleagues = start.view<LinearLayout>(R.id.colleague_list)
        assertNull("the walker is not her own colleague", colleagues.findViewWithTag<View>(team.walker))
        start.type(R.id.purpose, "Avondronde Domplein")
        start.pick(R.id.focus_list, "obs.vacancy")
        start.pick(R.id.colleague_list, team.colleague)
        start.type(R.id.guest_role, "wijkagent")
        start.tap(R.id.guest_add)
        assertEquals("wijkagent", start.text(R.id.guest_list))
        start.tap(R.id.start_button)
        // Asked only after saying why, and after the walker has read it (the system's question
        // covers the screen).
        assertEquals(start.getString(R.string.permission_why), start.text(R.id.permission_text))
        assertNull(shadowOf(start).lastRequestedPermission)
        assertEquals(start.getString(R.string.permission_continue), start.text(R.id.start_button))
        start.tap(R.id.start_button)
        val asked = shadowOf(start).lastRequestedPermission
        assertTrue(asked.requestedPermissions.contains(Manifest.permission.ACCESS_FINE_LOCATION))
        assertTrue("approximate may be chosen", asked.requestedPermissions.contains(Manifest.permission.ACCESS_COARSE_LOCATION))
        assertTrue(asked.requestedPermissions.contains(Manifest.permission.POST_NOTIFICATIONS))
        shadowOf(app).grantPermissions(*asked.requestedPermissions)
        start.onRequestPermissionsResult(
            asked.requestCode,
            asked.requestedPermissions,
            IntArray(asked.requestedPermissions.size) { PackageManager.PERMISSION_GRANTED },
        )
        waitUntil("the walk started") { start.isFinishing }
        val walk = runBlocking { store().activeWalk.value }!!
        assertEquals("Avondronde Domplein", walk.purpose)
        assertEquals(listOf("obs.vacancy"), walk.focus)
        assertEquals(
            listOf(Participant.Member(team.colleague, "Ahmed Bakker", "Buurtteam"), Participant.Guest("wijkagent", false)),
            walk.participants,
        )

        // The location service: in the foreground, with its notification, fed by the GPS.
        val serviceIntent = shadowOf(app).nextStartedService
        assertEquals(WalkLocationService::class.java.name, serviceIntent.component?.className)
        val service = Robolectric.buildService(WalkLocationService::class.java, serviceIntent).create().startCommand(0, 1).get()
        assertNotNull(shadowOf(service).lastForegroundNotification)
        assertFalse(shadowOf(service).isStoppedBySelf)
        val fixes = feed(service, Instant.ofEpochMilli(walk.started.at.toEpochMilli()), 12)
        // One reading far off in accuracy: kept, flagged, left out of the route.
        shadowOf(android.os.Looper.getMainLooper()).idleFor(java.time.Duration.ofSeconds(5))
        shadowOf(app.getSystemService(LocationManager::class.java)).simulateLocation(
            Location(LocationManager.GPS_PROVIDER).apply {
                latitude = 52.0930
                longitude = 5.1300
                accuracy = 400f
                time = fixes.last().time + 100
                elapsedRealtimeNanos = SystemClock.elapsedRealtimeNanos()
            },
        )
        shadowOf(android.os.Looper.getMainLooper()).idle()
        val here = fixes.last()

        // An observation: several themes, a tone, a note; placed at the last good fix (the
        // vague reading after it does not count).
        main.tap(R.id.capture_observation)
        val observation = next(main, CaptureActivity::class.java)
        waitUntil("the observation form") { observation.findViewById<View>(R.id.capture_save) != null }
        assertEquals(observation.getString(R.string.capture_where_gps, 8), observation.text(R.id.capture_where))
        observation.tap(R.id.capture_save)
        assertEquals(observation.getString(R.string.problem_no_theme), observation.text(R.id.capture_problems))
        observation.pick(R.id.capture_themes, "obs.vacancy")
        observation.pick(R.id.capture_themes, "obs.youth_groups")
        // The team's own theme, set with the admin CLI, came with the sync.
        observation.pick(R.id.capture_themes, team.theme)
        observation.pick(R.id.capture_tone, Tone.CONCERN)
        observation.type(R.id.capture_note, "Rolluiken dicht, toch licht binnen")
        observation.tap(R.id.capture_save)
        waitUntil("the observation was saved") { observation.isFinishing }
        assertTrue("records are not shown outside the app", observation.secure)
        // Online, the note goes to the team at once, nobody asking (the server accepts the
        // team's own theme).
        waitUntil("the note went to the team") { runBlocking { store().refreshSyncStatus().pending } == 0uL }
        assertEquals(emptyList<String>(), runBlocking { store().refreshSyncStatus().refused })

        // A conversation with every field.
        main.tap(R.id.capture_conversation)
        val conv = next(main, CaptureActivity::class.java)
        waitUntil("the conversation form") { conv.findViewById<View>(R.id.capture_save) != null }
        conv.pick(R.id.capture_roles, "role.youth")
        conv.pick(R.id.capture_roles, "role.professional")
        conv.type(R.id.capture_people, "3")
        conv.type(R.id.capture_duration, "25")
        conv.type(R.id.capture_gist, "Over het nieuwe buurthuis")
        conv.pick(R.id.capture_mood, Mood.OPEN)
        conv.pick(R.id.capture_trust, Trust.HIGH)
        conv.type(R.id.capture_agreements, "Volgende week terugkomen")
        conv.tick(R.id.capture_immediate_help)
        conv.tap(R.id.capture_save)
        waitUntil("the conversation was saved") { conv.isFinishing }

        // A signal: acute, at a known place, with follow-up and a suggested referral, placed
        // with a pin on the map.
        main.tap(R.id.capture_signal)
        val sig = next(main, CaptureActivity::class.java)
        waitUntil("the signal form") { sig.findViewById<View>(R.id.capture_save) != null }
        sig.pick(R.id.capture_category, "sig.youth_recruitment")
        sig.pick(R.id.capture_severity, Severity.ACUTE)
        sig.type(R.id.capture_description, "Jongens worden aangesproken vanuit een auto")
        sig.tick(R.id.capture_known_place)
        sig.type(R.id.capture_follow_up, "Met de wijkagent bespreken")
        sig.pick(R.id.capture_referral, "ref.police")
        sig.tap(R.id.capture_pin)
        val pinIntent = shadowOf(sig).nextStartedActivityForResult
        assertEquals(MapActivity::class.java.name, pinIntent.intent.component?.className)
        val pinMap = Robolectric.buildActivity(MapActivity::class.java, pinIntent.intent).setup().get()
        waitUntil("the pin map") { pinMap.text(R.id.map_legend).isNotEmpty() }
        pinMap.tap(R.id.map_use_pin)
        assertEquals(Activity.RESULT_OK, shadowOf(pinMap).resultCode)
        shadowOf(sig).receiveResult(pinIntent.intent, shadowOf(pinMap).resultCode, shadowOf(pinMap).resultIntent)
        assertEquals(sig.getString(R.string.capture_where_pin), sig.text(R.id.capture_where))
        sig.tap(R.id.capture_save)
        waitUntil("the signal was saved") { sig.isFinishing }

        // A note without location (indoors), deleted again.
        main.tap(R.id.capture_observation)
        val indoors = next(main, CaptureActivity::class.java)
        waitUntil("the form") { indoors.findViewById<View>(R.id.capture_save) != null }
        indoors.pick(R.id.capture_themes, "obs.meeting_place")
        indoors.tap(R.id.capture_no_location)
        indoors.tap(R.id.capture_save)
        waitUntil("saved") { indoors.isFinishing }

        val notes = runBlocking { store().timeline(walk.id).items }
        assertEquals(4, notes.size)
        val o = notes.single { (it.body as? RecordBody.Observation)?.observation?.themes?.size == 3 }
        val ob = (o.body as RecordBody.Observation).observation
        assertEquals(listOf("obs.vacancy", "obs.youth_groups", team.theme), ob.themes)
        assertEquals(Tone.CONCERN, ob.tone)
        assertEquals("Rolluiken dicht, toch licht binnen", ob.note)
        val oLoc = (o.location as RecordLocation.Fix).location
        assertEquals(here.latitude, oLoc.lat, 1e-9)
        assertEquals(LocationSource.GPS, oLoc.source)
        assertEquals("the buurt is the team's", "0611", o.buurt)
        val c = (notes.single { it.body is RecordBody.Conversation }.body as RecordBody.Conversation).conversation
        assertEquals(listOf("role.youth", "role.professional"), c.roles)
        assertEquals(3, c.people.toInt())
        assertEquals(25, c.durationMin.toInt())
        assertEquals("Over het nieuwe buurthuis", c.gist)
        assertEquals(Mood.OPEN, c.mood)
        assertEquals(Trust.HIGH, c.trust)
        assertEquals("Volgende week terugkomen", c.agreements)
        assertTrue(c.immediateHelp)
        val signal = notes.single { it.body is RecordBody.Signal }
        val s = (signal.body as RecordBody.Signal).signal
        assertEquals("sig.youth_recruitment", s.category)
        assertEquals(Severity.ACUTE, s.severity)
        assertEquals("Jongens worden aangesproken vanuit een auto", s.description)
        assertTrue(s.atKnownPlace)
        assertEquals("Met de wijkagent bespreken", s.followUp)
        assertEquals("ref.police", s.suggestedReferral)
        assertEquals(LocationSource.MANUAL_PIN, (signal.location as RecordLocation.Fix).location.source)
        val inside = notes.single { (it.body as? RecordBody.Observation)?.observation?.themes == listOf("obs.meeting_place") }
        // Indoors: the walk's last good fix, marked as inherited.
        assertEquals(here.latitude, (inside.location as RecordLocation.Inherited).location.lat, 1e-9)

        // Edit the observation from its screen; delete the indoor note.
        val record = Robolectric.buildActivity(RecordActivity::class.java, Intent(app, RecordActivity::class.java).putExtra(RecordActivity.RECORD, o.id)).setup().get()
        waitUntil("the note") { record.findViewById<View>(R.id.record_edit) != null }
        assertTrue(record.text(R.id.record_body), record.text(R.id.record_body).contains("Leegstaand of altijd 'open' pand, Groepen jongeren, Drugsafval"))
        assertTrue(record.secure)
        record.tap(R.id.record_edit)
        val edit = next(record, CaptureActivity::class.java)
        waitUntil("the edit form") { edit.findViewById<View>(R.id.capture_save) != null }
        assertEquals("Rolluiken dicht, toch licht binnen", edit.text(R.id.capture_note))
        assertNull("an edit corrects a place, it does not take it away", edit.findViewById<View>(R.id.capture_no_location))
        edit.type(R.id.capture_note, "Rolluiken dicht, 's avonds licht binnen")
        edit.tap(R.id.capture_save)
        waitUntil("the edit was saved") { edit.isFinishing }
        assertEquals("Rolluiken dicht, 's avonds licht binnen", (runBlocking { store().record(o.id) }.body as RecordBody.Observation).observation.note)

        val gone = Robolectric.buildActivity(CaptureActivity::class.java, Intent(app, CaptureActivity::class.java).putExtra(CaptureActivity.RECORD, inside.id)).setup().get()
        waitUntil("the edit form") { gone.findViewById<View>(R.id.capture_delete) != null }
        gone.tap(R.id.capture_delete)
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        dialog.getButton(AlertDialog.BUTTON_POSITIVE).performClick()
        waitUntil("deleted") { gone.isFinishing }
        try {
            runBlocking { store().record(inside.id) }
            fail("the deleted note is still there")
        } catch (e: WvException.NotFound) {
            // as it should
        }

        // The timeline shows labels, never codes.
        val timeline = Robolectric.buildActivity(TimelineActivity::class.java).setup().get()
        waitUntil("the timeline") { timeline.findViewById<View>(R.id.timeline_list) != null }
        assertTrue(timeline.secure)
        val lines = timeline.view<LinearLayout>(R.id.timeline_list).let { l -> (0 until l.childCount).map { (l.getChildAt(it) as android.widget.TextView).text.toString() } }
        assertEquals(3, lines.size)
        assertTrue(lines.toString(), lines.any { it.contains("Werving van jongeren (jonge aanwas)") && it.contains("Acuut") })
        assertFalse(lines.toString(), lines.any { it.contains("sig.") || it.contains("obs.") || it.contains("role.") })

        // Two more fixes after the last note: still in the app's batch, handed on at the end.
        val last = feed(service, Instant.ofEpochMilli(fixes.last().time + 100), 2, first = 12)

        // End: asked once more, then the summary with the buurt and the unreliable reading. The
        // fixes carry times from the walk's start on; a fast machine gets here before the last
        // of them, and a fix after the end does not count, so the walk lasts until then.
        while (System.currentTimeMillis() < last.last().time + 500) Thread.sleep(50)
        main.tap(R.id.end_walk)
        val end = next(main, EndWalkActivity::class.java)
        end.tap(R.id.end_confirm)
        waitUntil("the summary") { end.findViewById<View>(R.id.end_summary) != null }
        val summary = end.text(R.id.end_summary)
        assertTrue(summary, summary.contains("Domplein, Neude, Jan"))
        assertTrue(summary, summary.contains(end.getString(R.string.end_flagged, 1, 15)))
        assertTrue(summary, summary.contains(end.getString(R.string.end_records, 3)))
        assertEquals(WalkLocationService::class.java.name, shadowOf(app).nextStoppedService.component?.className)
        val ended = runBlocking { store().walk(walk.id) }
        assertEquals(WalkStatus.ENDED, ended.status)
        assertEquals("every fix reached the core, the last batch too", 15u, ended.summary!!.fixes)
        assertTrue("${ended.summary}", ended.summary!!.distanceM > 12)

        // The debrief, and submit.
        end.pick(R.id.debrief_logic, Logic.SITUATIONAL)
        end.type(R.id.debrief_note, "Rustig, maar de auto bij de kerk valt op")
        end.tap(R.id.end_submit)
        waitUntil("submitted") { end.isFinishing }
        val submitted = runBlocking { store().walk(walk.id) }
        assertEquals(WalkStatus.SUBMITTED, submitted.status)
        assertEquals(Logic.SITUATIONAL, submitted.debrief?.dominant)
        waitUntil("everything sent") { runBlocking { store().refreshSyncStatus() }.pending == 0uL }

        // The lead sees it all, and asks about the signal and about the walk.
        val lead = team.phone(team.lead, "lead")
        lead.use {
            runBlocking {
                lead.sync(team.url)
                assertEquals("Rustig, maar de auto bij de kerk valt op", lead.walk(walk.id).debrief?.note)
                assertEquals(3, lead.timeline(walk.id).items.size)
                lead.review(signal.id, Decision(SignalStatus.REFERRED, "ref.police", "Welke auto was het?"))
                lead.reviewWalk(walk.id, "Waarom langs de kerk?", false)
                assertEquals("Waarom langs de kerk?", lead.walk(walk.id).review.question)
                val o = lead.sync(team.url)
                assertEquals(lead.refreshSyncStatus().refused.toString(), 0u, o.refused)
            }

            // The walker syncs and sees the two questions with a badge.
            val sync = Robolectric.buildActivity(SyncActivity::class.java).setup().get()
            waitUntil("the sync screen") { sync.text(R.id.sync_state).isNotEmpty() }
            sync.tap(R.id.sync_now)
            waitUntil("synced") { runBlocking { store().record(signal.id) }.review.question != null }
            val back = Robolectric.buildActivity(MainActivity::class.java).setup().get()
            waitUntil("the badge") { back.view<View>(R.id.questions_button).visibility == View.VISIBLE }
            assertEquals(back.getString(R.string.questions_badge, 2), back.text(R.id.questions_button))
            back.tap(R.id.questions_button)
            val questions = next(back, QuestionsActivity::class.java)
            waitUntil("the questions") { questions.findViewById<LinearLayout>(R.id.questions_list)?.childCount == 2 }

            // Answer the signal's question on its screen: referred, so it can no longer be changed.
            val signalScreen = Robolectric.buildActivity(RecordActivity::class.java, Intent(app, RecordActivity::class.java).putExtra(RecordActivity.RECORD, signal.id)).setup().get()
            waitUntil("the signal") { signalScreen.findViewById<View>(R.id.record_question) != null }
            assertTrue(signalScreen.text(R.id.record_review), signalScreen.text(R.id.record_review).contains("Doorverwezen naar Politie"))
            assertEquals(signalScreen.getString(R.string.frozen_referred), signalScreen.text(R.id.record_frozen))
            assertNull(signalScreen.findViewById<View>(R.id.record_edit))
            signalScreen.type(R.id.question_answer, "Een grijze Audi")
            signalScreen.tap(R.id.question_send)
            waitUntil("answered") { signalScreen.findViewById<View>(R.id.record_answer) != null }

            // And the walk's, on its report among the past walks.
            val walks = Robolectric.buildActivity(WalksActivity::class.java).setup().get()
            waitUntil("the walks") { walks.findViewById<LinearLayout>(R.id.walks_list)?.childCount == 1 }
            val walkLine = (walks.view<LinearLayout>(R.id.walks_list).getChildAt(0) as android.widget.TextView).text.toString()
            assertTrue(walkLine, walkLine.contains("Avondronde Domplein") && walkLine.contains("ingediend") && walkLine.contains("vraag"))
            walks.view<LinearLayout>(R.id.walks_list).getChildAt(0).performClick()
            val report = next(walks, WalkReportActivity::class.java)
            waitUntil("the report") { report.findViewById<View>(R.id.report_question) != null }
            assertTrue(report.text(R.id.report_debrief), report.text(R.id.report_debrief).startsWith("Situationeel"))
            report.type(R.id.question_answer, "Daar staat de auto vaak")
            report.tap(R.id.question_send)
            waitUntil("answered") { report.findViewById<View>(R.id.report_answer) != null }

            waitUntil("the answers were sent") { runBlocking { store().refreshSyncStatus() }.pending == 0uL && runBlocking { store().openQuestions() }.isEmpty() }
            runBlocking {
                lead.sync(team.url)
                assertEquals("Een grijze Audi", lead.record(signal.id).review.answer)
                assertEquals("Daar staat de auto vaak", lead.walk(walk.id).review.answer)
            }
        }
    }
}
