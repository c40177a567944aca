package nl.wijkverkenner.android

import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.Proxy
import java.net.URL
import java.util.concurrent.Executors
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.TimeUnit
import nl.wijkverkenner.ffi.HttpResponse
import nl.wijkverkenner.ffi.HttpTransport
import nl.wijkverkenner.ffi.TransportFailure
import nl.wijkverkenner.ffi.checkServerUrl
import nl.wijkverkenner.ffi.maxResponseBytes

/**
 * The phone's way to the team server: the platform's own HTTP stack (`HttpURLConnection`),
 * with its TLS, its trust store (and the app's network security config: pinning, a team's
 * private CA) and the device's proxy settings. The phone library has no HTTP client of its
 * own; the core decides the headers and reads the answer.
 *
 * No redirect is followed (the credential would go with it), nothing is cached, and an answer
 * longer than the protocol allows is a failure. Failure reasons name the kind of failure, not
 * the request. A platform client may resend a request whose answer it lost: the protocol is
 * idempotent (every push is applied once).
 */
class PlatformTransport(serverUrl: String, private val roundTripMs: Long = ROUND_TRIP_MS) : HttpTransport {
    private val base: String

    init {
        checkServerUrl(serverUrl) // WvException.InvalidInput for anything but https:// or this device
        base = serverUrl.trim().trimEnd('/')
    }

    override fun serverUrl(): String = base

    override fun post(path: String, headers: Map<String, String>, body: ByteArray): HttpResponse {
        val connection = try {
            val url = URL(base + path)
            // The device's proxy for the team server; none for this device itself (tests).
            (if (isLoopback()) url.openConnection(Proxy.NO_PROXY) else url.openConnection()) as HttpURLConnection
        } catch (e: Exception) {
            // Any exception, not only I/O (a malformed port is an IllegalArgumentException):
            // what escapes to the core would carry a stack trace into the sync status.
            throw TransportFailure.Failed("could not reach the team server (${e.javaClass.simpleName})")
        }
        // One round trip gets roundTripMs (two minutes) in all: the connection's timeouts bound each wait,
        // not a server that trickles its answer, nor writing the body.
        val deadline = watchdog.schedule({ connection.disconnect() }, roundTripMs, TimeUnit.MILLISECONDS)
        try {
            connection.requestMethod = "POST"
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            connection.doOutput = true
            connection.connectTimeout = CONNECT_TIMEOUT_MS
            connection.readTimeout = READ_TIMEOUT_MS
            // No streaming mode: with it, the JDK's client throws on a 401 instead of giving
            // its body, and a revoked phone learns it from that body. The body is in memory anyway.
            for ((name, value) in headers) connection.setRequestProperty(name, value)
            connection.outputStream.use { it.write(body) }
            val status = connection.responseCode
            val stream = if (status >= 400) connection.errorStream else connection.inputStream
            val answer = stream?.use { readBounded(it, maxResponseBytes()) } ?: ByteArray(0)
            return HttpResponse(status.toUShort(), answer)
        } catch (e: TransportFailure) {
            throw e
        } catch (e: Exception) {
            // The kind of failure only: a message could hold a header's value (the credential).
            val kind = if (deadline.isDone) "took longer than $roundTripMs ms" else "failed (${e.javaClass.simpleName})"
            throw TransportFailure.Failed("the connection to the team server $kind")
        } finally {
            deadline.cancel(false)
            connection.disconnect()
        }
    }

    /** `http://` passed [checkServerUrl] only for this device. */
    private fun isLoopback(): Boolean = !base.startsWith("https://", ignoreCase = true)

    private companion object {
        const val CONNECT_TIMEOUT_MS = 15_000
        const val READ_TIMEOUT_MS = 60_000
        const val ROUND_TRIP_MS = 120_000L

        /** Ends a round trip that outlives its deadline (one daemon thread for all). */
        val watchdog: ScheduledExecutorService = Executors.newSingleThreadScheduledExecutor { r ->
            Thread(r, "wijkverkenner-http-deadline").apply { isDaemon = true }
        }

        fun readBounded(input: InputStream, limit: ULong): ByteArray {
            val out = java.io.ByteArrayOutputStream()
            val buffer = ByteArray(64 * 1024)
            var total = 0L
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                total += n
                if (total.toULong() > limit) throw TransportFailure.Failed("the team server's answer is longer than the protocol allows")
                out.write(buffer, 0, n)
            }
            return out.toByteArray()
        }
    }
}
