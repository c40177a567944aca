package nl.wijkverkenner.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.BatteryManager
import java.time.Instant
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import nl.wijkverkenner.android.BatteryState
import nl.wijkverkenner.android.NetworkState
import nl.wijkverkenner.android.SyncDecision
import nl.wijkverkenner.android.SyncPolicy
import nl.wijkverkenner.ffi.WvException

/** Background sync: a periodic job with a network constraint; the policy decides the rest. */
class SyncJob : JobService() {
    private var running: Job? = null

    companion object {
        private const val ID = 42

        fun schedule(context: Context, unmeteredOnly: Boolean = false) {
            val job = JobInfo.Builder(ID, ComponentName(context, SyncJob::class.java))
                .setRequiredNetworkType(if (unmeteredOnly) JobInfo.NETWORK_TYPE_UNMETERED else JobInfo.NETWORK_TYPE_ANY)
                .setPeriodic(15 * 60 * 1000L)
                .setPersisted(false)
                .build()
            context.getSystemService(JobScheduler::class.java).schedule(job)
        }
    }

    override fun onStartJob(params: JobParameters): Boolean {
        val app = wijk
        val cm = getSystemService(ConnectivityManager::class.java)
        val caps = cm.getNetworkCapabilities(cm.activeNetwork)
        val network = NetworkState(
            connected = caps?.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) == true,
            unmetered = caps?.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED) == true,
        )
        val bm = getSystemService(BatteryManager::class.java)
        val battery = BatteryState(bm.getIntProperty(BatteryManager.BATTERY_PROPERTY_CAPACITY), bm.isCharging)
        running = app.scope.launch {
            var retry = false
            try {
                val store = app.store()
                val decision = SyncPolicy().decide(network, battery, store.refreshSyncStatus(), Instant.now())
                if (decision is SyncDecision.Now) store.sync(app.serverUrl)
            } catch (e: WvException.Revoked) {
                // The core has wiped the store; forget the key too.
                StoreKey.destroy(this@SyncJob)
            } catch (e: WvException) {
                retry = e is WvException.Network
            }
            jobFinished(params, retry)
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        running?.cancel() // cancels the sync between round trips; nothing is lost
        return true
    }
}
