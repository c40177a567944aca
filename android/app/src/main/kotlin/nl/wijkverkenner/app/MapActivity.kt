package nl.wijkverkenner.app

import android.app.Activity
import android.content.Intent
import android.graphics.Color
import android.graphics.drawable.GradientDrawable
import android.os.Bundle
import android.view.WindowManager
import android.widget.LinearLayout
import android.widget.TextView
import java.io.File
import java.time.Instant
import java.time.temporal.ChronoUnit
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import nl.wijkverkenner.android.Labels
import nl.wijkverkenner.android.localTime
import org.json.JSONArray
import org.json.JSONObject
import org.osmdroid.config.Configuration
import org.osmdroid.events.MapEventsReceiver
import org.osmdroid.tileprovider.modules.OfflineTileProvider
import org.osmdroid.tileprovider.tilesource.FileBasedTileSource
import org.osmdroid.tileprovider.util.SimpleRegisterReceiver
import org.osmdroid.util.GeoPoint
import org.osmdroid.views.MapView
import org.osmdroid.views.overlay.MapEventsOverlay
import org.osmdroid.views.overlay.Marker
import org.osmdroid.views.overlay.Polygon
import org.osmdroid.views.overlay.Polyline

/**
 * The map: the buurten, the walk's track and notes, and what the team noted nearby before
 * ("what did my team note here before?"). It needs no network: everything on it is drawn from
 * the store. No online tiles are fetched — a tile request tells a tile server where the walker
 * is — but an offline tile archive is used when the administrator put one on the phone
 * ([tileArchive]). With [PIN], a tap places a pin and "use this place" returns it.
 */
class MapActivity : Activity() {
    companion object {
        const val WALK = "walk"
        const val PIN = "pin"
        const val LAT = "lat"
        const val LON = "lon"

        /** Where nearby notes are looked for, and how far back. */
        const val NEARBY_M = 250.0
        const val NEARBY_DAYS = 180L

        /** Utrecht's centre, when nothing else says where to look. */
        private val FALLBACK = GeoPoint(52.0907, 5.1214)
    }

    private lateinit var map: MapView
    private lateinit var legend: TextView
    private var pin: Marker? = null
    private val pinMode get() = intent.getBooleanExtra(PIN, false)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        // osmdroid's cache and identity in the app's own storage, never shared storage.
        Configuration.getInstance().apply {
            userAgentValue = packageName
            osmdroidBasePath = File(cacheDir, "osmdroid")
            osmdroidTileCache = File(cacheDir, "osmdroid/tiles")
        }
        title = getString(if (pinMode) R.string.map_pin_title else R.string.map)
        val col = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        legend = TextView(this).apply {
            id = R.id.map_legend
            textSize = 16f
            setPadding(dp(12), dp(8), dp(12), dp(8))
        }
        col.addView(legend)
        map = MapView(this).apply {
            id = R.id.map_view
            setMultiTouchControls(true)
            setUseDataConnection(false)
            overlayManager.tilesOverlay.loadingBackgroundColor = Color.rgb(238, 238, 232)
            overlayManager.tilesOverlay.loadingLineColor = Color.rgb(238, 238, 232)
            controller.setZoom(16.0)
        }
        tileArchive()?.let { archive ->
            val provider = OfflineTileProvider(SimpleRegisterReceiver(this), arrayOf(archive))
            map.setTileProvider(provider)
            provider.archives.firstOrNull()?.tileSources?.firstOrNull()?.let { map.setTileSource(FileBasedTileSource.getSource(it)) }
        }
        col.addView(map, LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT, 0, 1f))
        if (pinMode) {
            col.button(getString(R.string.map_use_pin), R.id.map_use_pin) { returnPin() }
            col.button(getString(R.string.cancel), R.id.map_cancel) { finish() }
        }
        setContentView(col)
        load()
    }

    /** The administrator's offline tiles (`kaart.mbtiles` in the app's external files), if any. */
    private fun tileArchive(): File? =
        listOfNotNull(getExternalFilesDir(null), filesDir).map { File(it, "kaart.mbtiles") }.firstOrNull { it.isFile }

    private fun load() {
        val app = wijk
        work(app.scope, legend) {
            val store = app.store()
            val labels = store.labels(Words.english(this@MapActivity))
            val walkId = intent.getStringExtra(WALK) ?: store.activeWalk.value?.id
            val buurten = store.buurtenGeoJson()
            val walkMap = walkId?.let { store.walkMapGeoJson(it) }
            val shapes = withContext(Dispatchers.Default) { buurten?.let { buurtShapes(it) } ?: emptyList() }
            for (s in shapes) map.overlays.add(s)
            var track: List<GeoPoint> = emptyList()
            val ownIds = mutableSetOf<String>()
            walkMap?.let { json ->
                val features = JSONObject(json).getJSONArray("features")
                for (i in 0 until features.length()) {
                    val f = features.getJSONObject(i)
                    val props = f.getJSONObject("properties")
                    val geometry = f.getJSONObject("geometry")
                    if (props.getString("kind") == "track") {
                        track = points(geometry.getJSONArray("coordinates"))
                        map.overlays.add(Polyline(map).apply {
                            setPoints(track)
                            outlinePaint.color = Color.rgb(30, 90, 200)
                            outlinePaint.strokeWidth = dp(5).toFloat()
                            title = getString(R.string.map_track)
                        })
                    } else {
                        val id = props.getString("id")
                        ownIds += id
                        val codes = props.getJSONArray("codes").let { a -> (0 until a.length()).map { a.getString(it) } }
                        val at = Instant.ofEpochMilli(props.getLong("at_ms"))
                        map.overlays.add(note(point(geometry.getJSONArray("coordinates")), props.getString("kind"), id,
                            "${localTime(at, Instant.now())} · ${labels.of(codes)}", earlier = false))
                    }
                }
            }
            val fix = app.lastFix
            val start = intent.takeIf { it.hasExtra(LAT) }?.let { GeoPoint(it.getDoubleExtra(LAT, 0.0), it.getDoubleExtra(LON, 0.0)) }
                ?: fix?.let { GeoPoint(it.lat, it.lon) }
                ?: track.lastOrNull()
                ?: shapes.firstOrNull()?.actualPoints?.firstOrNull()
                ?: FALLBACK
            map.controller.setCenter(start)
            val nearby = store.near(start.latitude, start.longitude, NEARBY_M, Instant.now().minus(NEARBY_DAYS, ChronoUnit.DAYS), Instant.now(), 100)
                .items.filter { it.id !in ownIds }
            for (r in nearby) {
                val l = when (val loc = r.location) {
                    is nl.wijkverkenner.ffi.RecordLocation.Fix -> loc.location
                    is nl.wijkverkenner.ffi.RecordLocation.Inherited -> loc.location
                    nl.wijkverkenner.ffi.RecordLocation.Unknown -> null
                } ?: continue
                map.overlays.add(note(GeoPoint(l.lat, l.lon), kindName(r), r.id,
                    getString(R.string.map_earlier, localTime(r.created.at, Instant.now()), labels.what(r)), earlier = true))
            }
            if (pinMode) {
                map.overlays.add(MapEventsOverlay(object : MapEventsReceiver {
                    override fun singleTapConfirmedHelper(p: GeoPoint): Boolean {
                        placePin(p)
                        return true
                    }

                    override fun longPressHelper(p: GeoPoint): Boolean = singleTapConfirmedHelper(p)
                }))
                start.takeIf { intent.hasExtra(LAT) }?.let { placePin(it) }
            }
            legend.text = legendText(shapes.size, nearby.size, buurten == null)
            map.invalidate()
        }
    }

    private fun kindName(r: nl.wijkverkenner.ffi.Record): String = when (r.body) {
        is nl.wijkverkenner.ffi.RecordBody.Observation -> "observation"
        is nl.wijkverkenner.ffi.RecordBody.Conversation -> "conversation"
        is nl.wijkverkenner.ffi.RecordBody.Signal -> "signal"
    }

    private fun legendText(buurten: Int, nearby: Int, noBoundaries: Boolean): String = buildList {
        add(getString(if (pinMode) R.string.map_pin_hint else R.string.map_legend))
        if (noBoundaries) add(getString(R.string.map_no_buurten)) else add(getString(R.string.map_buurten, buurten))
        add(getString(R.string.map_nearby, nearby))
        if (tileArchive() == null) add(getString(R.string.map_no_tiles))
    }.joinToString("\n")

    /** A note on the map: a dot by kind (blue observation, green conversation, red signal), grey when earlier. */
    private fun note(at: GeoPoint, kind: String, id: String, text: String, earlier: Boolean): Marker = Marker(map).apply {
        position = at
        title = text
        this.id = id
        val color = when {
            earlier -> Color.rgb(120, 120, 120)
            kind == "signal" -> Color.rgb(200, 40, 40)
            kind == "conversation" -> Color.rgb(30, 140, 60)
            else -> Color.rgb(30, 90, 200)
        }
        icon = GradientDrawable().apply {
            shape = GradientDrawable.OVAL
            setColor(color)
            setStroke(dp(2), Color.WHITE)
            setSize(dp(if (earlier) 16 else 22), dp(if (earlier) 16 else 22))
        }
        setAnchor(Marker.ANCHOR_CENTER, Marker.ANCHOR_CENTER)
        if (!pinMode) {
            setOnMarkerClickListener { _, _ ->
                startActivity(Intent(this@MapActivity, RecordActivity::class.java).putExtra(RecordActivity.RECORD, id))
                true
            }
        }
    }

    private fun placePin(p: GeoPoint) {
        val marker = pin ?: Marker(map).also {
            it.id = "pin"
            it.title = getString(R.string.map_pin_title)
            it.isDraggable = true
            map.overlays.add(it)
            pin = it
        }
        marker.position = p
        map.invalidate()
    }

    /** The pin's place, or the map's centre when no pin was placed. */
    private fun returnPin() {
        val p = pin?.position ?: map.mapCenter.let { GeoPoint(it.latitude, it.longitude) }
        setResult(RESULT_OK, Intent().putExtra(LAT, p.latitude).putExtra(LON, p.longitude))
        finish()
    }

    override fun onResume() {
        super.onResume()
        map.onResume()
    }

    override fun onPause() {
        map.onPause()
        super.onPause()
    }

    override fun onDestroy() {
        map.onDetach()
        super.onDestroy()
    }
}

/** The buurten of a GeoJSON FeatureCollection as outlined polygons titled with their names. */
private fun MapActivity.buurtShapes(geojson: String): List<Polygon> {
    val features = JSONObject(geojson).getJSONArray("features")
    val out = mutableListOf<Polygon>()
    for (i in 0 until features.length()) {
        val f = features.getJSONObject(i)
        val name = f.optJSONObject("properties")?.optString("name").orEmpty()
        val geometry = f.optJSONObject("geometry") ?: continue
        val coordinates = geometry.getJSONArray("coordinates")
        val polygons = when (geometry.getString("type")) {
            "Polygon" -> listOf(coordinates)
            "MultiPolygon" -> (0 until coordinates.length()).map { coordinates.getJSONArray(it) }
            else -> emptyList()
        }
        for (rings in polygons) {
            out += Polygon().apply {
                points = points(rings.getJSONArray(0))
                holes = (1 until rings.length()).map { points(rings.getJSONArray(it)) }
                title = name
                outlinePaint.color = Color.rgb(90, 90, 90)
                outlinePaint.strokeWidth = 2f
                fillPaint.color = Color.TRANSPARENT
            }
        }
    }
    return out
}

private fun points(coordinates: JSONArray): List<GeoPoint> = (0 until coordinates.length()).map { point(coordinates.getJSONArray(it)) }

private fun point(c: JSONArray): GeoPoint = GeoPoint(c.getDouble(1), c.getDouble(0))
