package nl.wijkverkenner.app

import android.app.Activity
import android.app.AlertDialog
import android.content.Intent
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.media.ExifInterface
import android.net.Uri
import android.provider.MediaStore
import android.view.View
import kotlinx.coroutines.runBlocking
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
import org.robolectric.annotation.GraphicsMode
import org.robolectric.shadows.ShadowAlertDialog

/**
 * A photo from the capture flow: the platform camera through an intent into the app's own
 * provider, the notice before the first photo, the shot turned upright, scaled to 2048 px and
 * handed to the core (which cleans it), the file gone, the photo at the team server — with the
 * real Bitmap codecs (Robolectric's native graphics), the real core and a real server.
 */
@RunWith(WvTestRunner::class)
@Config(sdk = [34], application = TestApp::class, qualifiers = "nl")
@GraphicsMode(GraphicsMode.Mode.NATIVE)
class PhotoTest {
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

    /** What a camera app writes: a landscape sensor image, tagged "turn 90°", with GPS and make. */
    private fun cameraWrites(uri: Uri, width: Int, height: Int) {
        val b = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
        val c = Canvas(b)
        c.drawColor(Color.rgb(40, 90, 140))
        c.drawRect(0f, 0f, width / 4f, height.toFloat(), Paint().apply { color = Color.rgb(220, 60, 30) })
        app.contentResolver.openOutputStream(uri)!!.use { b.compress(Bitmap.CompressFormat.JPEG, 90, it) }
        val file = PhotoProvider.shotFile(app.noBackupFilesDir)
        ExifInterface(file.path).apply {
            setAttribute(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_ROTATE_90.toString())
            setAttribute(ExifInterface.TAG_MAKE, "Fairphone")
            setAttribute(ExifInterface.TAG_MODEL, "FP5-CANARY")
            setAttribute(ExifInterface.TAG_GPS_LATITUDE, "52/1,4/1,1380/100")
            setAttribute(ExifInterface.TAG_GPS_LATITUDE_REF, "N")
            setAttribute(ExifInterface.TAG_GPS_LONGITUDE, "5/1,6/1,1584/100")
            setAttribute(ExifInterface.TAG_GPS_LONGITUDE_REF, "E")
            saveAttributes()
        }
        assertTrue(String(file.readBytes(), Charsets.ISO_8859_1).contains("FP5-CANARY"))
    }

    @Test
    fun aPhotoFromThePlatformCameraReachesTheTeamUprightAndClean() {
        Robolectric.setupContentProvider(PhotoProvider::class.java, PhotoProvider.AUTHORITY)
        enrolled()
        val store = app.store()
        val walk = runBlocking { store.startWalk("Fotoronde") }
        val obs = runBlocking {
            store.capture(walk.id, RecordBody.Observation(Observation(listOf("obs.litter"), Tone.CONCERN, "Afval gedumpt")), null)
        }
        val screen = Robolectric.buildActivity(RecordActivity::class.java, Intent(app, RecordActivity::class.java).putExtra(RecordActivity.RECORD, obs.id)).setup().get()
        waitUntil("the photo button") { screen.findViewById<View>(R.id.photo_take) != null }
        assertEquals("0 foto's", screen.text(R.id.photo_summary))

        // The first photo ever: a notice first, then the camera.
        screen.tap(R.id.photo_take)
        val notice = ShadowAlertDialog.getLatestAlertDialog()
        assertTrue(shadowOf(notice).message.toString().contains("kentekens"))
        notice.getButton(AlertDialog.BUTTON_POSITIVE).performClick()
        shadowOf(android.os.Looper.getMainLooper()).idle()
        val asked = shadowOf(screen).nextStartedActivityForResult
        assertNotNull("the camera was asked", asked)
        assertEquals(MediaStore.ACTION_IMAGE_CAPTURE, asked.intent.action)
        @Suppress("DEPRECATION")
        val out = asked.intent.getParcelableExtra<Uri>(MediaStore.EXTRA_OUTPUT)!!
        assertEquals(PhotoProvider.SHOT, out)
        assertTrue("the camera may write the one file", asked.intent.flags and Intent.FLAG_GRANT_WRITE_URI_PERMISSION != 0)
        cameraWrites(out, 2600, 1950)
        shadowOf(screen).receiveResult(asked.intent, Activity.RESULT_OK, null)
        waitUntil("the photo was attached", 30_000) { runBlocking { store.photos(obs.id) }.size == 1 }
        val photo = runBlocking { store.photos(obs.id) }.single()
        assertEquals("upright, long edge 2048", 1536u to 2048u, photo.width to photo.height)
        assertFalse("the shot's file is gone", PhotoProvider.shotFile(app.noBackupFilesDir).exists())
        val kept = runBlocking { store.photo(team.url, photo.id) }
        val text = String(kept, Charsets.ISO_8859_1)
        assertFalse("no make, model or GPS left", text.contains("FP5-CANARY") || text.contains("Fairphone") || text.contains("Exif"))
        val decoded = android.graphics.BitmapFactory.decodeByteArray(kept, 0, kept.size)
        assertEquals(1536 to 2048, decoded.width to decoded.height)
        // Turned: the red band on the sensor's left is at the picture's top now.
        assertTrue(Color.red(decoded.getPixel(768, 100)) > 150 && Color.red(decoded.getPixel(768, 1900)) < 100)

        // The capture's sync takes it to the team; the lead's phone can fetch it.
        waitUntil("uploaded", 30_000) { runBlocking { store.photos(obs.id) }.single().uploaded }
        team.phone(team.lead, "lotte").use { lotte ->
            runBlocking {
                lotte.sync(team.url)
                val listed = lotte.refreshPhotos(team.url, obs.id).single()
                assertTrue(lotte.photo(team.url, listed.id).contentEquals(kept))
            }
        }

        // The next photo goes straight to the camera; a cancelled one leaves nothing behind.
        waitUntil("the screen shows it") { screen.findViewById<View>(R.id.photo_summary)?.let { screen.text(R.id.photo_summary) == "1 foto" } == true }
        // The photo itself, small, under the count.
        waitUntil("the photo's row") { screen.findViewById<android.widget.LinearLayout>(R.id.photo_thumbs)?.childCount == 1 }
        val row = screen.findViewById<android.widget.LinearLayout>(R.id.photo_thumbs)
        val shown = ((row.getChildAt(0) as android.widget.ImageView).drawable as android.graphics.drawable.BitmapDrawable).bitmap
        assertTrue("decoded small: ${shown.width}×${shown.height}", shown.height in 320..1024 && shown.height > shown.width)
        assertEquals("Foto bij deze notitie", row.getChildAt(0).contentDescription)
        screen.tap(R.id.photo_take)
        val again = shadowOf(screen).nextStartedActivityForResult
        assertNotNull("no notice the second time", again)
        app.contentResolver.openOutputStream(PhotoProvider.SHOT)!!.use { it.write(byteArrayOf(1, 2, 3)) }
        shadowOf(screen).receiveResult(again.intent, Activity.RESULT_CANCELED, null)
        assertFalse(PhotoProvider.shotFile(app.noBackupFilesDir).exists())
        assertEquals(1, runBlocking { store.photos(obs.id) }.size)
        // The provider hands out that one file and nothing else.
        val other = runCatching { app.contentResolver.openOutputStream(Uri.parse("content://${PhotoProvider.AUTHORITY}/../wijkverkenner.db")) }
        assertNull(other.getOrNull())
    }
}
