package nl.wijkverkenner.android

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.util.concurrent.CopyOnWriteArrayList
import nl.wijkverkenner.ffi.TransportFailure
import nl.wijkverkenner.ffi.WvException
import nl.wijkverkenner.ffi.maxResponseBytes
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/** The platform transport against a real HTTP server on this machine (the JDK's). */
class PlatformTransportTest {
    private fun serve(handler: (com.sun.net.httpserver.HttpExchange) -> Unit): HttpServer =
        HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            createContext("/") { ex -> ex.use { handler(it) } }
            start()
        }

    private val HttpServer.url get() = "http://127.0.0.1:${address.port}"

    @Test
    fun sendsTheHeadersAndBodyAndReturnsStatusAndRawBody() {
        val seen = CopyOnWriteArrayList<String>()
        val server = serve { ex ->
            seen += "${ex.requestMethod} ${ex.requestURI} ${ex.requestHeaders.getFirst("Content-Encoding")} ${ex.requestHeaders.getFirst("Authorization")}"
            val got = ex.requestBody.readBytes()
            val answer = got.reversedArray()
            ex.sendResponseHeaders(409, answer.size.toLong())
            ex.responseBody.write(answer)
        }
        try {
            val r = PlatformTransport(server.url + "/").post(
                "/v1/sync", mapOf("Content-Encoding" to "zstd", "Authorization" to "Bearer x"), byteArrayOf(1, 2, 3))
            // An error status is an answer, not a failure: the core reads the problem in it.
            assertEquals(409, r.status.toInt())
            assertArrayEquals(byteArrayOf(3, 2, 1), r.body)
            assertEquals(listOf("POST /v1/sync zstd Bearer x"), seen.toList())
        } finally {
            server.stop(0)
        }
    }

    @Test
    fun anUnauthorisedAnswerKeepsItsBodyForTheCore() {
        // A revoked phone learns it from the body of a 401 ("wipe": true).
        val server = serve { ex ->
            ex.requestBody.readBytes()
            val answer = """{"error":"revoked","wipe":true}""".toByteArray()
            ex.sendResponseHeaders(401, answer.size.toLong())
            ex.responseBody.write(answer)
        }
        try {
            val r = PlatformTransport(server.url).post("/v1/sync", mapOf("Authorization" to "Bearer x"), ByteArray(100))
            assertEquals(401, r.status.toInt())
            assertEquals("""{"error":"revoked","wipe":true}""", String(r.body))
        } finally {
            server.stop(0)
        }
    }

    @Test
    fun followsNoRedirectSoTheCredentialStaysWithTheTeamServer() {
        val elsewhere = CopyOnWriteArrayList<String>()
        val other = serve { ex -> elsewhere += ex.requestURI.toString(); ex.sendResponseHeaders(200, -1) }
        val server = serve { ex ->
            ex.responseHeaders.add("Location", other.url + "/v1/sync")
            ex.sendResponseHeaders(307, -1)
        }
        try {
            val r = PlatformTransport(server.url).post("/v1/sync", mapOf("Authorization" to "Bearer x"), ByteArray(10))
            assertEquals(307, r.status.toInt())
            assertTrue(elsewhere.isEmpty())
        } finally {
            server.stop(0); other.stop(0)
        }
    }

    @Test
    fun anAnswerLongerThanTheProtocolAllowsIsAFailure() {
        val tooLong = maxResponseBytes().toLong() + 1
        val server = serve { ex ->
            ex.sendResponseHeaders(200, tooLong)
            val chunk = ByteArray(1 shl 16)
            var left = tooLong
            try {
                while (left > 0) { val n = minOf(left, chunk.size.toLong()).toInt(); ex.responseBody.write(chunk, 0, n); left -= n }
            } catch (e: java.io.IOException) { /* the client hung up: expected */ }
        }
        try {
            PlatformTransport(server.url).post("/v1/sync", emptyMap(), ByteArray(0))
            fail("expected a failure")
        } catch (e: TransportFailure.Failed) {
            assertTrue(e.reason, e.reason.contains("longer than the protocol allows"))
        } finally {
            server.stop(0)
        }
    }

    @Test
    fun aServerThatTricklesItsAnswerIsCutAtTheRoundTripsDeadline() {
        val server = serve { ex ->
            ex.sendResponseHeaders(200, 1000)
            try {
                repeat(1000) { ex.responseBody.write(0); ex.responseBody.flush(); Thread.sleep(100) }
            } catch (e: java.io.IOException) { /* cut: expected */ }
        }
        try {
            PlatformTransport(server.url, roundTripMs = 1_000).post("/v1/sync", emptyMap(), ByteArray(1))
            fail("expected a failure")
        } catch (e: TransportFailure.Failed) {
            assertTrue(e.reason, e.reason.contains("took longer than 1000 ms"))
        } finally {
            server.stop(0)
        }
    }

    @Test
    fun anyExceptionBecomesATransportFailureWithoutDetail() {
        // The core accepts the address (its rule is the scheme); the JDK refuses the port.
        try {
            PlatformTransport("https://127.0.0.1:700000").post("/v1/sync", mapOf("Authorization" to "Bearer geheim"), ByteArray(1))
            fail("expected a failure")
        } catch (e: TransportFailure.Failed) {
            assertTrue(e.reason, !e.reason.contains("geheim") && !e.reason.contains("\tat "))
        }
    }

    @Test
    fun aClosedPortIsAFailureAndPlainHttpElsewhereIsRefusedBeforeAnyByteIsSent() {
        val port = java.net.ServerSocket(0).use { it.localPort }
        try {
            PlatformTransport("http://127.0.0.1:$port").post("/v1/sync", emptyMap(), ByteArray(1))
            fail("expected a failure")
        } catch (e: TransportFailure.Failed) {
            assertTrue(e.reason, e.reason.contains("ConnectException"))
        }
        try {
            PlatformTransport("http://wijkteam.example.nl")
            fail("expected InvalidInput")
        } catch (e: WvException.InvalidInput) {
            assertTrue(e.message.contains("https://"))
        }
    }
}
