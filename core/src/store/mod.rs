//! The local store: one encrypted SQLite file per member and phone.
//!
//! One opener sets the pragmas and upgrades the schema. One writer connection behind a mutex
//! takes every user action as one immediate transaction; readers come from a small pool so
//! the walk screen can query while the GPS batch is written. Sync metadata (`hlc`,
//! `field_clocks`, `pending`, tombstones) is written by the same code that changes a row.

mod photos;
pub use photos::FETCHED_PHOTOS_CAP_BYTES;
mod queries;
mod records;
mod retention;
pub use retention::{PurgeEntry, Purged};
mod reports;
mod review;
pub(crate) mod schema;
mod sync;
mod walks;

pub use records::MAX_RECORD_BATCH;
pub use walks::{FixReport, MAX_FIX_BATCH};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::member::Identity;
use crate::neighbourhood::Neighbourhoods;
use crate::taxonomy::Taxonomy;
use crate::team::TeamSettings;
use crate::track::{OfficeHours, TrackSettings};

pub use queries::{Page, PageRequest, MAX_PAGE};
pub use reports::NOTED_BEFORE_RADIUS_M;
pub use schema::SCHEMA_VERSION;
pub use sync::{ApplyReport, IncomingPage};

/// The 32-byte key that opens a store. The shell keeps it in the Android Keystore or the iOS
/// Keychain; the core never writes it anywhere. Zeroed when dropped.
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| Error::invalid("store key", "must be exactly 32 bytes"))?;
        Ok(Self(arr))
    }

    fn pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", hex(&self.0))
    }
}

/// Bytes as lowercase hex digits (a raw key for SQLCipher, a secret kept as text).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`hex`] for 32 bytes (a SHA-256), lowercase only.
pub(crate) fn unhex(text: &str) -> std::result::Result<[u8; 32], ()> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        _ => Err(()),
    };
    let t = text.as_bytes();
    if t.len() != 64 {
        return Err(());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(t[2 * i])? << 4 | digit(t[2 * i + 1])?;
    }
    Ok(out)
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // Volatile so the compiler cannot elide the wipe of a value about to be freed.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// How the store file is protected.
#[derive(Clone, Debug)]
pub enum Encryption {
    /// SQLCipher with a raw 32-byte key: the only mode for real data.
    Key(StoreKey),
    /// No encryption. For tests and tools only; never a default and never on a phone.
    PlaintextForTestsOnly,
}

/// Settings a team can tune; stored in the store so every screen uses the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub track: TrackSettings,
    pub office_hours: OfficeHours,
}

impl Settings {
    pub fn validate(&self) -> Result<()> {
        self.track.validate()?;
        self.office_hours.validate()
    }
}

enum Places {
    NotLoaded,
    Absent,
    Loaded(Arc<Neighbourhoods>),
}

struct State {
    identity: Option<Identity>,
    taxonomy: Arc<Taxonomy>,
    settings: Settings,
    places: Places,
    /// When the data locks unless a sync succeeds first (`retention.rs`).
    locks_at: Option<i64>,
}

struct Writer {
    conn: Connection,
    /// Last clock value handed out; persisted in `meta` with every change.
    hlc: Hlc,
}

/// What a write transaction can stamp changes with.
pub(crate) struct Change<'a> {
    pub tx: Transaction<'a>,
    last: Hlc,
    node: u64,
    ticked: bool,
    skew_ms: i64,
}

impl Change<'_> {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.skew_ms
    }

    /// The next clock value for a change in this transaction.
    pub fn tick(&mut self) -> Hlc {
        let now = self.now_ms().max(0) as u64;
        self.last = self.last.tick(now, self.node);
        self.ticked = true;
        self.last
    }

    /// Moves this device's clock past a value seen from elsewhere (sync) — unless the value is
    /// not believable ([`Hlc::is_plausible`]): a clock far in the future, from a broken phone or
    /// a forgery, must not drag this device's clock along (its changes would be refused, and at
    /// the largest value it could not count on).
    pub fn observe(&mut self, seen: Hlc) {
        if seen > self.last && seen.is_plausible(self.now_ms()) {
            self.last = self.last.observe(&seen);
            self.ticked = true;
        }
    }
}

/// An open store. `Send + Sync`: share it behind an `Arc`.
pub struct Store {
    path: PathBuf,
    encryption: Encryption,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    state: RwLock<State>,
    /// Tests only: how far this "phone's" clock is off.
    clock_skew_ms: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

const READER_POOL: usize = 4;

/// How durable a write transaction must be when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Survives a power loss (`synchronous = FULL`): every user action.
    Full,
    /// Survives a process kill; a power loss may roll back the last few such transactions
    /// as a whole (`synchronous = NORMAL`). Only for what can be fetched again: a sync page,
    /// whose cursor is written in the same transaction, so a rolled-back page is pulled again.
    /// A later `Full` commit makes these durable too (the WAL is synced in order).
    Replayable,
}

/// WAL pages after which the writer checkpoints by itself (SQLite's default).
const AUTOCHECKPOINT_PAGES: u32 = 1000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens one connection with the key and the pragmas; `WrongKey` if the key does not fit.
fn connect(path: &Path, encryption: &Encryption, reader: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    if let Encryption::Key(key) = encryption {
        conn.execute_batch(&key.pragma())?;
    }
    // The first read decrypts page 1: a wrong key (or a plaintext/encrypted mix-up) fails here,
    // before anything is written.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => return Err(Error::WrongKey),
        Err(e) => return Err(e.into()),
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        // secure_delete: what is deleted or purged (a record, a photo's bytes) is overwritten
        // in the file, not left in free pages for whoever later holds the key.
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;
         PRAGMA synchronous = FULL;",
    )?;
    if reader {
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(conn)
}

/// This device's clock as stored — repaired if it lies beyond belief ahead of the wall clock:
/// a clock pulled from a broken or hostile phone before servers bounded clocks, or a wall clock
/// that was far ahead and was set right. Such a clock would make every change refused by the
/// team server (and, at the largest value, could not count on). It restarts from the wall
/// clock, and the pending changes stamped beyond belief are stamped again, so they sync.
fn repair_clock(conn: &mut Connection, identity: Option<&Identity>) -> Result<Hlc> {
    let stored: Hlc = read_meta(conn, "hlc")?.unwrap_or(Hlc::ZERO);
    let now = chrono::Utc::now().timestamp_millis();
    if stored.is_plausible(now) {
        return Ok(stored);
    }
    let node = identity.map(|i| Hlc::node_of(&i.device)).unwrap_or(0);
    let fresh = Hlc::ZERO.tick(now.max(0) as u64, node);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for table in ["walks", "records"] {
        let rows: Vec<(Vec<u8>, String)> = tx
            .prepare(&format!("SELECT id, field_clocks FROM {table} WHERE pending = 1"))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, clocks) in rows {
            let mut clocks: std::collections::BTreeMap<String, Hlc> = serde_json::from_str(&clocks)?;
            for c in clocks.values_mut().filter(|c| !c.is_plausible(now)) {
                *c = fresh;
            }
            let version = clocks.values().copied().max().unwrap_or(fresh).max(fresh);
            tx.execute(
                &format!("UPDATE {table} SET field_clocks = ?2, hlc = ?3 WHERE id = ?1"),
                rusqlite::params![id, serde_json::to_string(&clocks)?, version.to_string()],
            )?;
        }
    }
    write_meta(&tx, "hlc", &fresh)?;
    tx.commit()?;
    tracing::warn!("this device's clock lay beyond belief ahead of the wall clock; it was reset");
    Ok(fresh)
}

pub(crate) fn read_meta<T: serde::de::DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    let v: Option<String> = conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
    Ok(match v {
        Some(s) => Some(serde_json::from_str(&s)?),
        None => None,
    })
}

pub(crate) fn write_meta<T: Serialize>(tx: &Transaction, key: &str, value: &T) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute((key, serde_json::to_string(value)?))?;
    Ok(())
}

impl Store {
    /// Opens (or creates) the store at `path`. A wrong key returns [`Error::WrongKey`] and
    /// leaves the file as it was; a store from a newer app returns [`Error::SchemaTooNew`].
    pub fn open(path: impl AsRef<Path>, encryption: Encryption) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let mut conn = connect(&path, &encryption, false)?;
        // Refuse a newer store before anything (even the journal mode) changes the file.
        schema::check_version(&conn)?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA journal_size_limit = 8388608;")?;
        schema::migrate(&mut conn)?;
        let identity: Option<Identity> = read_meta(&conn, "identity")?;
        let hlc = repair_clock(&mut conn, identity.as_ref())?;
        let taxonomy = match read_meta::<String>(&conn, "taxonomy")? {
            Some(json) => Taxonomy::from_json(&json)?,
            None => Taxonomy::default_taxonomy(),
        };
        let settings = read_meta(&conn, "settings")?.unwrap_or_default();
        let store = Store {
            path,
            encryption,
            writer: Mutex::new(Writer { conn, hlc }),
            readers: Mutex::new(Vec::new()),
            clock_skew_ms: std::sync::atomic::AtomicI64::new(0),
            state: RwLock::new(State {
                identity,
                taxonomy: Arc::new(taxonomy),
                settings,
                places: Places::NotLoaded,
                locks_at: None,
            }),
        };
        store.refresh_lock()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs one user action as one immediate transaction, durable when it returns.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Change) -> Result<T>) -> Result<T> {
        self.write_with(Durability::Full, f)
    }

    /// Runs one transaction with the given durability (see [`Durability`]).
    pub(crate) fn write_with<T>(&self, durability: Durability, f: impl FnOnce(&mut Change) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.writer);
        if durability == Durability::Replayable {
            guard.conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        }
        let out = Self::transaction(&mut guard, self.identity(), &self.clock_skew_ms, f);
        if durability == Durability::Replayable {
            guard.conn.execute_batch("PRAGMA synchronous = FULL;")?;
        }
        out
    }

    fn transaction<T>(
        guard: &mut Writer,
        identity: Option<Identity>,
        clock_skew_ms: &std::sync::atomic::AtomicI64,
        f: impl FnOnce(&mut Change) -> Result<T>,
    ) -> Result<T> {
        let node = identity.map(|i| Hlc::node_of(&i.device)).unwrap_or(0);
        let Writer { conn, hlc } = guard;
        let last = *hlc;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let skew_ms = clock_skew_ms.load(std::sync::atomic::Ordering::Relaxed);
        let mut change = Change { tx, last, node, ticked: false, skew_ms };
        let out = f(&mut change)?;
        if change.ticked {
            write_meta(&change.tx, "hlc", &change.last)?;
        }
        let next = change.last;
        change.tx.commit()?;
        *hlc = next;
        Ok(out)
    }

    /// Runs a query on a reader connection from the pool.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => connect(&self.path, &self.encryption, true)?,
        };
        let out = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < READER_POOL {
            pool.push(conn);
        }
        out
    }

    /// Copies committed WAL pages into the database file from a reader connection, without
    /// waiting for or blocking the writer. Sync runs this on its second thread while the
    /// writer applies the next page (the writer's own checkpoints are paused meanwhile).
    pub(crate) fn checkpoint_passive(&self) -> Result<()> {
        self.read(|c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Pauses (`false`) or resumes (`true`) the writer's automatic checkpoints.
    pub(crate) fn set_autocheckpoint(&self, on: bool) -> Result<()> {
        let pages = if on { AUTOCHECKPOINT_PAGES } else { 0 };
        let w = lock(&self.writer);
        w.conn.query_row(&format!("PRAGMA wal_autocheckpoint = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// The enrolled member on this device, if any.
    pub fn identity(&self) -> Option<Identity> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).identity.clone()
    }

    /// Records who uses this store (enrolment does this).
    pub fn set_identity(&self, identity: &Identity) -> Result<()> {
        identity.member.validate()?;
        self.write(|c| write_meta(&c.tx, "identity", identity))?;
        self.state.write().unwrap_or_else(|p| p.into_inner()).identity = Some(identity.clone());
        Ok(())
    }

    pub(crate) fn require_identity(&self) -> Result<Identity> {
        self.identity().ok_or(Error::NoIdentity)
    }

    pub fn taxonomy(&self) -> Arc<Taxonomy> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).taxonomy.clone()
    }

    /// Replaces the team's taxonomy. Every code of the current one must remain (retired if
    /// need be), because stored records refer to it.
    pub fn set_taxonomy(&self, next: Taxonomy) -> Result<()> {
        self.taxonomy().check_replacement(&next)?;
        self.write(|c| write_meta(&c.tx, "taxonomy", &next.to_json()))?;
        self.state.write().unwrap_or_else(|p| p.into_inner()).taxonomy = Arc::new(next);
        Ok(())
    }

    pub fn settings(&self) -> Settings {
        self.state.read().unwrap_or_else(|p| p.into_inner()).settings.clone()
    }

    pub fn set_settings(&self, settings: &Settings) -> Result<()> {
        settings.validate()?;
        self.write(|c| write_meta(&c.tx, "settings", settings))?;
        self.state.write().unwrap_or_else(|p| p.into_inner()).settings = settings.clone();
        Ok(())
    }

    /// Takes the team's settings from the team server (sync does this when the server names a
    /// version this phone does not hold), in one transaction: the team's taxonomy — completed
    /// with any code this phone knows and the team's lacks, kept as retired, so no record here
    /// loses its category — the office hours, and the buurt boundaries (a team without
    /// boundaries leaves the phone's as they are). `places` are the boundaries parsed
    /// ([`TeamSettings::from_json`] returns them).
    pub fn apply_team_settings(&self, team: &TeamSettings, places: Option<Neighbourhoods>) -> Result<()> {
        let taxonomy = team.taxonomy.clone().keeping(&self.taxonomy());
        let settings = Settings { office_hours: team.office_hours.clone(), ..self.settings() };
        settings.validate()?;
        let buurten = team.buurten.as_ref().map(|b| b.to_string());
        self.write(|c| {
            write_meta(&c.tx, "taxonomy", &taxonomy.to_json())?;
            write_meta(&c.tx, "settings", &settings)?;
            if let Some(b) = &buurten {
                c.tx.execute("DELETE FROM boundaries", [])?;
                c.tx.execute("INSERT INTO boundaries (kind, geojson) VALUES ('buurt', ?1)", [b])?;
            }
            write_meta(&c.tx, "team_members", &team.members)?;
            match &team.retention {
                Some(terms) => write_meta(&c.tx, "retention", terms)?,
                None => {
                    c.tx.execute("DELETE FROM meta WHERE key = 'retention'", [])?;
                }
            }
            write_meta(&c.tx, "team_settings", &team.tag)
        })?;
        self.refresh_lock()?;
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.taxonomy = Arc::new(taxonomy);
        st.settings = settings;
        if let Some(n) = places {
            st.places = Places::Loaded(Arc::new(n));
        } else if buurten.is_some() {
            st.places = Places::NotLoaded;
        }
        Ok(())
    }

    /// The team's members who walk, as the team server last sent them: whom a walker can name
    /// as colleagues on a walk (this phone's own member among them).
    pub fn colleagues(&self) -> Result<Vec<crate::team::Colleague>> {
        Ok(self.read(|c| read_meta(c, "team_members"))?.unwrap_or_default())
    }

    /// The tag of the team settings this phone holds (`None`: never received any).
    pub fn team_settings_tag(&self) -> Result<Option<String>> {
        self.read(|c| read_meta(c, "team_settings"))
    }

    /// Loads a municipality's boundaries (GeoJSON) into the store; new records and walks are
    /// tagged with them from now on. Returns the number of buurten.
    pub fn load_neighbourhoods(&self, buurten: &str, wijken: Option<&str>) -> Result<usize> {
        let parsed = Neighbourhoods::from_geojson(buurten, wijken)?;
        self.write(|c| {
            c.tx.execute("DELETE FROM boundaries", [])?;
            c.tx.execute("INSERT INTO boundaries (kind, geojson) VALUES ('buurt', ?1)", [buurten])?;
            if let Some(w) = wijken {
                c.tx.execute("INSERT INTO boundaries (kind, geojson) VALUES ('wijk', ?1)", [w])?;
            }
            Ok(())
        })?;
        let n = parsed.len();
        self.state.write().unwrap_or_else(|p| p.into_inner()).places = Places::Loaded(Arc::new(parsed));
        Ok(n)
    }

    /// The loaded boundaries, parsed on first use (opening the store stays fast).
    pub fn neighbourhoods(&self) -> Result<Option<Arc<Neighbourhoods>>> {
        match &self.state.read().unwrap_or_else(|p| p.into_inner()).places {
            Places::Loaded(n) => return Ok(Some(n.clone())),
            Places::Absent => return Ok(None),
            Places::NotLoaded => {}
        }
        let docs: Vec<(String, String)> = self.read(|c| {
            let mut st = c.prepare("SELECT kind, geojson FROM boundaries")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        let buurt = docs.iter().find(|(k, _)| k == "buurt").map(|(_, d)| d.as_str());
        let wijk = docs.iter().find(|(k, _)| k == "wijk").map(|(_, d)| d.as_str());
        let places = match buurt {
            Some(b) => Places::Loaded(Arc::new(Neighbourhoods::from_geojson(b, wijk)?)),
            None => Places::Absent,
        };
        let out = match &places {
            Places::Loaded(n) => Some(n.clone()),
            _ => None,
        };
        self.state.write().unwrap_or_else(|p| p.into_inner()).places = places;
        Ok(out)
    }

    /// Tests only: pretend this phone's clock is `ms` off (a day, say), for the clocks it stamps.
    #[doc(hidden)]
    pub fn simulate_clock_skew(&self, ms: i64) {
        self.clock_skew_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// SQLite's own consistency check; "ok" when the file is intact.
    pub fn integrity_check(&self) -> Result<String> {
        let w = lock(&self.writer);
        Ok(w.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}
