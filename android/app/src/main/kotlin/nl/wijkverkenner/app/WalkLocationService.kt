package nl.wijkverkenner.app

import android.Manifest
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.app.Service
import android.content.Intent
import android.content.pm.PackageManager
import android.content.pm.ServiceInfo
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.Build
import android.os.IBinder
import android.os.Looper
import android.util.Log
import java.time.Instant
import nl.wijkverkenner.android.GpsFilterSettings
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.LocationSource

/**
 * Records the route while a walk runs: a foreground service (Android's rule for location while
 * the screen is off) that hands fixes to the app's batcher, which gives them to the core in
 * batches. Without the location permission it does not start: the walk goes on without route.
 */
class WalkLocationService : Service(), LocationListener {
    private val settings = GpsFilterSettings()
    private var listening = false

    override fun onBind(intent: Intent?): IBinder? = null

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        if (!wijk.locationAllowed()) {
            // Starting a location foreground service without the permission throws on Android 14.
            stopSelf()
            return START_NOT_STICKY
        }
        val manager = getSystemService(NotificationManager::class.java)
        manager.createNotificationChannel(
            NotificationChannel(CHANNEL, getString(R.string.location_channel), NotificationManager.IMPORTANCE_LOW),
        )
        val open = PendingIntent.getActivity(
            this, 0, Intent(this, MainActivity::class.java), PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
        val notification = Notification.Builder(this, CHANNEL)
            .setContentTitle(getString(R.string.location_notification))
            .setSmallIcon(R.drawable.ic_walk)
            .setContentIntent(open)
            .setOngoing(true)
            .setVisibility(Notification.VISIBILITY_PUBLIC)
            .build()
        // The three-argument form (with the type) exists from API 29; it is required from 34.
        try {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
                startForeground(NOTIFICATION, notification, ServiceInfo.FOREGROUND_SERVICE_TYPE_LOCATION)
            } else {
                startForeground(NOTIFICATION, notification)
            }
        } catch (e: RuntimeException) {
            // Restarted by the system in the background (START_STICKY) while the app may not
            // start a location service from there (Android 12+ throws): the walk goes on, the
            // route waits until the walker opens the app (the walk screen starts it again).
            Log.i("wijkverkenner", "location service not started: ${e.javaClass.simpleName}")
            stopSelf()
            return START_NOT_STICKY
        }
        if (!listening) {
            val lm = getSystemService(LocationManager::class.java)
            try {
                // Precise: the GPS. Approximate only (the walker's choice on Android 12+): the
                // network's position, which the core flags as vague and keeps out of the route.
                val provider = if (wijk.preciseLocationAllowed()) LocationManager.GPS_PROVIDER else LocationManager.NETWORK_PROVIDER
                lm.requestLocationUpdates(provider, settings.intervalMillis, settings.minDistanceM, this, Looper.getMainLooper())
                listening = true
            } catch (e: SecurityException) {
                stopSelf()
            } catch (e: IllegalArgumentException) {
                // No GPS on this device: the walk goes on without route.
                stopSelf()
            }
        }
        return START_STICKY
    }

    override fun onLocationChanged(location: Location) {
        val fix = Fix(
            Instant.ofEpochMilli(location.time),
            location.latitude,
            location.longitude,
            if (location.hasAccuracy()) location.accuracy.toDouble() else 9_999.0,
            if (location.provider == LocationManager.GPS_PROVIDER) LocationSource.GPS else LocationSource.NETWORK,
        )
        wijk.fix(fix)
    }

    @Deprecated("framework API before 29")
    override fun onStatusChanged(provider: String?, status: Int, extras: android.os.Bundle?) {}

    override fun onProviderEnabled(provider: String) {}

    override fun onProviderDisabled(provider: String) {}

    override fun onDestroy() {
        if (listening) getSystemService(LocationManager::class.java).removeUpdates(this)
        listening = false
        // What is batched goes to the core now: the end of a walk loses nothing.
        val app = wijk
        work(app.scope) { app.flushFixes() }
        super.onDestroy()
    }

    private companion object {
        const val CHANNEL = "walk"
        const val NOTIFICATION = 1
    }
}
