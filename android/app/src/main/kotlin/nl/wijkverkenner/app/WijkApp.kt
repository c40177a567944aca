package nl.wijkverkenner.app

import android.app.Application
import android.content.Context
import android.content.Intent
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.os.BatteryManager
import android.os.Handler
import android.os.Looper
import android.util.Log
import java.io.File
import java.time.Instant
import kotlin.coroutines.CoroutineContext
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import nl.wijkverkenner.android.BatteryState
import nl.wijkverkenner.android.FixBatcher
import nl.wijkverkenner.android.NetworkState
import nl.wijkverkenner.android.SyncDecision
import nl.wijkverkenner.android.SyncPolicy
import nl.wijkverkenner.android.Trigger
import nl.wijkverkenner.android.Wijkverkenner
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.LogLevel
import nl.wijkverkenner.ffi.LogSink
import nl.wijkverkenner.ffi.WvException
import nl.wijkverkenner.ffi.setLogSink

/** Runs coroutines on the main thread through a Handler (no AndroidX, no coroutines-android). */
object MainDispatcher : CoroutineDispatcher() {
    private val handler = Handler(Looper.getMainLooper())
    override fun dispatch(context: CoroutineContext, block: Runnable) {
        handler.post(block)
    }
}

/**
 * The app's one store and what runs around it: the key (Android Keystore), the walk's GPS fixes
 * on their way to the core, the connection, and when to sync (after a note, when the connection
 * returns, periodically, after a reboot). A revoked phone is wiped here, from whichever path
 * learnt it: the store's rows (the core), then its file and its key.
 */
open class WijkApp : Application() {
    companion object {
        /** A fix this precise or better is where a note made now is. */
        const val PRECISE_M = 50.0
    }

    /** Screens launch their work here; it outlives activities, as syncs and captures must. */
    /**
     * The app's work. A failure nobody caught (the Keystore refusing the key while the phone is
     * locked, after the system restarted the service) is logged by its class and dropped: it
     * must not take the app, and the walk in it, down.
     */
    val scope = CoroutineScope(
        SupervisorJob() + MainDispatcher + CoroutineExceptionHandler { _, e ->
            Log.w("wijkverkenner", "background work failed: ${e.javaClass.simpleName}")
        },
    )

    /** The key's vault; tests put their own in place of the Keystore. */
    open fun makeVault(): KeyVault = KeystoreVault(this)
    val vault: KeyVault by lazy { makeVault() }

    @Volatile
    private var opened: Wijkverkenner? = null

    /** The fixes of the walk under way, batched for the core; flushed when the walk pauses or ends. */
    val fixes = FixBatcher()

    /**
     * The newest precise fix of the location service (a vague reading does not replace it):
     * where a note made now is, while it is recent.
     */
    @Volatile
    var lastFix: Fix? = null
        private set

    private val _online = MutableStateFlow(false)
    /** Whether the phone has a connection (the main screen says so). */
    val online: StateFlow<Boolean> = _online

    private val _wiped = MutableStateFlow(0)
    /** Counts wipes: a screen that sees it change goes back to enrolment. */
    val wiped: StateFlow<Int> = _wiped

    private val policy = SyncPolicy()
    @Volatile
    private var syncing: Job? = null

    @Volatile
    private var again = false

    fun storeFile(): File = File(filesDir, "wijkverkenner.db")

    /** The store, opened on first use (off the main thread: call from a coroutine). */
    fun store(): Wijkverkenner = opened ?: synchronized(this) {
        opened ?: runBlocking {
            Wijkverkenner.open(storeFile().path, vault.key())
        }.also {
            it.onRevoked = { wipe() }
            opened = it
        }
    }

    var serverUrl: String
        get() = getSharedPreferences("wv", Context.MODE_PRIVATE).getString("server", "") ?: ""
        set(value) = getSharedPreferences("wv", Context.MODE_PRIVATE).edit().putString("server", value).apply()

    /** Whether the phone is enrolled (the server's address is set only then). */
    val enrolled: Boolean get() = getSharedPreferences("wv", Context.MODE_PRIVATE).getBoolean("enrolled", false)

    fun markEnrolled() {
        getSharedPreferences("wv", Context.MODE_PRIVATE).edit().putBoolean("enrolled", true).apply()
        SyncJob.schedule(this)
    }

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
        watchNetwork()
        if (enrolled) SyncJob.schedule(this)
    }

    /** The connection as it comes and goes; a returning one sends what waited. */
    private fun watchNetwork() {
        val cm = getSystemService(ConnectivityManager::class.java) ?: return
        _online.value = network().connected
        cm.registerDefaultNetworkCallback(
            object : ConnectivityManager.NetworkCallback() {
                override fun onAvailable(network: Network) {
                    val was = _online.value
                    _online.value = true
                    if (!was) requestSync(Trigger.NETWORK_BACK)
                }

                override fun onLost(network: Network) {
                    _online.value = false
                }
            },
        )
    }

    fun network(): NetworkState {
        val cm = getSystemService(ConnectivityManager::class.java) ?: return NetworkState(false, false)
        val caps = cm.getNetworkCapabilities(cm.activeNetwork) ?: return NetworkState(false, false)
        return NetworkState(
            connected = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET),
            unmetered = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED),
        )
    }

    fun battery(): BatteryState {
        val bm = getSystemService(BatteryManager::class.java) ?: return BatteryState(100, true)
        val percent = bm.getIntProperty(BatteryManager.BATTERY_PROPERTY_CAPACITY)
        // An unknown level (some devices, emulators) is no reason to hold notes back.
        return BatteryState(if (percent <= 0) 100 else percent, bm.isCharging)
    }

    /**
     * Syncs if the policy says so for [trigger]; one sync at a time. A request while one runs
     * makes it run once more when it is done (what changed meanwhile goes too). Returns the
     * sync's job (the running one, if any), or null when the phone is not enrolled.
     */
    fun requestSync(trigger: Trigger): Job? {
        if (!enrolled) return null
        synchronized(this) {
            syncing?.takeIf { it.isActive }?.let {
                again = true
                return it
            }
            val job = scope.launch {
                var next = trigger
                do {
                    again = false
                    syncOnce(next)
                    next = Trigger.CAPTURE
                } while (again && enrolled)
            }
            syncing = job
            return job
        }
    }

    private suspend fun syncOnce(trigger: Trigger) {
        try {
            val store = store()
            val decision = policy.decide(network(), battery(), store.refreshSyncStatus(), Instant.now(), trigger)
            if (decision is SyncDecision.Now) store.sync(serverUrl)
        } catch (e: WvException) {
            // Recorded in the sync status (and a revocation has wiped the phone already).
        } catch (e: java.security.GeneralSecurityException) {
            // The key cannot be used while the phone is locked (after a reboot): next time.
            Log.i("wijkverkenner", "sync waits for the phone to be unlocked")
        }
    }

    /** The walker allowed the location: precise, or (Android 12+ lets them choose) approximate. */
    fun locationAllowed(): Boolean = preciseLocationAllowed() ||
        checkSelfPermission(android.Manifest.permission.ACCESS_COARSE_LOCATION) == android.content.pm.PackageManager.PERMISSION_GRANTED

    fun preciseLocationAllowed(): Boolean =
        checkSelfPermission(android.Manifest.permission.ACCESS_FINE_LOCATION) == android.content.pm.PackageManager.PERMISSION_GRANTED

    /** Starts recording the route (the location service), when the walker allowed the location. */
    fun startRoute(): Boolean {
        if (!locationAllowed()) return false
        startForegroundService(Intent(this, WalkLocationService::class.java))
        return true
    }

    /** A fix from the location service: kept as the last one, batched, handed on when a batch is full. */
    fun fix(fix: Fix) {
        if (fix.accuracyM <= PRECISE_M) lastFix = fix
        val batch = synchronized(fixes) { fixes.add(fix.at, fix.lat, fix.lon, fix.accuracyM, fix.source) } ?: return
        scope.launch {
            try {
                val store = store()
                val walk = store.activeWalk.value ?: return@launch
                store.addFixes(walk.id, batch)
            } catch (e: WvException) {
                Log.w("wijkverkenner", "fixes not stored: ${e.javaClass.simpleName}")
            }
        }
    }

    /** Hands the collected fixes of the walk under way to the core (before it pauses or ends). */
    suspend fun flushFixes() {
        val batch = synchronized(fixes) { fixes.flush() }
        if (batch.isEmpty()) return
        val store = store()
        val walk = store.activeWalk.value ?: return
        store.addFixes(walk.id, batch)
    }

    /**
     * A revoked phone: the core has deleted the store's rows; here the file goes, with its
     * journal, and the key, so nothing of the team's data is left on the phone.
     */
    fun wipe() {
        synchronized(this) {
            opened?.let { runCatching { it.close() } }
            opened = null
            for (suffix in listOf("", "-wal", "-shm", "-journal")) File(storeFile().path + suffix).delete()
            runCatching { vault.destroy() }
            getSharedPreferences("wv", Context.MODE_PRIVATE).edit().remove("enrolled").apply()
        }
        SyncJob.cancel(this)
        stopService(Intent(this, WalkLocationService::class.java))
        synchronized(fixes) { fixes.flush() }
        lastFix = null
        _wiped.value += 1
        // Every screen closes (they may show the team's notes); enrolment is what is left.
        Handler(Looper.getMainLooper()).post {
            startActivity(
                Intent(this, EnrolActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TASK),
            )
        }
    }

    override fun onTerminate() {
        opened?.close()
        super.onTerminate()
    }
}

val Context.wijk: WijkApp get() = applicationContext as WijkApp
