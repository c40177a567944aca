package nl.wijkverkenner.android

import java.io.File
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.ffi.CancelToken
import nl.wijkverkenner.ffi.HttpResponse
import nl.wijkverkenner.ffi.HttpTransport
import nl.wijkverkenner.ffi.LogLevel
import nl.wijkverkenner.ffi.LogSink
import nl.wijkverkenner.ffi.TransportFailure
import nl.wijkverkenner.ffi.WijkStore
import nl.wijkverkenner.ffi.WvException
import nl.wijkverkenner.ffi.setLogSink
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** Log forwarding and a shell's own transport, across the real FFI. */
class LogAndCancelTest {
    @Test
    fun theCoresLogsReachTheShellsLogger() {
        val lines = CopyOnWriteArrayList<String>()
        setLogSink(
            object : LogSink {
                override fun log(level: LogLevel, target: String, message: String) {
                    lines += "$level $target $message"
                }
            },
            LogLevel.DEBUG,
        )
        val dir = Files.createTempDirectory("wv-log").toFile()
        try {
            // A refused call logs its kind (and never what was typed).
            val store = WijkStore.open(File(dir, "a.db").path, ByteArray(32) { 2 })
            try {
                store.record("not-an-id")
                fail("expected InvalidInput")
            } catch (e: WvException.InvalidInput) {
            }
            assertTrue("log lines: $lines", lines.any { it.contains("core call refused") })
            assertTrue(lines.none { it.contains("not-an-id") })
            store.close()
        } finally {
            dir.deleteRecursively()
        }
    }

    @Test
    fun aShellsOwnTransportIsUsedAndItsFailureIsTyped() = runBlocking {
        val dir = Files.createTempDirectory("wv-cancel").toFile()
        try {
            val store = WijkStore.open(File(dir, "a.db").path, ByteArray(32) { 3 })
            val calls = CopyOnWriteArrayList<String>()
            val refusing = object : HttpTransport {
                override fun serverUrl() = "https://wijkteam.example.nl"

                override fun post(path: String, headers: Map<String, String>, body: ByteArray): HttpResponse {
                    calls += path
                    // The core names every header; before enrolment there is no credential.
                    assertEquals("zstd", headers["Content-Encoding"])
                    assertEquals(null, headers["Authorization"])
                    throw TransportFailure.Failed("geen netwerk")
                }
            }
            // Enrolment through the shell's transport: its failure is a typed Network error.
            try {
                store.enrolWith(refusing, "ABCD-1234", "Pixel")
                fail("expected Network")
            } catch (e: WvException.Network) {
                assertTrue(e.message.contains("geen netwerk"))
            }
            assertEquals(listOf("/v1/enrol"), calls.toList())
            // Not enrolled: a sync says so, without a round trip.
            try {
                store.syncWith(refusing, CancelToken())
                fail("expected NotEnrolled")
            } catch (e: WvException.NotEnrolled) {
            }
            assertEquals(1, calls.size)
            // A shell's transport to a plain-http address elsewhere is refused by the core
            // before anything is sent: the rule does not depend on the shell checking it.
            val careless = object : HttpTransport {
                override fun serverUrl() = "http://wijkteam.example.nl"

                override fun post(path: String, headers: Map<String, String>, body: ByteArray): HttpResponse {
                    calls += "careless $path"
                    return HttpResponse(200u, ByteArray(0))
                }
            }
            try {
                store.enrolWith(careless, "ABCD-1234", "Pixel")
                fail("expected Network")
            } catch (e: WvException.Network) {
                assertTrue(e.message, e.message.contains("https://"))
            }
            assertEquals(1, calls.size)
            store.close()
        } finally {
            dir.deleteRecursively()
        }
    }
}
