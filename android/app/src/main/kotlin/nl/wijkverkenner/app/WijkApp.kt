package nl.wijkverkenner.app

import android.app.Application
import android.content.Context
import android.os.Handler
import android.os.Looper
import java.io.File
import kotlin.coroutines.CoroutineContext
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.runBlocking
import android.util.Log
import nl.wijkverkenner.android.Wijkverkenner
import nl.wijkverkenner.ffi.LogLevel
import nl.wijkverkenner.ffi.LogSink
import nl.wijkverkenner.ffi.setLogSink

/** Runs coroutines on the main thread through a Handler (no AndroidX, no coroutines-android). */
object MainDispatcher : CoroutineDispatcher() {
    private val handler = Handler(Looper.getMainLooper())
    override fun dispatch(context: CoroutineContext, block: Runnable) {
        handler.post(block)
    }
}

/**
 * Holds the one open store for the whole app. The store's key comes from [StoreKey] (Android
 * Keystore); the store file lives in the app's private files.
 */
class WijkApp : Application() {
    /** Screens launch their work here; it outlives activities, as syncs and captures must. */
    val scope = CoroutineScope(SupervisorJob() + MainDispatcher)

    @Volatile
    private var opened: Wijkverkenner? = null

    /** The store, opened on first use (off the main thread: call from a coroutine on IO). */
    fun store(): Wijkverkenner = opened ?: synchronized(this) {
        opened ?: runBlocking {
            Wijkverkenner.open(File(filesDir, "wijkverkenner.db").path, StoreKey.get(this@WijkApp))
        }.also { opened = it }
    }

    var serverUrl: String
        get() = getSharedPreferences("wv", Context.MODE_PRIVATE).getString("server", "") ?: ""
        set(value) = getSharedPreferences("wv", Context.MODE_PRIVATE).edit().putString("server", value).apply()

    override fun onCreate() {
        super.onCreate()
        // The core's log lines (never personal data) into Logcat.
        setLogSink(
            object : LogSink {
                override fun log(level: LogLevel, target: String, message: String) {
                    val priority = when (level) {
                        LogLevel.ERROR -> Log.ERROR
                        LogLevel.WARN -> Log.WARN
                        LogLevel.INFO -> Log.INFO
                        LogLevel.DEBUG -> Log.DEBUG
                        LogLevel.TRACE -> Log.VERBOSE
                    }
                    Log.println(priority, "wijkverkenner", "$target: $message")
                }
            },
            LogLevel.INFO,
        )
    }

    override fun onTerminate() {
        opened?.close()
        super.onTerminate()
    }
}

val Context.wijk: WijkApp get() = applicationContext as WijkApp
