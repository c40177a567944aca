package nl.wijkverkenner.android

import java.io.File
import java.net.ServerSocket
import java.nio.file.Files
import java.time.Instant
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.ffi.Conversation
import nl.wijkverkenner.ffi.Decision
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.Mood
import nl.wijkverkenner.ffi.Observation
import nl.wijkverkenner.ffi.PersonalDataKind
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.RecordLocation
import nl.wijkverkenner.ffi.Severity
import nl.wijkverkenner.ffi.Signal
import nl.wijkverkenner.ffi.SignalStatus
import nl.wijkverkenner.ffi.SyncState
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.Trust
import nl.wijkverkenner.ffi.WijkStore
import nl.wijkverkenner.ffi.WvException
import nl.wijkverkenner.ffi.serverUrlIsAllowed
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** The Kotlin library against the real Rust library (JNA) and a real team server process. */
class WijkverkennerTest {
    private val dir: File = Files.createTempDirectory("wv-kotlin").toFile()
    private val key = ByteArray(32) { 7 }
    private var server: Process? = null

    @After
    fun cleanUp() {
        server?.destroy()
        server?.waitFor()
        dir.deleteRecursively()
    }

    /** The capture form asks the core for personal data in its texts, and replaces it. */
    @Test
    fun personalDataInAFormIsNamedAndReplaced() {
        val f = CaptureForm(Kind.SIGNAL)
        f.category = "sig.exploitation"
        f.description = "Mevr. Jansen zegt dat haar buurman 06-12345678 belt"
        f.followUp = "Terugmailen naar k.devries@example.nl, kenteken 12-ABC-3"
        assertEquals(
            listOf(PersonalDataKind.NAME, PersonalDataKind.PHONE, PersonalDataKind.EMAIL, PersonalDataKind.PLATE),
            f.personalData(),
        )
        f.redactPersonalData()
        assertEquals("Mevr. [naam] zegt dat haar buurman [telefoonnummer] belt", f.description)
        assertEquals("Terugmailen naar [e-mailadres], kenteken [kenteken]", f.followUp)
        assertEquals(emptyList<PersonalDataKind>(), f.personalData())
        assertEquals(emptyList<PersonalDataKind>(), CaptureForm(Kind.OBSERVATION).apply { note = "3 jongens bij nr 12 om 22:15" }.personalData())
    }

    /** A phone talks to its team server over https://, or over http:// only to itself. */
    @Test
    fun aServerInClearIsRefused() {
        assertTrue(serverUrlIsAllowed("https://wijkteam.example.nl"))
        assertTrue(serverUrlIsAllowed("http://127.0.0.1:8080"))
        assertFalse(serverUrlIsAllowed("http://wijkteam.example.nl"))
        val dir = Files.createTempDirectory("wv-https").toFile()
        val store = runBlocking { Wijkverkenner.open(File(dir, "store.db").path, ByteArray(32) { 4 }) }
        try {
            runBlocking { store.enrol("http://wijkteam.example.nl", "ABCD-EFGH-JKMN", "Pixel") }
            fail("enrolled over http:// to another host")
        } catch (e: WvException.InvalidInput) {
            assertTrue(e.reason, e.reason.contains("https://"))
        } finally {
            store.close()
            dir.deleteRecursively()
        }
    }

    /** A JPEG as a phone's camera writes one: JFIF from ImageIO, then an EXIF segment with a GPS note. */
    private fun cameraJpeg(): ByteArray {
        val image = java.awt.image.BufferedImage(320, 240, java.awt.image.BufferedImage.TYPE_INT_RGB)
        for (x in 0 until 320) for (y in 0 until 240) image.setRGB(x, y, (x * 0x010203 + y * 0x030201) and 0xFFFFFF)
        val out = java.io.ByteArrayOutputStream()
        javax.imageio.ImageIO.write(image, "jpg", out)
        val jfif = out.toByteArray()
        val exif = "Exif\u0000\u0000GPS 52.0907 N 5.1214 E".toByteArray(Charsets.ISO_8859_1)
        val segment = byteArrayOf(0xFF.toByte(), 0xE1.toByte(), ((exif.size + 2) shr 8).toByte(), ((exif.size + 2) and 0xFF).toByte()) + exif
        return jfif.copyOfRange(0, 2) + segment + jfif.copyOfRange(2, jfif.size)
    }

    private fun observation(note: String) = RecordBody.Observation(Observation(listOf("obs.vacancy"), Tone.CONCERN, note))

    private fun here(lat: Double = 52.0907, lon: Double = 5.1214) =
        Location(lat, lon, 8.0, Instant.now(), LocationSource.GPS)

    private fun serverBin(): String = System.getProperty("wv.server") ?: error("set -Dwv.server to the wijkverkenner-server binary")

    private fun admin(data: File, vararg args: String): String {
        val p = ProcessBuilder(listOf(serverBin(), "--data", data.path) + args).redirectErrorStream(false).start()
        val out = p.inputStream.bufferedReader().readText().trim()
        assertEquals("admin ${args.toList()}", 0, p.waitFor())
        return out
    }

    /** Starts a real team server on a free port; returns its URL and a code for a new member. */
    private fun startServer(
        members: Int,
        roles: List<String> = List(members) { "field_worker" },
        lockAfterDays: Int? = null,
    ): Pair<String, List<String>> {
        val data = File(dir, "server")
        val team = admin(data, "team-create", "Kotlin-team")
        if (lockAfterDays != null) admin(data, "retention", "--team", team, "--lock-after-days", "$lockAfterDays")
        val codes = (0 until members).map {
            val m = admin(data, "member-add", "--team", team, "--name", "Lid $it", "--role", roles[it])
            admin(data, "enrol-code", "--member", m)
        }
        val port = ServerSocket(0).use { it.localPort }
        server = ProcessBuilder(serverBin(), "--data", data.path, "serve", "--listen", "127.0.0.1:$port")
            .redirectError(File(dir, "server.log"))
            .start()
        val url = "http://127.0.0.1:$port"
        repeat(100) {
            try {
                java.net.URL("$url/health").openStream().use { return url to codes }
            } catch (e: java.io.IOException) {
                Thread.sleep(50)
            }
        }
        fail("the server did not start")
        error("unreachable")
    }

    @Test
    fun recordAWalkAndQueryIt() = runBlocking {
        Wijkverkenner.open(File(dir, "a.db").path, key).use { wv ->
            // Without enrolment there is no member to record for: a typed error, not a crash.
            try {
                wv.startWalk("Avondronde")
                fail("expected NotEnrolled")
            } catch (e: WvException.NotEnrolled) {
                assertTrue(e.message.isNotEmpty())
            }
        }
    }

    @Test
    fun recordSyncAndSeeTheStatusFlow() = runBlocking {
        val (url, codes) = startServer(2)
        val a = Wijkverkenner.open(File(dir, "a.db").path, key)
        val b = Wijkverkenner.open(File(dir, "b.db").path, ByteArray(32) { 9 })
        try {
            val me = a.enrol(url, codes[0], "Pixel A")
            assertEquals("Lid 0", me.displayName)
            // The category picker: Dutch and English labels from the core's taxonomy.
            val signals = a.categories(nl.wijkverkenner.ffi.CategoryKind.SIGNAL_CATEGORY)
            assertTrue(signals.any { it.code == "sig.stash_house" && it.labelNl == "Opslag- of stashpand" && it.sensitive })
            b.enrol(url, codes[1], "Pixel B")

            val start = Instant.now().minusSeconds(15 * 60)
            val walk = a.startWalk("Avondronde", listOf("obs.vacancy"), listOf("wijkagent"), at = start)
            assertEquals(walk.id, a.activeWalk.value?.id)
            // Ten minutes northwards at about 1.1 m/s, a fix every ten seconds.
            val fixes = (0 until 60).map { i ->
                nl.wijkverkenner.ffi.Fix(start.plusSeconds(60L + i * 10), 52.0907 + i * 0.0001, 5.1214, 6.0, LocationSource.GPS)
            }
            assertEquals(60u, a.addFixes(walk.id, fixes).stored)
            // The walk screen's live distance: 59 steps of about 11 m.
            val live = a.distanceM(walk.id)
            assertTrue("live distance $live", live > 600 && live < 700)
            val screen = WalkScreenState.of(a.activeWalk.value, Instant.now(), live)
            assertEquals("${live.toInt()} m", screen.distanceText)
            assertTrue(screen.walking && screen.elapsed.toMinutes() >= 14)
            val obs = a.capture(walk.id, observation("Leeg pand, rolluik half open"), here())
            assertTrue(obs.location is RecordLocation.Fix)
            val talk = a.capture(
                walk.id,
                RecordBody.Conversation(Conversation(listOf("role.entrepreneur"), 1u, 20u, "Zorgen over de buurt", Mood.OPEN, Trust.MEDIUM, "", false)),
                null,
            )
            assertTrue("indoors: the walk's last good fix", talk.location is RecordLocation.Inherited)
            a.capture(walk.id, RecordBody.Signal(Signal("sig.stash_house", Severity.HIGH, "Veel aanloop", false, "", null)), here())

            val timeline = a.timeline(walk.id)
            assertEquals(listOf(obs.id, talk.id), timeline.items.take(2).map { it.id })
            val near = a.near(52.0907, 5.1214, 100.0, Instant.now().minusSeconds(3600), Instant.now().plusSeconds(60))
            assertTrue(near.items.any { it.id == obs.id })

            // A photo of the vacant shop, as a camera app writes it: the core keeps it clean.
            val shot = cameraJpeg()
            val photo = a.attachPhoto(obs.id, shot)
            assertEquals(listOf(photo.id), a.photos(obs.id).map { it.id })
            assertEquals(1, a.photosWaiting())
            val onPhone = a.photos(obs.id).single()
            assertTrue(onPhone.onPhone && !onPhone.uploaded)
            val notAJpeg = runCatching { a.attachPhoto(obs.id, "geen foto".toByteArray()) }.exceptionOrNull()
            assertTrue("$notAJpeg", notAJpeg is WvException.InvalidInput)

            val ended = a.endWalk(walk.id)
            assertNull(a.activeWalk.value)
            assertNotNull(ended.summary)
            assertTrue(ended.summary!!.distanceM > 500)

            assertEquals(4uL, a.refreshSyncStatus().pending)
            val out = a.sync(url)
            assertEquals(4u, out.acknowledged)
            assertEquals(1u, out.photosUploaded)
            assertEquals(0, a.photosWaiting())
            assertTrue(a.photos(obs.id).single().uploaded)
            val status = a.syncStatus.value!!
            assertEquals(SyncState.IDLE, status.state)
            assertEquals(0uL, status.pending)
            assertNotNull(status.lastSuccess)

            // The other phone sees the observation and the conversation, not the sensitive signal.
            // …with the photo's thumbnail, made by the server, small and clean.
            assertEquals(1u, b.sync(url).thumbnailsPulled)
            val theirs = b.latest(50).items.map { it.id }.toSet()
            assertEquals(setOf(obs.id, talk.id), theirs)
            val held = b.heldThumbnail(photo.id)!!
            assertTrue(held.contentEquals(b.thumbnail(url, photo.id)))
            assertNull("the author's own photo has no thumbnail: the phone has the photo", a.heldThumbnail(photo.id))
            val thumb = javax.imageio.ImageIO.read(java.io.ByteArrayInputStream(held))
            assertEquals(320, maxOf(thumb.width, thumb.height))
            // The colleague learns of the photo and fetches it on demand: the same clean bytes.
            val known = b.refreshPhotos(url, obs.id).single()
            assertFalse(known.onPhone)
            val fetched = b.photo(url, known.id)
            assertTrue(fetched.contentEquals(a.photo(url, photo.id)))
            assertFalse("no metadata left", String(fetched, Charsets.ISO_8859_1).contains("Exif"))
            assertNotNull(javax.imageio.ImageIO.read(java.io.ByteArrayInputStream(fetched)))
        } finally {
            a.close()
            b.close()
        }
    }

    @Test
    fun aLeadTriagesOnThePhoneAndReadsTheReport() = runBlocking {
        val (url, codes) = startServer(2, listOf("field_worker", "lead"))
        val a = Wijkverkenner.open(File(dir, "a.db").path, key)
        val lead = Wijkverkenner.open(File(dir, "lead.db").path, ByteArray(32) { 7 })
        try {
            a.enrol(url, codes[0], "Pixel A")
            lead.enrol(url, codes[1], "Pixel L")
            val start = Instant.now().minusSeconds(40 * 60)
            val walk = a.startWalk("Avondronde", listOf("obs.vacancy"), listOf("wijkagent"), at = start)
            a.capture(walk.id, observation("Leeg pand"), here())
            val signal = a.capture(walk.id, RecordBody.Signal(Signal("sig.stash_house", Severity.HIGH, "Veel aanloop", true, "", "ref.police")), here(52.0912))
            a.endWalk(walk.id)
            a.sync(url)
            lead.sync(url)

            // A field worker may not decide.
            try {
                a.review(signal.id, Decision(SignalStatus.IN_REVIEW, null, null))
                fail("expected NotAllowed")
            } catch (e: WvException.NotAllowed) {
                assertTrue(e.message.isNotEmpty())
            }
            lead.review(signal.id, Decision(SignalStatus.REFERRED, "ref.police", "Welke auto was het?"))
            lead.sync(url)
            a.sync(url)
            val mine = a.timeline(walk.id).items.single { it.id == signal.id }
            assertEquals(SignalStatus.REFERRED, mine.review.status)
            assertEquals("Welke auto was het?", mine.review.question)
            // The badge counts it, and not on the lead's phone (not the lead's note).
            assertEquals(listOf(OpenQuestion(walk.id, signal.id, "Welke auto was het?")), a.openQuestions())
            assertEquals(emptyList<OpenQuestion>(), lead.openQuestions())
            a.answer(signal.id, "Een grijze Audi")
            assertEquals(emptyList<OpenQuestion>(), a.openQuestions())
            a.sync(url)
            lead.sync(url)

            val report = lead.walkReport(walk.id)
            assertEquals(2, report.timeline.size)
            val line = report.signals.single()
            assertEquals(SignalStatus.REFERRED, line.status)
            assertEquals("ref.police", line.referral)
            assertEquals("Een grijze Audi", line.review.answer)
            assertTrue(line.atKnownPlace)
            assertEquals(listOf("wijkagent"), report.participants.mapNotNull { it.role })
            val map = lead.walkMapGeoJson(walk.id)
            assertTrue(map, map.contains("\"FeatureCollection\"") && map.contains("\"signal\""))
            val tactics = lead.streetTactics(Instant.now().minusSeconds(86_400), Instant.now())
            assertEquals(1u, tactics.walks)
            assertEquals(1u, tactics.signalsAtKnownPlaces)
        } finally {
            a.close()
            lead.close()
        }
    }

    @Test
    fun badInputIsATypedException() = runBlocking {
        // A wrong key on an existing store.
        Wijkverkenner.open(File(dir, "k.db").path, key).close()
        try {
            Wijkverkenner.open(File(dir, "k.db").path, ByteArray(32) { 1 })
            fail("expected WrongKey")
        } catch (e: WvException.WrongKey) {
        }
        try {
            WijkStore.open(File(dir, "x.db").path, ByteArray(5))
            fail("expected InvalidInput for a short key")
        } catch (e: WvException.InvalidInput) {
        }
        val (url, codes) = startServer(1)
        Wijkverkenner.open(File(dir, "a.db").path, key).use { wv ->
            wv.enrol(url, codes[0], "Pixel")
            val walk = wv.startWalk("Ronde")
            for (bad in listOf(here(lat = Double.NaN), here(lat = 91.0), here(lon = Double.POSITIVE_INFINITY))) {
                try {
                    wv.capture(walk.id, observation("x"), bad)
                    fail("expected InvalidInput")
                } catch (e: WvException.InvalidInput) {
                    assertTrue(e.message.contains("itude"))
                }
            }
            try {
                wv.capture(walk.id, RecordBody.Observation(Observation(listOf("obs.nope"), Tone.NEUTRAL, "")), null)
                fail("expected InvalidInput for an unknown code")
            } catch (e: WvException.InvalidInput) {
            }
            try {
                wv.capture("not-a-walk", observation("x"), null)
                fail("expected InvalidInput for a malformed id")
            } catch (e: WvException.InvalidInput) {
            }
            wv.endWalk(walk.id)
            try {
                wv.capture(walk.id, observation("te laat"), null)
                fail("expected WalkState")
            } catch (e: WvException.WalkState) {
            }
            try {
                wv.sync("http://127.0.0.1:1")
                fail("expected Network")
            } catch (e: WvException.Network) {
                assertEquals(SyncState.FAILED, wv.syncStatus.value?.state)
                assertNotNull(wv.syncStatus.value?.lastError)
            }
        }
    }

    /** The team's retention terms reach the phone: it knows when it locks, and purges by them. */
    @Test
    fun thePhoneTakesTheTeamsTermsAndKnowsWhenItLocks() = runBlocking {
        val (url, codes) = startServer(1, lockAfterDays = 3)
        Wijkverkenner.open(File(dir, "a.db").path, key).use { wv ->
            wv.enrol(url, codes[0], "Pixel A")
            assertNull("no terms before the first sync", wv.locksAt())
            wv.sync(url)
            assertFalse(wv.locked.value)
            val at = wv.locksAt()
            assertNotNull(at)
            val days = java.time.Duration.between(Instant.now(), at).toHours() / 24.0
            assertTrue("locks in $days days", days > 2.9 && days <= 3.0)
            assertEquals(nl.wijkverkenner.ffi.Purged(0u, 0u, 0u), wv.purgeExpired())
        }
    }
}
