//! The Wijkverkenner core for the Android and iOS shells, through uniffi.
//!
//! Thin by design: each exported method converts its arguments, calls the core, and converts
//! the answer. No rule lives here. Errors become one [`WvError`] enum (Kotlin exceptions, Swift
//! errors) in exactly one place, [`From<core::Error>`]; times cross as `Instant` / `Date`; ids
//! as strings. Everything that can block (database, network) is a plain blocking call: the
//! shells run it off the UI thread (Kotlin: `Dispatchers.IO`).

mod logging;
mod types;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

pub use types::*;
use wijkverkenner_core as core;

uniffi::setup_scaffolding!();

/// mimalloc for everything the library allocates: sync decodes a page on one thread and
/// writes it on another, and the platform allocators serialise such cross-thread frees
/// (glibc's did: a third of an initial sync was lock waits). See docs/adr/0005.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every failure a shell can see, with a `reason` it can show (also the exception's message). Messages never contain what
/// the user typed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum WvError {
    #[error("{reason}")]
    InvalidInput { reason: String },
    #[error("{reason}")]
    NotFound { reason: String },
    #[error("{reason}")]
    WalkState { reason: String },
    #[error("{reason}")]
    NotAllowed { reason: String },
    #[error("{reason}")]
    NotEnrolled { reason: String },
    #[error("{reason}")]
    WrongKey { reason: String },
    #[error("{reason}")]
    StoreTooNew { reason: String },
    #[error("{reason}")]
    Network { reason: String },
    #[error("{reason}")]
    Server { status: u16, code: String, reason: String },
    #[error("{reason}")]
    Revoked { reason: String },
    #[error("{reason}")]
    Cancelled { reason: String },
    /// Not synced for longer than the team allows: the data opens again after a sync.
    #[error("{reason}")]
    Locked { reason: String },
    #[error("{reason}")]
    Closed { reason: String },
    #[error("{reason}")]
    Internal { reason: String },
}

impl From<core::Error> for WvError {
    fn from(e: core::Error) -> Self {
        use core::Error as E;
        let reason = e.to_string();
        // The one place that decides what is logged about a failure: its kind, never content.
        match &e {
            E::Database(_) | E::Decode(_) | E::Io(_) => tracing::error!(kind = "storage", "core call failed"),
            _ => tracing::debug!("core call refused"),
        }
        match e {
            E::Invalid { .. } | E::Boundaries(_) | E::Taxonomy(_) | E::Photo(_) => WvError::InvalidInput { reason },
            E::NotFound(_) => WvError::NotFound { reason },
            E::WalkState { .. } => WvError::WalkState { reason },
            E::Reviewed | E::NotAuthor => WvError::NotAllowed { reason },
            E::NoIdentity | E::NotEnrolled => WvError::NotEnrolled { reason },
            E::WrongKey => WvError::WrongKey { reason },
            E::SchemaTooNew { .. } => WvError::StoreTooNew { reason },
            E::Transport(_) => WvError::Network { reason },
            E::Server { status, code, .. } => WvError::Server { status, code, reason },
            E::Revoked => WvError::Revoked { reason },
            E::Cancelled => WvError::Cancelled { reason },
            E::Locked => WvError::Locked { reason },
            E::Database(_) | E::Decode(_) | E::Io(_) => WvError::Internal { reason },
        }
    }
}

type Result<T, E = WvError> = std::result::Result<T, E>;

/// Cancels a running sync from another thread; nothing is lost by cancelling.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelToken {
    flag: AtomicBool,
}

#[uniffi::export]
impl CancelToken {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// An HTTP answer from a shell's own transport.
#[derive(Clone, Debug, uniffi::Record)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum TransportFailure {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportFailure::Failed { reason: e.reason }
    }
}

/// The shell's HTTP client: the platform's own stack (`HttpURLConnection` on Android,
/// `URLSession` on iOS), with its TLS, proxies and certificate pinning; the phone library has
/// no HTTP client of its own. Contract: POST `body` to `path` under the team server's base
/// URL with exactly these `headers`; follow no redirect; return the status and the raw body
/// (at most [`max_response_bytes`]; a longer one is a failure). A connection that fails or is
/// cut is a `TransportFailure` whose reason carries no personal data.
#[uniffi::export(foreign)]
pub trait HttpTransport: Send + Sync {
    /// The team server's base URL this transport sends to: the core refuses to send anything
    /// unless it is `https://`, or `http://` to the device itself ([`check_server_url`]),
    /// whichever shell wrote the transport.
    fn server_url(&self) -> String;

    fn post(
        &self,
        path: String,
        headers: std::collections::HashMap<String, String>,
        body: Vec<u8>,
    ) -> Result<HttpResponse, TransportFailure>;
}

/// The longest answer a transport should read (the protocol's bound on a message).
#[uniffi::export]
pub fn max_response_bytes() -> u64 {
    core::sync::wire::MAX_WIRE_BYTES as u64
}

struct ForeignTransport(Arc<dyn HttpTransport>);

impl core::sync::Transport for ForeignTransport {
    fn post(
        &self,
        path: &str,
        credential: Option<&str>,
        body: Vec<u8>,
    ) -> Result<core::sync::HttpResponse, core::sync::TransportError> {
        // The address rule holds for every shell's transport, not only for those that check.
        core::sync::check_server_url(&self.0.server_url())
            .map_err(|_| core::sync::TransportError("the team server's address must be https://".into()))?;
        let headers = core::sync::engine::request_headers(credential)
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        let r = self.0.post(path.to_string(), headers, body).map_err(|e| core::sync::TransportError(e.to_string()))?;
        if r.body.len() > core::sync::wire::MAX_WIRE_BYTES {
            return Err(core::sync::TransportError("the answer is longer than the protocol allows".into()));
        }
        Ok(core::sync::HttpResponse { status: r.status, body: r.body })
    }
}

/// Told the sync status whenever it changes (after every sync attempt, and at registration).
#[uniffi::export(foreign)]
pub trait SyncListener: Send + Sync {
    fn on_sync_status(&self, status: SyncStatus);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Receives the core's log lines (the shell forwards them to Logcat / os_log). Lines carry
/// no personal data.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Sends the core's logs at `max_level` and above to `sink`. Call once at start; later calls
/// replace the sink.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, max_level: LogLevel) {
    logging::install(sink, max_level);
}

/// Whether the phone may talk to a team server at `url`: `https://`, or `http://` only to the
/// device itself (tests). The enrolment screen asks before trying; the
/// transport refuses ([`check_server_url`]).
#[uniffi::export]
pub fn server_url_is_allowed(url: String) -> bool {
    wijkverkenner_core::sync::server_url_is_allowed(&url)
}

/// [`server_url_is_allowed`] as an error (`InvalidInput`, with the rule): the shell's
/// transport calls it before it sends anything to an address.
#[uniffi::export]
pub fn check_server_url(url: String) -> Result<()> {
    Ok(wijkverkenner_core::sync::check_server_url(&url)?)
}

/// Looks for personal data in a note before it is saved (phone numbers, e-mail addresses,
/// IBANs, BSNs, licence plates, addresses, dates of birth, names): the shell warns and offers
/// the redacted text. Works on any text; never fails. The text is not logged.
#[uniffi::export]
pub fn check_personal_data(text: String) -> PersonalDataCheck {
    let found = wijkverkenner_core::personal_data::find(&text);
    PersonalDataCheck {
        findings: found
            .iter()
            .map(|f| PersonalDataFinding { kind: f.kind.into(), text: f.text(&text).to_string() })
            .collect(),
        redacted: wijkverkenner_core::personal_data::redact(&text, &found),
    }
}

/// The encrypted local store of one member on one phone.
#[derive(uniffi::Object)]
pub struct WijkStore {
    store: RwLock<Option<Arc<core::Store>>>,
    listeners: Mutex<Vec<Arc<dyn SyncListener>>>,
}

fn page(limit: u32, cursor: Option<String>) -> core::PageRequest {
    core::PageRequest { limit, cursor }
}

impl WijkStore {
    fn store(&self) -> Result<Arc<core::Store>> {
        self.store
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| WvError::Closed { reason: "the store is closed".into() })
    }

    fn notify(&self, store: &core::Store) {
        if let Ok(status) = store.sync_status() {
            let status: SyncStatus = status.into();
            for l in self.listeners.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                l.on_sync_status(status.clone());
            }
        }
    }

    fn run_sync(&self, transport: &dyn core::sync::Transport, cancel: &CancelToken) -> Result<SyncOutcome> {
        let store = self.store()?;
        let out = store.sync(transport, &cancel.flag);
        self.notify(&store);
        Ok(out?.into())
    }
}

#[uniffi::export]
impl WijkStore {
    /// Opens (or creates) the store at `path` with the 32-byte key from the Keystore/Keychain.
    #[uniffi::constructor]
    pub fn open(path: String, key: Vec<u8>) -> Result<Arc<Self>> {
        let key = core::StoreKey::from_slice(&key)?;
        let store = core::Store::open(path, core::Encryption::Key(key))?;
        Ok(Arc::new(Self { store: RwLock::new(Some(Arc::new(store))), listeners: Mutex::new(Vec::new()) }))
    }

    /// Closes the database now, even while other references exist; later calls fail with
    /// `Closed`. Idempotent. (The generated `close()` / `destroy()` frees the handle itself.)
    pub fn close_store(&self) {
        self.store.write().unwrap_or_else(|p| p.into_inner()).take();
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn identity(&self) -> Result<Option<Identity>> {
        Ok(self.store()?.identity().map(Into::into))
    }

    /// Trades a one-time code for this phone's credential, through the shell's transport
    /// (which checked its address with [`check_server_url`]).
    pub fn enrol_with(&self, transport: Arc<dyn HttpTransport>, code: String, device_name: String) -> Result<Identity> {
        Ok(self.store()?.enrol(&ForeignTransport(transport), &code, &device_name)?.into())
    }

    /// Loads a municipality's boundaries (GeoJSON); returns the number of buurten.
    pub fn load_neighbourhoods(&self, buurten_geojson: String, wijken_geojson: Option<String>) -> Result<u32> {
        Ok(self.store()?.load_neighbourhoods(&buurten_geojson, wijken_geojson.as_deref())? as u32)
    }

    /// The team's categories with Dutch and English labels — retired ones too (old records still
    /// show their label); offer only those not `retired` for new records.
    pub fn categories(&self) -> Result<Vec<Category>> {
        let t = self.store()?.taxonomy();
        Ok(t.categories
            .iter()
            .map(|c| Category {
                kind: c.kind.into(),
                code: c.code.clone(),
                label_nl: c.nl.clone(),
                label_en: c.en.clone(),
                sensitive: c.sensitive,
                retired: c.retired,
                professional: c.professional,
            })
            .collect())
    }

    /// The team's buurten as GeoJSON (`code`, `name`, `wijk_code`, `wijk_name` per feature) for
    /// the map; `None` before the team's boundaries arrived.
    pub fn buurten_geojson(&self) -> Result<Option<String>> {
        Ok(self.store()?.neighbourhoods()?.map(|n| n.to_geojson().to_string()))
    }

    /// The buurt a point lies in: its name (or code), for a record's "where".
    pub fn buurt_name(&self, code: String) -> Result<Option<String>> {
        Ok(self
            .store()?
            .neighbourhoods()?
            .and_then(|n| n.places().find(|p| p.buurt_code == code).map(|p| p.buurt_name.clone()))
            .filter(|n| !n.is_empty()))
    }

    pub fn start_walk(&self, walk: NewWalk) -> Result<Walk> {
        let new = core::NewWalk {
            participants: participants_to_core(walk.participants)?,
            purpose: walk.purpose,
            focus: walk.focus,
            started: walk.started.into(),
        };
        Ok(self.store()?.start_walk(new)?.into())
    }

    pub fn pause_walk(&self, walk_id: String, at: Moment) -> Result<Walk> {
        Ok(self.store()?.pause_walk(&walk_id.parse()?, at.into())?.into())
    }

    pub fn resume_walk(&self, walk_id: String, at: Moment) -> Result<Walk> {
        Ok(self.store()?.resume_walk(&walk_id.parse()?, at.into())?.into())
    }

    pub fn end_walk(&self, walk_id: String, at: Moment) -> Result<Walk> {
        Ok(self.store()?.end_walk(&walk_id.parse()?, at.into())?.into())
    }

    /// The team's members who walk, from the team's settings (this phone's member among them).
    pub fn colleagues(&self) -> Result<Vec<Colleague>> {
        Ok(self.store()?.colleagues()?.into_iter().map(Into::into).collect())
    }

    /// The walker's look back on a walk that ended (until a lead reviewed it).
    pub fn debrief_walk(&self, walk_id: String, debrief: Debrief) -> Result<Walk> {
        Ok(self.store()?.debrief_walk(&walk_id.parse()?, debrief.into())?.into())
    }

    pub fn submit_walk(&self, walk_id: String) -> Result<Walk> {
        Ok(self.store()?.submit_walk(&walk_id.parse()?)?.into())
    }

    pub fn active_walk(&self) -> Result<Option<Walk>> {
        Ok(self.store()?.active_walk()?.map(Into::into))
    }

    pub fn walk(&self, walk_id: String) -> Result<Walk> {
        Ok(self.store()?.walk(&walk_id.parse()?)?.into())
    }

    /// Metres walked so far (live on the walk screen), or the summary's once ended.
    pub fn walk_distance_m(&self, walk_id: String) -> Result<f64> {
        Ok(self.store()?.walk_distance_m(&walk_id.parse()?)?)
    }

    pub fn recent_walks(&self, limit: u32, cursor: Option<String>) -> Result<WalkPage> {
        let p = self.store()?.recent_walks(&page(limit, cursor))?;
        Ok(WalkPage { items: p.items.into_iter().map(Into::into).collect(), next: p.next })
    }

    /// A batch of GPS fixes (every ten seconds or so); implausible ones are kept and flagged.
    pub fn add_fixes(&self, walk_id: String, fixes: Vec<Fix>) -> Result<FixReport> {
        let fixes: Vec<core::Fix> = fixes.into_iter().map(Into::into).collect();
        let r = self.store()?.add_fixes(&walk_id.parse()?, &fixes)?;
        Ok(FixReport { stored: r.stored, flagged: r.flagged })
    }

    pub fn add_record(&self, record: NewRecord) -> Result<Record> {
        Ok(self.store()?.add_record(new_record(record)?)?.into())
    }

    /// Many records in one transaction: all stored, or none. Returns their ids.
    pub fn add_records(&self, records: Vec<NewRecord>) -> Result<Vec<String>> {
        let batch = records.into_iter().map(new_record).collect::<Result<Vec<_>>>()?;
        Ok(self.store()?.add_records(&batch)?.into_iter().map(|id| id.to_string()).collect())
    }

    pub fn edit_record(&self, record_id: String, body: RecordBody, location: Option<Location>) -> Result<Record> {
        Ok(self.store()?.edit_record(&record_id.parse()?, body.into(), location.map(Into::into))?.into())
    }

    pub fn delete_record(&self, record_id: String) -> Result<()> {
        Ok(self.store()?.delete_record(&record_id.parse()?)?)
    }

    /// Attaches a photo to one of the member's own observations or signals: a JPEG the shell
    /// already scaled (long edge ≤ 2048 px) and encoded with the platform's codec. The core
    /// removes every metadata segment (EXIF with GPS and device, XMP, IPTC, comments,
    /// thumbnails) before anything is stored, and refuses what it cannot clean
    /// (`InvalidInput`). Blocking: off the UI thread.
    pub fn attach_photo(&self, record_id: String, jpeg: Vec<u8>) -> Result<Photo> {
        Ok(self.store()?.attach_photo(&record_id.parse()?, &jpeg)?.into())
    }

    /// A record's photos this phone knows of, in order.
    pub fn photos(&self, record_id: String) -> Result<Vec<Photo>> {
        Ok(self.store()?.photos(&record_id.parse()?)?.into_iter().map(Into::into).collect())
    }

    /// A photo's cleaned JPEG, when this phone holds it (`NotFound` otherwise: `fetch_photo`).
    pub fn photo_bytes(&self, photo_id: String) -> Result<Vec<u8>> {
        Ok(self.store()?.photo_bytes(&photo_id.parse()?)?)
    }

    /// Removes one of the member's own photos (before its record is reviewed).
    pub fn remove_photo(&self, photo_id: String) -> Result<()> {
        Ok(self.store()?.remove_photo(&photo_id.parse()?)?)
    }

    /// Photos still to reach the team server (for the sync status screen).
    pub fn photos_waiting(&self) -> Result<u32> {
        Ok(self.store()?.photos_waiting()?)
    }

    /// Asks the team server which photos of a record this member may see, and returns all the
    /// record's photos this phone knows of. Blocking (network): off the UI thread.
    pub fn refresh_photos(&self, transport: Arc<dyn HttpTransport>, record_id: String) -> Result<Vec<Photo>> {
        let store = self.store()?;
        let photos = store.refresh_photos(&ForeignTransport(transport), &record_id.parse()?)?;
        Ok(photos.into_iter().map(Into::into).collect())
    }

    /// A photo's cleaned JPEG: from this phone, or fetched from the team server (which
    /// writes the view into its audit trail), checked and kept. Blocking (network).
    pub fn fetch_photo(&self, transport: Arc<dyn HttpTransport>, photo_id: String) -> Result<Vec<u8>> {
        Ok(self.store()?.fetch_photo(&ForeignTransport(transport), &photo_id.parse()?)?)
    }

    /// A photo's thumbnail (long edge at most 320 px), when this phone holds one: the team's
    /// recent photos come with the sync. `None` for this phone's own photos (it has them).
    pub fn photo_thumbnail(&self, photo_id: String) -> Result<Option<Vec<u8>>> {
        Ok(self.store()?.photo_thumbnail(&photo_id.parse()?)?)
    }

    /// A photo's thumbnail: from this phone, or fetched from the team server (need-to-know as
    /// for the photo), checked and kept within the phone's cap. Blocking (network).
    pub fn fetch_thumbnail(&self, transport: Arc<dyn HttpTransport>, photo_id: String) -> Result<Vec<u8>> {
        Ok(self.store()?.fetch_thumbnail(&ForeignTransport(transport), &photo_id.parse()?)?)
    }

    pub fn record(&self, record_id: String) -> Result<Record> {
        Ok(self.store()?.record(&record_id.parse()?)?.into())
    }

    pub fn answer_review(&self, record_id: String, answer: String) -> Result<()> {
        Ok(self.store()?.answer_review(&record_id.parse()?, &answer)?)
    }

    /// The author answers a lead's question about a walk.
    pub fn answer_walk_question(&self, walk_id: String, answer: String) -> Result<()> {
        Ok(self.store()?.answer_walk_question(&walk_id.parse()?, &answer)?)
    }

    // A lead's functions (refused with `NotAllowed` for a field worker). Decisions made here
    // reach the author and the team at the next sync, through the same rules as the browser's.

    /// A lead's decision on a record: a signal's status and referral, a question to the author.
    pub fn review_record(&self, record_id: String, decision: Decision) -> Result<()> {
        Ok(self.store()?.review_record(&record_id.parse()?, decision.into())?)
    }

    /// A lead marks a record reviewed: its author can no longer change it.
    pub fn mark_record_reviewed(&self, record_id: String) -> Result<()> {
        Ok(self.store()?.mark_record_reviewed(&record_id.parse()?)?)
    }

    /// A lead's question about a walk, and whether the walk is reviewed.
    pub fn review_walk(&self, walk_id: String, question: Option<String>, reviewed: bool) -> Result<()> {
        Ok(self.store()?.review_walk(&walk_id.parse()?, question, reviewed)?)
    }

    /// The report of a walk from what this phone holds: summary, participants, timeline,
    /// counts, conversations and signals (the review pages compute the same in the core).
    pub fn walk_report(&self, walk_id: String) -> Result<WalkReport> {
        Ok(self.store()?.walk_report(&walk_id.parse()?)?.into())
    }

    /// The walk on a map: a GeoJSON FeatureCollection (RFC 7946) of the simplified track and
    /// the located records by kind, for the app's map view.
    pub fn walk_map_geojson(&self, walk_id: String) -> Result<String> {
        Ok(self.store()?.walk_map(&walk_id.parse()?)?.to_string())
    }

    /// The street tactics of the walks this phone holds that started between `from` and `to`.
    pub fn street_tactics(&self, from: SystemTime, to: SystemTime) -> Result<StreetTactics> {
        Ok(self.store()?.street_tactics(types::from_time(from), types::from_time(to))?.into())
    }

    pub fn walk_timeline(&self, walk_id: String, limit: u32, cursor: Option<String>) -> Result<RecordPage> {
        let p = self.store()?.walk_timeline(&walk_id.parse()?, &page(limit, cursor))?;
        Ok(records(p))
    }

    pub fn latest_records(&self, limit: u32, cursor: Option<String>) -> Result<RecordPage> {
        Ok(records(self.store()?.latest_records(&page(limit, cursor))?))
    }

    pub fn records_in_buurt(&self, buurt_code: String, limit: u32, cursor: Option<String>) -> Result<RecordPage> {
        Ok(records(self.store()?.records_in_buurt(&buurt_code, &page(limit, cursor))?))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn records_near(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        from: SystemTime,
        to: SystemTime,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<RecordPage> {
        let p = self.store()?.records_near(
            lat,
            lon,
            radius_m,
            types::from_time(from),
            types::from_time(to),
            &page(limit, cursor),
        )?;
        Ok(records(p))
    }

    /// Syncs with the team server through the shell's transport. Blocking: call off the UI
    /// thread. Listeners hear the new status afterwards, success or not.
    pub fn sync_with(&self, transport: Arc<dyn HttpTransport>, cancel: Arc<CancelToken>) -> Result<SyncOutcome> {
        self.run_sync(&ForeignTransport(transport), &cancel)
    }

    pub fn sync_status(&self) -> Result<SyncStatus> {
        Ok(self.store()?.sync_status()?.into())
    }

    /// Forgets what the team's retention terms let expire by now (every sync does this too):
    /// call at start. Blocking (it may compact the file): off the UI thread.
    pub fn purge_expired(&self) -> Result<Purged> {
        Ok(self.store()?.purge_expired_now()?.into())
    }

    /// Whether the data is locked: not synced for longer than the team allows. Every read and
    /// write of walks and records then fails with `Locked` until a sync succeeds.
    pub fn is_locked(&self) -> Result<bool> {
        Ok(self.store()?.is_locked())
    }

    /// When the data locks unless a sync succeeds first (`None`: it does not).
    pub fn locks_at(&self) -> Result<Option<SystemTime>> {
        Ok(self.store()?.locks_at().map(types::to_time))
    }

    /// Registers a listener; it hears the current status at once.
    pub fn add_sync_listener(&self, listener: Arc<dyn SyncListener>) -> Result<()> {
        let store = self.store()?;
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(listener);
        self.notify(&store);
        Ok(())
    }
}

fn new_record(r: NewRecord) -> Result<core::NewRecord> {
    Ok(core::NewRecord {
        walk_id: r.walk_id.parse()?,
        body: r.body.into(),
        created: r.created.into(),
        location: r.location.map(Into::into),
    })
}

fn records(p: core::Page<core::Record>) -> RecordPage {
    RecordPage { items: p.items.into_iter().map(Into::into).collect(), next: p.next }
}
