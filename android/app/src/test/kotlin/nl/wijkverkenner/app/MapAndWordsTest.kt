package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.content.res.Configuration
import android.database.sqlite.SQLiteDatabase
import android.view.WindowManager
import java.io.File
import java.time.Instant
import java.util.Locale
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.Observation
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.Signal
import nl.wijkverkenner.ffi.Tone
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotEquals
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.osmdroid.tileprovider.modules.OfflineTileProvider
import org.osmdroid.views.MapView
import org.osmdroid.views.overlay.Marker
import org.osmdroid.views.overlay.Polygon
import org.osmdroid.views.overlay.Polyline
import org.robolectric.Robolectric
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** The map (osmdroid, no network needed) and the app's words in Dutch and English. */
@RunWith(WvTestRunner::class)
@Config(sdk = [34], application = TestApp::class, qualifiers = "nl")
class MapAndWordsTest {
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

    private fun enrolled() {
        runBlocking { app.store().enrol(team.url, team.code(team.walker), "Pixel") }
        app.serverUrl = team.url
        app.markEnrolled()
        val job = app.requestSync(nl.wijkverkenner.android.Trigger.MANUAL)!!
        waitUntil("the first sync") { job.isCompleted }
    }

    private fun at(lat: Double, lon: Double) = Location(lat, lon, 6.0, Instant.now(), LocationSource.GPS)

    @Test
    fun theMapShowsBuurtenTrackNotesAndTheTeamsEarlierNotesWithoutNetwork() {
        // A colleague noted something here last week.
        team.phone(team.colleague, "ahmed").use { ahmed ->
            runBlocking {
                val w = ahmed.startWalk("Eerdere ronde")
                ahmed.capture(w.id, RecordBody.Observation(Observation(listOf("obs.litter"), Tone.CONCERN, "Dumping")), at(52.0903, 5.1216))
                ahmed.endWalk(w.id)
                ahmed.sync(team.url)
            }
        }
        enrolled()
        val store = app.store()
        val walk = runBlocking { store.startWalk("Kaartronde") }
        val t0 = walk.started.at
        for (i in 0 until 4) app.fix(Fix(t0.plusMillis(300L * (i + 1)), 52.0900 + i * 0.0000135, 5.1214, 6.0, LocationSource.GPS))
        val signal = runBlocking {
            app.flushFixes()
            store.capture(walk.id, RecordBody.Signal(Signal("sig.drug_dealing", Severity.HIGH, "Overdracht", false, "", null)), at(52.0901, 5.1214))
        }

        // Out on the street without a connection: everything the map shows is on the phone.
        offline()
        val activity = Robolectric.buildActivity(MapActivity::class.java).setup().get()
        waitUntil("the map") { activity.text(R.id.map_legend).isNotEmpty() }
        assertTrue("no screenshots of the map", activity.window.attributes.flags and WindowManager.LayoutParams.FLAG_SECURE != 0)
        val map = activity.view<MapView>(R.id.map_view)
        val polygons = map.overlays.filterIsInstance<Polygon>()
        assertTrue("Utrecht's buurten: ${polygons.size}", polygons.size >= 111)
        assertTrue(polygons.any { it.title == "Domplein, Neude, Jan" })
        val track = map.overlays.filterIsInstance<Polyline>().single()
        assertEquals(52.0900, track.actualPoints.first().latitude, 1e-9)
        val markers = map.overlays.filterIsInstance<Marker>()
        val mine = markers.single { it.id == signal.id }
        assertTrue(mine.title, mine.title.contains("Drugshandel"))
        val earlier = markers.single { it.id != signal.id }
        assertTrue(earlier.title, earlier.title.startsWith("Eerder") && earlier.title.contains("Zwerfafval en dumpingen"))
        val legend = activity.text(R.id.map_legend)
        assertTrue(legend, legend.contains(activity.getString(R.string.map_nearby, 1)))
        assertTrue("without an archive, no background map: $legend", legend.contains(activity.getString(R.string.map_no_tiles)))
    }

    @Test
    fun aPinIsPlacedAndReturnedAndAnOfflineArchiveIsUsed() {
        enrolled()
        // The administrator's offline tiles: an MBTiles archive in the app's files.
        val archive = File(app.getExternalFilesDir(null), "kaart.mbtiles")
        SQLiteDatabase.openOrCreateDatabase(archive, null).use { db ->
            db.execSQL("CREATE TABLE metadata (name TEXT, value TEXT)")
            db.execSQL("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
            db.execSQL("INSERT INTO metadata VALUES ('name', 'utrecht'), ('format', 'png')")
        }
        val intent = Intent(app, MapActivity::class.java).putExtra(MapActivity.PIN, true)
            .putExtra(MapActivity.LAT, 52.0911).putExtra(MapActivity.LON, 5.1222)
        val screen = Robolectric.buildActivity(MapActivity::class.java, intent).setup()
        val activity = screen.get()
        waitUntil("the map") { activity.text(R.id.map_legend).isNotEmpty() }
        val map = activity.view<MapView>(R.id.map_view)
        assertTrue(map.tileProvider is OfflineTileProvider)
        assertFalse(activity.text(R.id.map_legend).contains(activity.getString(R.string.map_no_tiles)))
        val pin = map.overlays.filterIsInstance<Marker>().single { it.id == "pin" }
        assertEquals(52.0911, pin.position.latitude, 1e-9)
        pin.position = org.osmdroid.util.GeoPoint(52.0915, 5.1230)
        activity.tap(R.id.map_use_pin)
        assertEquals(Activity.RESULT_OK, shadowOf(activity).resultCode)
        assertEquals(52.0915, shadowOf(activity).resultIntent.getDoubleExtra(MapActivity.LAT, 0.0), 1e-9)
        assertEquals(5.1230, shadowOf(activity).resultIntent.getDoubleExtra(MapActivity.LON, 0.0), 1e-9)
        screen.pause().stop().destroy() // closes the archive
    }

    @Test
    fun everyStringIsInDutchAndInEnglish() {
        val english = app.createConfigurationContext(Configuration(app.resources.configuration).apply { setLocale(Locale.ENGLISH) })
        val dutch = app.createConfigurationContext(Configuration(app.resources.configuration).apply { setLocale(Locale("nl")) })
        // The same in both languages by nature: names, and words Dutch and English share.
        val same = setOf("app_name", "online", "offline", "map_buurten", "end_buurten", "mood_open", "map_track", "record_status")
        // The app's own strings (R also holds osmdroid's, which are not ours to translate).
        val ours = Regex("<string name=\"([a-z0-9_]+)\"").findAll(Team.repoFile("android/app/src/main/res/values/strings.xml").readText())
            .map { it.groupValues[1] }.toSet()
        val names = R.string::class.java.fields.filter { it.name in ours }.map { it.name to it.getInt(null) }
        assertEquals(ours.size, names.size)
        assertTrue(names.size > 150)
        for ((name, id) in names) {
            val nl = dutch.getString(id)
            val en = english.getString(id)
            assertTrue(name, nl.isNotBlank() && en.isNotBlank())
            if (name !in same) assertNotEquals("$name has no English text", nl, en)
        }
    }

    @Test
    @Config(qualifiers = "en")
    fun theAppSpeaksEnglishToAnEnglishPhone() {
        val enrol = Robolectric.buildActivity(EnrolActivity::class.java).setup().get()
        enrol.type(R.id.enrol_server, team.url)
        enrol.type(R.id.enrol_code, "WRONG-CODE-0000")
        enrol.tap(R.id.enrol_button)
        waitUntil("the refusal") { enrol.text(R.id.enrol_problem).isNotEmpty() }
        assertEquals("This code does not work: expired, used already or mistyped. Ask your team lead for a new one.", enrol.text(R.id.enrol_problem))
        enrol.type(R.id.enrol_code, team.code(team.walker))
        enrol.tap(R.id.enrol_button)
        waitUntil("enrolled") { enrol.isFinishing }
        val main = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        waitUntil("the walk screen") { main.text(R.id.walk_status).isNotEmpty() }
        assertEquals("Start walk", main.text(R.id.primary_action))
        assertEquals("No walk under way", main.text(R.id.walk_status))
        // Categories in English too.
        val labels = runBlocking { app.store().labels(english = Words.english(main)) }
        assertEquals("Drug dealing", labels.of("sig.drug_dealing"))
    }
}
