package nl.wijkverkenner.android

import java.time.Instant
import java.time.ZoneId
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.withContext
import nl.wijkverkenner.ffi.CancelToken
import nl.wijkverkenner.ffi.Category
import nl.wijkverkenner.ffi.CategoryKind
import nl.wijkverkenner.ffi.Colleague
import nl.wijkverkenner.ffi.Debrief
import nl.wijkverkenner.ffi.Decision
import nl.wijkverkenner.ffi.Fix
import nl.wijkverkenner.ffi.FixReport
import nl.wijkverkenner.ffi.Identity
import nl.wijkverkenner.ffi.Location
import nl.wijkverkenner.ffi.Photo
import nl.wijkverkenner.ffi.Moment
import nl.wijkverkenner.ffi.NewRecord
import nl.wijkverkenner.ffi.NewWalk
import nl.wijkverkenner.ffi.Participant
import nl.wijkverkenner.ffi.Purged
import nl.wijkverkenner.ffi.Record
import nl.wijkverkenner.ffi.RecordBody
import nl.wijkverkenner.ffi.RecordPage
import nl.wijkverkenner.ffi.StreetTactics
import nl.wijkverkenner.ffi.SyncListener
import nl.wijkverkenner.ffi.SyncOutcome
import nl.wijkverkenner.ffi.SyncStatus
import nl.wijkverkenner.ffi.Walk
import nl.wijkverkenner.ffi.WalkPage
import nl.wijkverkenner.ffi.WalkReport
import nl.wijkverkenner.ffi.WijkStore
import nl.wijkverkenner.ffi.WvException

/** A moment now, with the phone's current UTC offset. */
fun momentNow(at: Instant = Instant.now()): Moment =
    Moment(at, ZoneId.systemDefault().rules.getOffset(at).totalSeconds)

/**
 * The shell's one entry to the core: an open, encrypted store of one member on this phone.
 *
 * Every call runs on [io] (never the UI thread) and is a suspend function; the active walk and
 * the sync status are [StateFlow]s the screens collect. Close it with [close] (or `use {}`).
 * No rule lives here: the core decides, this class only moves calls off the main thread and
 * keeps the two flows current.
 */
class Wijkverkenner private constructor(
    private val store: WijkStore,
    private val io: CoroutineDispatcher,
) : AutoCloseable {
    private val closed = java.util.concurrent.atomic.AtomicBoolean(false)
    private val _activeWalk = MutableStateFlow<Walk?>(null)
    private val _syncStatus = MutableStateFlow<SyncStatus?>(null)

    /** The walk under way, or null; updated by every walk action. */
    val activeWalk: StateFlow<Walk?> = _activeWalk.asStateFlow()

    /** The sync status, updated after every sync attempt. */
    val syncStatus: StateFlow<SyncStatus?> = _syncStatus.asStateFlow()

    private val _locked = MutableStateFlow(false)

    /**
     * Whether the notes are locked: the phone has not synced for longer than the team allows
     * (its retention terms). Every read and write of walks and notes then fails with
     * [WvException.Locked] until a sync succeeds; a screen shows why and offers the sync.
     */
    val locked: StateFlow<Boolean> = _locked.asStateFlow()

    companion object {
        /** Opens the store at [path] with the 32-byte key kept in the Android Keystore. */
        suspend fun open(path: String, key: ByteArray, io: CoroutineDispatcher = Dispatchers.IO): Wijkverkenner =
            withContext(io) {
                val store = WijkStore.open(path, key)
                val w = Wijkverkenner(store, io)
                store.addSyncListener(object : SyncListener {
                    override fun onSyncStatus(status: SyncStatus) {
                        w._syncStatus.value = status
                        w._locked.value = store.isLocked()
                    }
                })
                // The team's retention terms, kept also while the phone is offline.
                store.purgeExpired()
                w._locked.value = store.isLocked()
                w._activeWalk.value = if (w._locked.value) null else store.activeWalk()
                w
            }
    }

    /**
     * One core call off the main thread. A call on a store closed meanwhile (a revoked phone,
     * wiped while a screen still asked) is a [WvException.Closed] like any other refusal, not
     * an unchecked exception that would end the app.
     */
    private suspend fun <T> call(block: (WijkStore) -> T): T = withContext(io) {
        if (closed.get()) throw WvException.Closed("the store is closed")
        try {
            block(store)
        } catch (e: IllegalStateException) {
            if (closed.get()) throw WvException.Closed("the store is closed") else throw e
        }
    }

    suspend fun identity(): Identity? = call { it.identity() }

    suspend fun enrol(serverUrl: String, code: String, deviceName: String): Identity =
        call { it.enrolWith(PlatformTransport(serverUrl), code, deviceName) }

    suspend fun loadNeighbourhoods(buurten: String, wijken: String?): Int =
        call { it.loadNeighbourhoods(buurten, wijken).toInt() }

    /** The category picker's choices of one kind (those still offered), labelled in Dutch or English. */
    suspend fun categories(kind: CategoryKind): List<Category> =
        call { s -> s.categories().filter { it.kind == kind && !it.retired } }

    /** The team's categories as the screens name them (retired ones too, for old records). */
    suspend fun labels(english: Boolean = false): Labels = call { Labels(it.categories(), english) }

    /** The team's members who walk: whom a walker can name on a walk. */
    suspend fun colleagues(): List<Colleague> = call { it.colleagues() }

    /** The team's buurten as GeoJSON for the map, once they arrived by sync. */
    suspend fun buurtenGeoJson(): String? = call { it.buurtenGeojson() }

    /** A buurt's name, or its code when the boundaries do not know it. */
    suspend fun buurtName(code: String): String = call { it.buurtName(code) } ?: code

    /** Starts the walk of a start screen (purpose, focus, colleagues and guests along). */
    suspend fun startWalk(walk: NewWalk): Walk = call { it.startWalk(walk) }.also { _activeWalk.value = it }

    /** Starts a walk; [at] is when the walker pressed start (now, by default). */
    suspend fun startWalk(
        purpose: String,
        focus: List<String> = emptyList(),
        guests: List<String> = emptyList(),
        at: Instant = Instant.now(),
    ): Walk =
        call { it.startWalk(NewWalk(guests.map { role -> Participant.Guest(role, false) }, purpose, focus, momentNow(at))) }
            .also { _activeWalk.value = it }

    suspend fun pauseWalk(walkId: String, at: Instant = Instant.now()): Walk =
        call { it.pauseWalk(walkId, momentNow(at)) }.also { _activeWalk.value = it }

    suspend fun resumeWalk(walkId: String, at: Instant = Instant.now()): Walk =
        call { it.resumeWalk(walkId, momentNow(at)) }.also { _activeWalk.value = it }

    /** Ends the walk; the returned walk carries its summary (distance, time, buurten). */
    suspend fun endWalk(walkId: String, at: Instant = Instant.now()): Walk =
        call { it.endWalk(walkId, momentNow(at)) }.also { _activeWalk.value = null }

    suspend fun submitWalk(walkId: String): Walk = call { it.submitWalk(walkId) }

    /** The walker's look back on a walk that ended: which logic dominated, and a note. */
    suspend fun debrief(walkId: String, debrief: Debrief): Walk = call { it.debriefWalk(walkId, debrief) }

    suspend fun walk(walkId: String): Walk = call { it.walk(walkId) }

    /** The walks this phone holds, newest first (the author's and the team's). */
    suspend fun recentWalks(limit: Int = 50, cursor: String? = null): WalkPage = call { it.recentWalks(limit.toUInt(), cursor) }

    suspend fun record(recordId: String): Record = call { it.record(recordId) }

    /**
     * The lead's questions waiting for this member's answer, over the walks and notes this
     * phone holds (the newest [walks] walks and [records] notes: older questions are rare and
     * still reachable from their walk).
     */
    suspend fun openQuestions(walks: Int = 100, records: Int = 500): List<OpenQuestion> = call { s ->
        openQuestions(s.identity(), s.recentWalks(walks.toUInt(), null).items, s.latestRecords(records.toUInt(), null).items)
    }

    /** Metres walked so far, for the walk screen's live figure. */
    suspend fun distanceM(walkId: String): Double = call { it.walkDistanceM(walkId) }

    /** A batch of fixes from the location service; implausible ones are kept and flagged. */
    suspend fun addFixes(walkId: String, fixes: List<Fix>): FixReport = call { it.addFixes(walkId, fixes) }

    /** Notes an observation, conversation or signal; `location` null indoors. */
    suspend fun capture(walkId: String, body: RecordBody, location: Location?): Record =
        call { it.addRecord(NewRecord(walkId, body, momentNow(), location)) }

    suspend fun captureAll(records: List<NewRecord>): List<String> = call { it.addRecords(records) }

    suspend fun edit(recordId: String, body: RecordBody, location: Location? = null): Record =
        call { it.editRecord(recordId, body, location) }

    suspend fun delete(recordId: String) = call { it.deleteRecord(recordId) }

    suspend fun answer(recordId: String, answer: String) = call { it.answerReview(recordId, answer) }

    // Photos of observations and signals. The shell scales and encodes first (long edge at
    // most 2048 px, JPEG, the platform's codec); the core removes every metadata segment (GPS,
    // device, thumbnails) before anything is stored, and refuses what it cannot clean
    // (WvException.InvalidInput). They reach the team with the next sync, after their record.

    /** Attaches a photo to one of the member's own observations or signals. */
    suspend fun attachPhoto(recordId: String, jpeg: ByteArray): Photo = call { it.attachPhoto(recordId, jpeg) }

    suspend fun photos(recordId: String): List<Photo> = call { it.photos(recordId) }

    suspend fun removePhoto(photoId: String) = call { it.removePhoto(photoId) }

    /** Photos still to reach the team server, for the sync screen. */
    suspend fun photosWaiting(): Int = call { it.photosWaiting().toInt() }

    /** Asks the team server which photos of a record this member may see (need-to-know). */
    suspend fun refreshPhotos(serverUrl: String, recordId: String): List<Photo> =
        call { it.refreshPhotos(PlatformTransport(serverUrl), recordId) }

    /** A photo's JPEG: from the phone, or fetched (the server audits the view) and kept. */
    suspend fun photo(serverUrl: String, photoId: String): ByteArray =
        call { it.fetchPhoto(PlatformTransport(serverUrl), photoId) }

    /**
     * A colleague's photo as a thumbnail (long edge 320 px) for lists: the team's photos of the
     * last week come with the sync; older ones are fetched here (not audited, need-to-know as
     * for the photo) and kept within the phone's cap. For the member's own photos use [photo].
     */
    suspend fun thumbnail(serverUrl: String, photoId: String): ByteArray =
        call { it.fetchThumbnail(PlatformTransport(serverUrl), photoId) }

    /** A colleague's photo's thumbnail if the phone holds it (no network: for a screen). */
    suspend fun heldThumbnail(photoId: String): ByteArray? = call { it.photoThumbnail(photoId) }

    /** The author answers a lead's question about a whole walk. */
    suspend fun answerWalk(walkId: String, answer: String) = call { it.answerWalkQuestion(walkId, answer) }

    // A lead's functions; a field worker gets WvException.NotAllowed. Decisions reach the
    // author and the team at the next sync, through the same rules as the review pages'.

    /** A signal's triage step and referral, and/or a question to the author. */
    suspend fun review(recordId: String, decision: Decision) = call { it.reviewRecord(recordId, decision) }

    /** Seen and done: the author can no longer change the record. */
    suspend fun markReviewed(recordId: String) = call { it.markRecordReviewed(recordId) }

    suspend fun reviewWalk(walkId: String, question: String?, reviewed: Boolean) =
        call { it.reviewWalk(walkId, question, reviewed) }

    /** The walk report, computed by the core (the review pages show the same figures). */
    suspend fun walkReport(walkId: String): WalkReport = call { it.walkReport(walkId) }

    /** The walk as GeoJSON (track and records by kind) for the map view. */
    suspend fun walkMapGeoJson(walkId: String): String = call { it.walkMapGeojson(walkId) }

    /** The street tactics of the walks started in [from, to] that this phone holds. */
    suspend fun streetTactics(from: Instant, to: Instant): StreetTactics = call { it.streetTactics(from, to) }

    suspend fun timeline(walkId: String, limit: Int = 50, cursor: String? = null): RecordPage =
        call { it.walkTimeline(walkId, limit.toUInt(), cursor) }

    suspend fun latest(limit: Int = 50, cursor: String? = null): RecordPage = call { it.latestRecords(limit.toUInt(), cursor) }

    /** "What did my team note here before?" */
    suspend fun near(lat: Double, lon: Double, radiusM: Double, from: Instant, to: Instant, limit: Int = 50, cursor: String? = null): RecordPage =
        call { it.recordsNear(lat, lon, radiusM, from, to, limit.toUInt(), cursor) }

    suspend fun inBuurt(code: String, limit: Int = 50, cursor: String? = null): RecordPage =
        call { it.recordsInBuurt(code, limit.toUInt(), cursor) }

    /**
     * Syncs with the team server. Cancelling the coroutine cancels the sync between round
     * trips; nothing is lost either way. [syncStatus] is updated afterwards.
     */
    suspend fun sync(serverUrl: String): SyncOutcome = withContext(io) {
        val token = CancelToken()
        val job = kotlin.coroutines.coroutineContext[kotlinx.coroutines.Job]
        val handle = job?.invokeOnCompletion { if (it != null) token.cancel() }
        try {
            store.syncWith(PlatformTransport(serverUrl), token)
        } catch (e: WvException.Revoked) {
            // The core wiped the store; the shell deletes the file and the key at once, from
            // whichever sync path found out.
            onRevoked?.invoke()
            throw e
        } finally {
            handle?.dispose()
            token.close()
        }
    }

    /** Called once a sync finds this phone revoked (its store already wiped by the core). */
    @Volatile
    var onRevoked: (() -> Unit)? = null

    suspend fun refreshSyncStatus(): SyncStatus = call { it.syncStatus() }.also {
        _syncStatus.value = it
        _locked.value = call { s -> s.isLocked() }
    }

    /** When the notes lock unless a sync succeeds first (`null`: never). */
    suspend fun locksAt(): Instant? = call { it.locksAt() }

    /** Forgets what the team's retention terms let expire (each sync does this too). */
    suspend fun purgeExpired(): Purged = call { it.purgeExpired() }

    /** Closes the store; a second close does nothing. */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        store.closeStore()
        store.close()
    }
}
