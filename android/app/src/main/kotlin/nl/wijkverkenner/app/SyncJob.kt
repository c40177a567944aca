package nl.wijkverkenner.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.BroadcastReceiver
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import kotlinx.coroutines.Job
import nl.wijkverkenner.android.Trigger

/**
 * The periodic sync: a persisted job (it survives a reboot; [BootReceiver] schedules it again
 * for systems that drop it) with a network constraint. The sync policy decides the rest.
 */
class SyncJob : JobService() {
    private var running: Job? = null

    companion object {
        const val ID = 42

        fun schedule(context: Context, unmeteredOnly: Boolean = false) {
            val job = JobInfo.Builder(ID, ComponentName(context, SyncJob::class.java))
                .setRequiredNetworkType(if (unmeteredOnly) JobInfo.NETWORK_TYPE_UNMETERED else JobInfo.NETWORK_TYPE_ANY)
                .setPeriodic(15 * 60 * 1000L)
                .setPersisted(true)
                .build()
            context.getSystemService(JobScheduler::class.java).schedule(job)
        }

        fun cancel(context: Context) {
            context.getSystemService(JobScheduler::class.java).cancel(ID)
        }
    }

    override fun onStartJob(params: JobParameters): Boolean {
        val job = wijk.requestSync(Trigger.PERIODIC) ?: return false
        running = job
        job.invokeOnCompletion { jobFinished(params, false) }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean {
        running?.cancel() // cancels the sync between round trips; nothing is lost
        return true
    }
}

/** After a reboot: the periodic sync again, and a sync of what waited. */
class BootReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != Intent.ACTION_BOOT_COMPLETED) return
        val app = context.wijk
        if (!app.enrolled) return
        SyncJob.schedule(app)
        app.requestSync(Trigger.PERIODIC)
    }
}
