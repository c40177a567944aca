package nl.wijkverkenner.android

import java.io.File
import java.net.ServerSocket
import java.nio.file.Files
import java.time.Instant
import nl.wijkverkenner.ffi.CancelToken
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.LocationSource
import nl.wijkverkenner.ffi.NewRecord
import nl.wijkverkenner.ffi.NewWalk
import nl.wijkverkenner.ffi.Observation
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.Tone
import nl.wijkverkenner.ffi.WijkStore

/**
 * Through the Kotlin bindings on the JVM: 10,000 observations handed over one call per record,
 * as one batch, and in pages of 100 (µs per record each; the batch is the baseline the others
 * are compared with), and the walk screen's refresh (active walk + first timeline page) on a
 * store of 100,000 records, against the cheapest call across the FFI in the same run.
 * Run by `WV_KOTLIN_BENCH=1 bash scripts/kotlin-test.sh` (scripts/bench.sh does).
 */
fun main(args: Array<String>) {
    val serverBin = args[0]
    val dir = Files.createTempDirectory("wv-bench").toFile()
    val data = File(dir, "server")
    fun admin(vararg a: String): String {
        val p = ProcessBuilder(listOf(serverBin, "--data", data.path) + a).start()
        return p.inputStream.bufferedReader().readText().trim().also { check(p.waitFor() == 0) }
    }
    val team = admin("team-create", "Bench")
    val port = ServerSocket(0).use { it.localPort }
    val server = ProcessBuilder(serverBin, "--data", data.path, "serve", "--listen", "127.0.0.1:$port")
        .redirectError(File(dir, "server.log")).start()
    try {
        val url = "http://127.0.0.1:$port"
        repeat(100) { try { java.net.URL("$url/health").openStream().close(); return@repeat } catch (e: java.io.IOException) { Thread.sleep(50) } }
        fun store(name: String): WijkStore {
            val s = WijkStore.open(File(dir, "$name.db").path, ByteArray(32) { 4 })
            val member = admin("member-add", "--team", team, "--name", name)
            s.enrolWith(PlatformTransport(url), admin("enrol-code", "--member", member), "bench")
            return s
        }
        val start = Instant.now().minusSeconds(3 * 24 * 3600)
        fun records(walkId: String, n: Int, offset: Int) = (0 until n).map { i ->
            val at = start.plusMillis((offset + i).toLong() * 100)
            NewRecord(
                walkId,
                RecordBody.Observation(Observation(listOf("obs.vacancy"), Tone.CONCERN, "Waarneming ${offset + i}: rolluik half open")),
                momentNow(at),
                Location(52.06 + (i % 700) * 0.0001, 5.05 + (i % 1100) * 0.0001, 8.0, at, LocationSource.GPS),
            )
        }
        fun perRecordMicros(block: (WijkStore, String, List<NewRecord>) -> Unit): Double {
            val s = store("s${System.nanoTime()}")
            val walk = s.startWalk(NewWalk(emptyList(), "bench", emptyList(), momentNow(start)))
            val batch = records(walk.id, 10_000, 0)
            val t0 = System.nanoTime()
            block(s, walk.id, batch)
            val us = (System.nanoTime() - t0) / 1e3 / batch.size
            s.closeStore()
            return us
        }
        val oneByOne = perRecordMicros { s, _, b -> b.forEach { s.addRecord(it) } }
        val oneBatch = perRecordMicros { s, _, b -> s.addRecords(b) }
        val pages = perRecordMicros { s, _, b -> b.chunked(100).forEach { s.addRecords(it) } }

        // The walk screen's refresh on a store of 100,000 records.
        val big = store("big")
        val walk = big.startWalk(NewWalk(emptyList(), "bench", emptyList(), momentNow(start)))
        for (k in 0 until 10) big.addRecords(records(walk.id, 10_000, k * 10_000))
        val refresh = LongArray(51)
        val cheapest = LongArray(51)
        for (i in refresh.indices) {
            var t = System.nanoTime()
            val active = big.activeWalk()
            val page = big.walkTimeline(active!!.id, 50u, null)
            check(page.items.size == 50)
            refresh[i] = System.nanoTime() - t
            t = System.nanoTime()
            big.identity()
            cheapest[i] = System.nanoTime() - t
        }
        refresh.sort()
        cheapest.sort()
        big.syncWith(PlatformTransport(url), CancelToken()) // keeps the server honest: the store is a real, syncable one
        println("| bindings on the JVM (Kotlin → JNA → Rust), 10,000 observations | µs per record | vs one batch |")
        println("| --- | --- | --- |")
        println("| one call per record | %.1f | %.1f× |".format(oneByOne, oneByOne / oneBatch))
        println("| one batch of 10,000 | %.1f | 1.0× |".format(oneBatch))
        println("| pages of 100 | %.1f | %.2f× |".format(pages, pages / oneBatch))
        println()
        println("| walk screen refresh on 100,000 records (active walk + timeline page of 50), median of 51 | ms | cheapest FFI call (identity) |")
        println("| --- | --- | --- |")
        println("| | %.2f | %.3f ms |".format(refresh[25] / 1e6, cheapest[25] / 1e6))
    } finally {
        server.destroy()
        dir.deleteRecursively()
    }
}
