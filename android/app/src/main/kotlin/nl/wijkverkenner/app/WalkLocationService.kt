package nl.wijkverkenner.app

import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.content.Intent
import android.content.pm.ServiceInfo
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.IBinder
import android.os.Looper
import java.time.Instant
import nl.wijkverkenner.android.FixBatcher
import nl.wijkverkenner.android.GpsFilterSettings
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.LocationSource

/**
 * Records the route while a walk runs: a foreground service (as Android requires for
 * location in the background) that batches fixes and hands them to the core.
 */
class WalkLocationService : Service(), LocationListener {
    private val settings = GpsFilterSettings()
    private val batcher = FixBatcher(settings)

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        val channel = NotificationChannel("walk", getString(R.string.location_channel), NotificationManager.IMPORTANCE_LOW)
        getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
        val notification = Notification.Builder(this, "walk")
            .setContentTitle(getString(R.string.location_notification))
            .setSmallIcon(R.drawable.ic_walk)
            .setOngoing(true)
            .build()
        startForeground(1, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_LOCATION)
        try {
            getSystemService(LocationManager::class.java).requestLocationUpdates(
                LocationManager.GPS_PROVIDER,
                settings.intervalMillis,
                settings.minDistanceM,
                this,
                Looper.getMainLooper(),
            )
        } catch (e: SecurityException) {
            stopSelf()
        }
        return START_STICKY
    }

    override fun onLocationChanged(location: Location) {
        val batch = batcher.add(
            Instant.ofEpochMilli(location.time),
            location.latitude,
            location.longitude,
            location.accuracy.toDouble(),
            if (location.provider == LocationManager.GPS_PROVIDER) LocationSource.GPS else LocationSource.NETWORK,
        ) ?: return
        hand(batch)
    }

    private fun hand(batch: List<Fix>) {
        if (batch.isEmpty()) return
        val app = wijk
        work(app.scope) {
            val store = app.store()
            val walk = store.activeWalk.value ?: return@work
            store.addFixes(walk.id, batch)
        }
    }

    override fun onDestroy() {
        getSystemService(LocationManager::class.java).removeUpdates(this)
        hand(batcher.flush())
        super.onDestroy()
    }
}
