//! The embedded default: one SQLite file in the data directory. One writer connection, a
//! small pool of readers, WAL, every method one transaction.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::photos::{PhotoOffered, PhotoQuota, PhotoStorage, StoredPhoto};
use super::{
    AuditEvent, Caller, ChangedRow, CodeInfo, Deletion, Device, FeedPage, HistoryEntry, Member, Redeemed, Role,
    SettingsRow, Storage, Stored, StoredRow, Team, Tx, Viewer, WebAccount, WebSession, WebSetup, ENROL_RETRY_MS,
};
use crate::error::{Error, Result};
use wijkverkenner_core::sync::wire::EntityKind;
use wijkverkenner_core::sync::wire::PhotoRef;
use wijkverkenner_core::sync::wire::MAX_PULL_BYTES;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS teams (
    id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,
    settings_version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS team_settings (
    team_id TEXT PRIMARY KEY NOT NULL REFERENCES teams (id), version INTEGER NOT NULL, taxonomy TEXT,
    office_hours TEXT, buurten TEXT, updated_ms INTEGER NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    id TEXT PRIMARY KEY NOT NULL, team_id TEXT NOT NULL REFERENCES teams (id), display_name TEXT NOT NULL,
    role TEXT NOT NULL, organisation TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY NOT NULL, member_id TEXT NOT NULL REFERENCES members (id), name TEXT NOT NULL,
    credential_hash TEXT NOT NULL, created_ms INTEGER NOT NULL, last_seen_ms INTEGER, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY NOT NULL, member_id TEXT NOT NULL REFERENCES members (id),
    expires_ms INTEGER NOT NULL, used_ms INTEGER, attempt_hash TEXT, device_id TEXT);
CREATE TABLE IF NOT EXISTS entities (
    team_id TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, author_id TEXT NOT NULL,
    sensitive INTEGER NOT NULL, seq INTEGER NOT NULL, last_device TEXT NOT NULL, doc TEXT NOT NULL,
    was_public INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (team_id, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entities_feed ON entities (team_id, seq);
CREATE TABLE IF NOT EXISTS review_history (
    team_id TEXT NOT NULL, entity_id TEXT NOT NULL, at_ms INTEGER NOT NULL, member_id TEXT NOT NULL,
    field TEXT NOT NULL, value TEXT NOT NULL, comment TEXT);
CREATE INDEX IF NOT EXISTS review_history_entity ON review_history (team_id, entity_id, at_ms);
CREATE TABLE IF NOT EXISTS web_accounts (
    member_id TEXT PRIMARY KEY NOT NULL REFERENCES members (id), login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL, totp_secret TEXT NOT NULL, totp_last_step INTEGER NOT NULL,
    failures INTEGER NOT NULL, locked_until_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS web_setups (
    token_hash TEXT PRIMARY KEY NOT NULL, member_id TEXT NOT NULL REFERENCES members (id), login TEXT NOT NULL,
    totp_secret TEXT NOT NULL, issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, used_ms INTEGER);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL, member_id TEXT NOT NULL REFERENCES members (id),
    created_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, ended_ms INTEGER,
    agent TEXT NOT NULL);
-- The audit trail (BIO): append-only, never a record's content.
CREATE TABLE IF NOT EXISTS server_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention (
    team_id TEXT PRIMARY KEY NOT NULL, policy TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS location_grid (
    team_id TEXT PRIMARY KEY NOT NULL, cell_m INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deletion_log (
    team_id TEXT NOT NULL, at_ms INTEGER NOT NULL, entity_id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deletion_log_team ON deletion_log (team_id, at_ms);
CREATE TABLE IF NOT EXISTS audit_log (
    n INTEGER PRIMARY KEY AUTOINCREMENT, team_id TEXT NOT NULL, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, object TEXT NOT NULL, result TEXT NOT NULL, origin TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_team ON audit_log (team_id, at_ms);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- Entries go only by the trail's own term: older than the cutoff, which only moves forward.
CREATE TABLE IF NOT EXISTS audit_cutoff (id INTEGER PRIMARY KEY CHECK (id = 1), cutoff_ms INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_cutoff_forward BEFORE UPDATE ON audit_cutoff
    WHEN NEW.cutoff_ms < OLD.cutoff_ms
    BEGIN SELECT RAISE(ABORT, 'the audit cutoff only moves forward'); END;
-- Nothing of the last 180 days can go, whoever writes the cutoff.
CREATE TRIGGER IF NOT EXISTS audit_cutoff_old_insert BEFORE INSERT ON audit_cutoff
    WHEN NEW.cutoff_ms > unixepoch('now') * 1000 - 180 * 86400000
    BEGIN SELECT RAISE(ABORT, 'the audit trail keeps its last 180 days'); END;
CREATE TRIGGER IF NOT EXISTS audit_cutoff_old_update BEFORE UPDATE ON audit_cutoff
    WHEN NEW.cutoff_ms > unixepoch('now') * 1000 - 180 * 86400000
    BEGIN SELECT RAISE(ABORT, 'the audit trail keeps its last 180 days'); END;
CREATE TRIGGER IF NOT EXISTS audit_cutoff_kept BEFORE DELETE ON audit_cutoff
    BEGIN SELECT RAISE(ABORT, 'the audit cutoff only moves forward'); END;
DROP TRIGGER IF EXISTS audit_log_no_delete;
CREATE TRIGGER IF NOT EXISTS audit_log_kept BEFORE DELETE ON audit_log
    WHEN OLD.at_ms >= coalesce((SELECT cutoff_ms FROM audit_cutoff WHERE id = 1), 0)
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log
    WHEN EXISTS (SELECT 1 FROM audit_log WHERE n = NEW.n)
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- Photos (issue 13): their description here, their bytes in files (storage/photos.rs).
CREATE TABLE IF NOT EXISTS photos (
    team_id TEXT NOT NULL, id TEXT NOT NULL, record_id TEXT NOT NULL, author_id TEXT NOT NULL,
    position INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, received INTEGER NOT NULL DEFAULT 0, stored INTEGER NOT NULL DEFAULT 0,
    offered_ms INTEGER NOT NULL, thumbnail BLOB,
    PRIMARY KEY (team_id, id), UNIQUE (team_id, record_id, position));
CREATE INDEX IF NOT EXISTS photos_author ON photos (team_id, author_id);
";

pub struct SqliteStorage {
    path: std::path::PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Readers>,
    /// Signalled when a reader connection is returned.
    reader_back: std::sync::Condvar,
}

/// At most [`MAX_READERS`] reader connections; a read waits for one rather than open another
/// (reads must not nest: a read inside a read could wait for itself).
/// (Opening one per read when all were busy made a burst of 200 syncs open thousands of
/// connections, each with a cold cache, all contending on SQLite's global page-cache mutex:
/// the server stalled for a minute. Found by the load benchmark.)
#[derive(Default)]
struct Readers {
    idle: Vec<Connection>,
    open: usize,
}

const MAX_READERS: usize = 8;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn connect(path: &Path) -> Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    // secure_delete: a deleted row's bytes are overwritten, not left in free pages (retention).
    c.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
    )?;
    let _: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    Ok(c)
}

/// The columns of a team, as `team_row` reads them (from `at`).
const TEAM_COLS: &str = "t.id, t.name, t.created_ms, t.settings_version";

fn team_row(r: &Row, at: usize) -> rusqlite::Result<Team> {
    Ok(Team { id: r.get(at)?, name: r.get(at + 1)?, created_ms: r.get(at + 2)?, settings_version: r.get(at + 3)? })
}

fn settings_row(r: &Row) -> rusqlite::Result<SettingsRow> {
    Ok(SettingsRow {
        version: r.get(0)?,
        taxonomy: r.get(1)?,
        office_hours: r.get(2)?,
        buurten: r.get(3)?,
        updated_ms: r.get(4)?,
        updated_by: r.get(5)?,
    })
}

const SETTINGS_COLS: &str = "version, taxonomy, office_hours, buurten, updated_ms, updated_by";

fn member_row(r: &Row, at: usize) -> rusqlite::Result<Member> {
    let role: String = r.get(at + 3)?;
    Ok(Member {
        id: r.get(at)?,
        team_id: r.get(at + 1)?,
        display_name: r.get(at + 2)?,
        role: Role::parse(&role).unwrap_or(Role::FieldWorker),
        organisation: r.get(at + 4)?,
        created_ms: r.get(at + 5)?,
        disabled_ms: r.get(at + 6)?,
        referral: r.get(at + 7)?,
    })
}

fn device_row(r: &Row, at: usize) -> rusqlite::Result<Device> {
    Ok(Device {
        id: r.get(at)?,
        member_id: r.get(at + 1)?,
        name: r.get(at + 2)?,
        credential_hash: r.get(at + 3)?,
        created_ms: r.get(at + 4)?,
        last_seen_ms: r.get(at + 5)?,
        revoked_ms: r.get(at + 6)?,
    })
}

const MEMBER_COLS: &str =
    "m.id, m.team_id, m.display_name, m.role, m.organisation, m.created_ms, m.disabled_ms, m.referral";
/// How many columns MEMBER_COLS are (what follows them in a row starts there).
const MEMBER_N: usize = 8;
const DEVICE_COLS: &str = "d.id, d.member_id, d.name, d.credential_hash, d.created_ms, d.last_seen_ms, d.revoked_ms";

impl SqliteStorage {
    /// Opens (or creates) `wijkverkenner-server.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        // Closed to others before the database exists: its WAL and shared memory take its mode.
        crate::secret::private_data_dir(dir)?;
        let path = dir.join("wijkverkenner-server.db");
        crate::secret::private_file(&path)?;
        // Two processes starting on a fresh file at once: one may find it locked while the
        // other turns it to WAL (SQLite does not wait there); the loser tries again.
        let mut tries = 0;
        let writer = loop {
            match Self::set_up(&path) {
                Err(Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                    if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                        && tries < 100 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Readers::default()),
            reader_back: std::sync::Condvar::new(),
        })
    }

    /// The writer connection, with the schema and its upgrades applied.
    fn set_up(path: &Path) -> Result<Connection> {
        let mut writer = connect(path)?;
        // Schema and upgrades in one immediate transaction: two processes starting on a fresh
        // directory at once take turns (each sees what the other added) instead of racing.
        let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        // Columns added later, for older data: protocol 2 (withdrawals; repeatable enrolment;
        // entity rows from before are assumed to have been visible to the team), then the
        // operator's tools (quarantine, disabled members, when a code was issued).
        for (table, column, def) in [
            ("entities", "was_public", "INTEGER NOT NULL DEFAULT 1"),
            ("enrolment_codes", "attempt_hash", "TEXT"),
            ("enrolment_codes", "device_id", "TEXT"),
            ("entities", "quarantined", "INTEGER NOT NULL DEFAULT 0"),
            ("members", "disabled_ms", "INTEGER"),
            ("enrolment_codes", "issued_ms", "INTEGER"),
            ("entities", "walk_id", "TEXT"),
            ("teams", "settings_version", "INTEGER NOT NULL DEFAULT 0"),
            ("members", "referral", "TEXT"),
            ("photos", "thumbnail", "BLOB"),
        ] {
            let present: bool =
                tx.query_row("SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2", [table, column], |r| {
                    r.get(0)
                })?;
            if !present {
                tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {def};"))?;
                if column == "walk_id" {
                    tx.execute_batch(
                        "UPDATE entities SET walk_id = json_extract(doc, '$.walk_id') WHERE kind <> 'walk';",
                    )?;
                }
            }
        }
        // A walk's records in feed order from one index: with (team_id, walk_id) alone the
        // planner walked the team's whole feed index to avoid a sort, for every walk of every
        // pull (a burst of 200 syncs stalled for a minute).
        tx.execute_batch(
            "DROP INDEX IF EXISTS entities_walk;
             CREATE INDEX IF NOT EXISTS entities_walk_seq ON entities (team_id, walk_id, seq);",
        )?;
        tx.commit()?;
        Ok(writer)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = {
            let mut pool = lock(&self.readers);
            loop {
                if let Some(c) = pool.idle.pop() {
                    break Some(c);
                }
                if pool.open < MAX_READERS {
                    pool.open += 1;
                    break None;
                }
                pool = self.reader_back.wait(pool).unwrap_or_else(|p| p.into_inner());
            }
        };
        // Returns the connection, or its slot if there is none (failed to open, or `f`
        // panicked), whatever happens in between: a lost slot would starve every later read.
        struct Slot<'a>(&'a SqliteStorage, Option<Connection>);
        impl Drop for Slot<'_> {
            fn drop(&mut self) {
                let mut pool = lock(&self.0.readers);
                match self.1.take() {
                    Some(c) if !std::thread::panicking() => pool.idle.push(c),
                    _ => pool.open -= 1,
                }
                drop(pool);
                self.0.reader_back.notify_one();
            }
        }
        let mut slot = Slot(self, conn);
        if slot.1.is_none() {
            slot.1 = Some(connect(&self.path)?);
        }
        f(slot.1.as_ref().expect("a reader connection"))
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut c = lock(&self.writer);
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// As [`Self::write`], but the commit is not made durable on its own (WAL with
    /// `synchronous = NORMAL`: durable with the next full commit or checkpoint). Only for a
    /// count that may fall behind what it counts after a power loss and never run ahead: a
    /// photo's upload progress, written after its bytes are durable (a lagging count only
    /// makes the phone send a chunk again, written over the same place).
    fn write_replayable<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut c = lock(&self.writer);
        c.execute_batch("PRAGMA synchronous = NORMAL;")?;
        let out = (|| -> Result<T> {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        let restored = c.execute_batch("PRAGMA synchronous = FULL;");
        let out = out?;
        restored?;
        Ok(out)
    }
}

/// A member's role changed or it was disabled: what its browser may see changed too.
fn end_member_sessions(tx: &Transaction, member_id: &str, now_ms: i64) -> Result<()> {
    tx.execute(
        "UPDATE web_sessions SET ended_ms = coalesce(ended_ms, ?2) WHERE member_id = ?1",
        params![member_id, now_ms],
    )?;
    Ok(())
}

/// The team's members are part of its settings (phones list their colleagues): a change counts
/// the settings version up, so the phones fetch them again.
fn roster_changed(tx: &Transaction, member_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE teams SET settings_version = settings_version + 1 WHERE id = (SELECT team_id FROM members WHERE id = ?1)",
        [member_id],
    )?;
    Ok(())
}

struct SqliteTx<'a>(&'a Transaction<'a>);

impl Tx for SqliteTx<'_> {
    fn lock_feed(&mut self, team_id: &str) -> Result<i64> {
        // The immediate transaction already holds SQLite's write lock.
        Ok(self.0.prepare_cached("SELECT seq FROM teams WHERE id = ?1")?.query_row([team_id], |r| r.get(0))?)
    }
    fn set_feed(&mut self, team_id: &str, seq: i64) -> Result<()> {
        self.0.prepare_cached("UPDATE teams SET seq = ?2 WHERE id = ?1")?.execute(params![team_id, seq])?;
        Ok(())
    }
    fn get_row(&mut self, team_id: &str, id: &str) -> Result<Option<StoredRow>> {
        Ok(self
            .0
            .prepare_cached("SELECT doc, seq, last_device, quarantined FROM entities WHERE team_id = ?1 AND id = ?2")?
            .query_row(params![team_id, id], stored_row)
            .optional()?)
    }
    fn set_quarantined(&mut self, team_id: &str, id: &str, seq: i64) -> Result<bool> {
        Ok(self
            .0
            .prepare_cached(
                "UPDATE entities SET quarantined = 1, seq = ?3, last_device = '' WHERE team_id = ?1 AND id = ?2",
            )?
            .execute(params![team_id, id, seq])?
            == 1)
    }
    fn put(&mut self, team_id: &str, s: &Stored) -> Result<()> {
        let e = &s.entity;
        self.0
            .prepare_cached(
                "INSERT INTO entities (team_id, id, kind, author_id, sensitive, seq, last_device, doc, was_public, walk_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NOT ?5, ?9)
                 ON CONFLICT (team_id, id) DO UPDATE SET sensitive = excluded.sensitive, seq = excluded.seq,
                     last_device = excluded.last_device, doc = excluded.doc, quarantined = 0,
                     was_public = entities.was_public OR excluded.was_public",
            )?
            .execute(params![
                team_id,
                e.id,
                e.kind.as_str(),
                e.author_id,
                e.sensitive,
                s.seq,
                s.last_device,
                crate::secret::entity_for_storage(serde_json::to_string(e)?, e.sensitive),
                e.walk_id
            ])?;
        Ok(())
    }
    fn add_history(&mut self, team_id: &str, h: &HistoryEntry) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO review_history (team_id, entity_id, at_ms, member_id, field, value, comment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                team_id,
                h.entity_id,
                h.at_ms,
                h.member_id,
                h.field,
                h.value,
                crate::secret::comment_for_storage(h.comment.as_deref())
            ])?;
        Ok(())
    }
    fn settings_version(&mut self, team_id: &str) -> Result<i64> {
        Ok(self
            .0
            .prepare_cached("SELECT settings_version FROM teams WHERE id = ?1")?
            .query_row([team_id], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }
    fn settings(&mut self, team_id: &str) -> Result<Option<SettingsRow>> {
        // The immediate transaction already holds SQLite's write lock.
        Ok(self
            .0
            .query_row(
                &format!("SELECT {SETTINGS_COLS} FROM team_settings WHERE team_id = ?1"),
                [team_id],
                settings_row,
            )
            .optional()?)
    }
    fn put_settings(&mut self, team_id: &str, row: &SettingsRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO team_settings (team_id, version, taxonomy, office_hours, buurten, updated_ms, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (team_id) DO UPDATE SET version = excluded.version, taxonomy = excluded.taxonomy,
                 office_hours = excluded.office_hours, buurten = excluded.buurten, updated_ms = excluded.updated_ms,
                 updated_by = excluded.updated_by",
            params![team_id, row.version, row.taxonomy, row.office_hours, row.buurten, row.updated_ms, row.updated_by],
        )?;
        self.0.execute("UPDATE teams SET settings_version = ?2 WHERE id = ?1", params![team_id, row.version])?;
        Ok(())
    }
    fn shared_signals(&mut self, team_id: &str) -> Result<Vec<StoredRow>> {
        let mut st = self.0.prepare(
            "SELECT doc, seq, last_device, quarantined FROM entities
             WHERE team_id = ?1 AND kind = 'signal' AND sensitive = 0 AND quarantined = 0",
        )?;
        let rows = st.query_map([team_id], stored_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const ACCOUNT_COLS: &str =
    "member_id, login, password_hash, totp_secret, totp_last_step, failures, locked_until_ms, created_ms";

/// A stored TOTP secret opened ([`crate::secret::unseal`]); one that does not open is an
/// error, never a secret anyone could use.
fn opened(stored: String) -> rusqlite::Result<String> {
    crate::secret::unseal(TOTP, &stored)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))
}

/// The purpose TOTP secrets are sealed for.
const TOTP: &str = "totp secret";

fn account_row(r: &Row) -> rusqlite::Result<WebAccount> {
    Ok(WebAccount {
        member_id: r.get(0)?,
        login: r.get(1)?,
        password_hash: r.get(2)?,
        totp_secret: opened(r.get(3)?)?,
        totp_last_step: r.get(4)?,
        failures: r.get(5)?,
        locked_until_ms: r.get(6)?,
        created_ms: r.get(7)?,
    })
}

const SESSION_COLS: &str = "s.token_hash, s.member_id, s.created_ms, s.last_seen_ms, s.expires_ms, s.ended_ms, s.agent";

fn session_row(r: &Row) -> rusqlite::Result<WebSession> {
    Ok(WebSession {
        token_hash: r.get(0)?,
        member_id: r.get(1)?,
        created_ms: r.get(2)?,
        last_seen_ms: r.get(3)?,
        expires_ms: r.get(4)?,
        ended_ms: r.get(5)?,
        agent: r.get(6)?,
    })
}

fn stored_row(r: &Row) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow { doc: opened_doc(r.get(0)?)?, seq: r.get(1)?, last_device: r.get(2)?, quarantined: r.get(3)? })
}

/// A stored document, opened if it was sealed (sensitive signals: `secret::entity_for_storage`).
fn opened_doc(stored: String) -> rusqlite::Result<String> {
    crate::secret::entity_from_storage(stored)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn create_team(&self, t: &Team) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO teams (id, name, created_ms) VALUES (?1, ?2, ?3)",
                params![t.id, t.name, t.created_ms],
            )?;
            Ok(())
        })
    }

    fn team(&self, id: &str) -> Result<Option<Team>> {
        self.read(|c| {
            Ok(c.query_row(&format!("SELECT {TEAM_COLS} FROM teams t WHERE t.id = ?1"), [id], |r| team_row(r, 0))
                .optional()?)
        })
    }

    fn team_settings(&self, team_id: &str) -> Result<Option<SettingsRow>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {SETTINGS_COLS} FROM team_settings WHERE team_id = ?1"),
                [team_id],
                settings_row,
            )
            .optional()?)
        })
    }

    fn add_member(&self, m: &Member) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO members (id, team_id, display_name, role, organisation, created_ms, referral)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![m.id, m.team_id, m.display_name, m.role.as_str(), m.organisation, m.created_ms, m.referral],
            )?;
            roster_changed(tx, &m.id)?;
            Ok(())
        })
    }

    fn member(&self, id: &str) -> Result<Option<Member>> {
        self.read(|c| {
            Ok(c.query_row(&format!("SELECT {MEMBER_COLS} FROM members m WHERE m.id = ?1"), [id], |r| member_row(r, 0))
                .optional()?)
        })
    }

    fn create_enrolment(&self, code_hash: &str, member_id: &str, issued_ms: i64, expires_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO enrolment_codes (code_hash, member_id, issued_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, member_id, issued_ms, expires_ms],
            )?;
            Ok(())
        })
    }

    fn redeem_enrolment(
        &self,
        code_hash: &str,
        attempt_hash: Option<&str>,
        now_ms: i64,
        d: &Device,
    ) -> Result<Redeemed> {
        self.write(|tx| {
            let member_id: Option<String> = tx
                .query_row(
                    "UPDATE enrolment_codes SET used_ms = ?2, attempt_hash = ?3, device_id = ?4
                     WHERE code_hash = ?1 AND used_ms IS NULL AND expires_ms > ?2
                         AND member_id IN (SELECT id FROM members WHERE disabled_ms IS NULL AND role IN ('field_worker', 'lead'))
                     RETURNING member_id",
                    params![code_hash, now_ms, attempt_hash, d.id],
                    |r| r.get(0),
                )
                .optional()?;
            let (member_id, device_id) = match member_id {
                Some(member_id) => {
                    tx.execute(
                        "INSERT INTO devices (id, member_id, name, credential_hash, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![d.id, member_id, d.name, d.credential_hash, d.created_ms],
                    )?;
                    (member_id, d.id.clone())
                }
                None => {
                    // The same attempt again: its answer was lost. The device gets the new credential.
                    let Some(attempt_hash) = attempt_hash else { return Ok(Redeemed::Invalid) };
                    let again: Option<(String, String)> = tx
                        .query_row(
                            "SELECT c.member_id, c.device_id FROM enrolment_codes c JOIN devices d ON d.id = c.device_id
                             WHERE c.code_hash = ?1 AND c.attempt_hash = ?2 AND c.expires_ms > ?3 AND d.revoked_ms IS NULL
                                 AND d.last_seen_ms IS NULL AND c.used_ms > ?3 - ?4",
                            params![code_hash, attempt_hash, now_ms, ENROL_RETRY_MS],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    let Some((member_id, device_id)) = again else { return Ok(Redeemed::Invalid) };
                    tx.execute(
                        "UPDATE devices SET credential_hash = ?2 WHERE id = ?1",
                        params![device_id, d.credential_hash],
                    )?;
                    (member_id, device_id)
                }
            };
            let (m, t) = tx.query_row(
                &format!(
                    "SELECT {MEMBER_COLS}, {TEAM_COLS} FROM members m JOIN teams t ON t.id = m.team_id WHERE m.id = ?1"
                ),
                [&member_id],
                |r| Ok((member_row(r, 0)?, team_row(r, MEMBER_N)?)),
            )?;
            Ok(Redeemed::Enrolled(Box::new(m), t, device_id))
        })
    }

    fn caller(&self, device_id: &str) -> Result<Option<Caller>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {DEVICE_COLS}, {MEMBER_COLS}, {TEAM_COLS}
                     FROM devices d JOIN members m ON m.id = d.member_id JOIN teams t ON t.id = m.team_id WHERE d.id = ?1"
                ),
                [device_id],
                |r| {
                    Ok(Caller {
                        device: device_row(r, 0)?,
                        member: member_row(r, 7)?,
                        team: team_row(r, 7 + MEMBER_N)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn devices(&self, team_id: &str) -> Result<Vec<(Device, Member)>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {DEVICE_COLS}, {MEMBER_COLS} FROM devices d JOIN members m ON m.id = d.member_id
                 WHERE m.team_id = ?1 ORDER BY d.created_ms"
            ))?;
            let rows = st.query_map([team_id], |r| Ok((device_row(r, 0)?, member_row(r, 7)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let found = tx.execute(
                "UPDATE devices SET revoked_ms = coalesce(revoked_ms, ?2) WHERE id = ?1",
                params![device_id, now_ms],
            )? == 1;
            tx.execute(
                "UPDATE enrolment_codes SET used_ms = ?2
                 WHERE used_ms IS NULL AND member_id = (SELECT member_id FROM devices WHERE id = ?1)",
                params![device_id, now_ms],
            )?;
            Ok(found)
        })
    }

    fn members(&self, team_id: &str) -> Result<Vec<Member>> {
        self.read(|c| {
            let mut st =
                c.prepare(&format!("SELECT {MEMBER_COLS} FROM members m WHERE m.team_id = ?1 ORDER BY m.created_ms"))?;
            let rows = st.query_map([team_id], |r| member_row(r, 0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn disable_member(&self, member_id: &str, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let found = tx.execute(
                "UPDATE members SET disabled_ms = coalesce(disabled_ms, ?2) WHERE id = ?1",
                params![member_id, now_ms],
            )? == 1;
            tx.execute(
                "UPDATE devices SET revoked_ms = coalesce(revoked_ms, ?2) WHERE member_id = ?1",
                params![member_id, now_ms],
            )?;
            tx.execute(
                "UPDATE enrolment_codes SET used_ms = ?2 WHERE used_ms IS NULL AND member_id = ?1",
                params![member_id, now_ms],
            )?;
            end_member_sessions(tx, member_id, now_ms)?;
            roster_changed(tx, member_id)?;
            Ok(found)
        })
    }

    fn set_role(&self, member_id: &str, role: Role, referral: Option<&str>, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let found = tx.execute(
                "UPDATE members SET role = ?2, referral = ?3 WHERE id = ?1 AND (role <> ?2 OR referral IS NOT ?3)",
                params![member_id, role.as_str(), referral],
            )? == 1;
            if found {
                tx.execute(
                    "UPDATE devices SET revoked_ms = coalesce(revoked_ms, ?2) WHERE member_id = ?1",
                    params![member_id, now_ms],
                )?;
                // Codes not used yet were issued for the old role: cancelled (a new one is issued).
                tx.execute(
                    "UPDATE enrolment_codes SET used_ms = ?2 WHERE used_ms IS NULL AND member_id = ?1",
                    params![member_id, now_ms],
                )?;
                end_member_sessions(tx, member_id, now_ms)?;
                roster_changed(tx, member_id)?;
            }
            Ok(found)
        })
    }

    fn codes(&self, team_id: &str) -> Result<Vec<CodeInfo>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT substr(e.code_hash, 1, 12), e.member_id, m.display_name, e.issued_ms, e.expires_ms, e.used_ms
                 FROM enrolment_codes e JOIN members m ON m.id = e.member_id
                 WHERE m.team_id = ?1 ORDER BY e.expires_ms DESC",
            )?;
            let rows = st.query_map([team_id], |r| {
                Ok(CodeInfo {
                    id: r.get(0)?,
                    member_id: r.get(1)?,
                    member_name: r.get(2)?,
                    issued_ms: r.get(3)?,
                    expires_ms: r.get(4)?,
                    used_ms: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn cancel_code(&self, team_id: &str, code_id: &str, now_ms: i64) -> Result<bool> {
        if code_id.len() != 12 || !code_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE enrolment_codes SET used_ms = ?3
                 WHERE substr(code_hash, 1, 12) = lower(?2) AND used_ms IS NULL
                     AND member_id IN (SELECT id FROM members WHERE team_id = ?1)",
                params![team_id, code_id, now_ms],
            )? > 0)
        })
    }

    fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1", params![device_id, now_ms])?;
            Ok(())
        })
    }

    fn transaction(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.write(|tx| f(&mut SqliteTx(tx)))
    }

    fn feed(&self, v: &Viewer, cursor: i64, limit: u32) -> Result<FeedPage> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let max: i64 = tx
                .query_row("SELECT seq FROM teams WHERE id = ?1", [&v.team_id], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            // Each row after the cursor is one of: a document the viewer may see (1); the id
            // of one it may no longer see (0: it was once visible to the whole team, or the
            // viewer could see it before an operator quarantined it); or a change this device
            // made itself (2), which is not sent back but moves the cursor. Rows the viewer may
            // never see are not even counted: the cursor only moves over rows of the first
            // three kinds, so it does not tell when others change what this member may not see.
            let mut st = tx.prepare_cached(
                "SELECT what, CASE what WHEN 1 THEN doc WHEN 0 THEN id ELSE '' END, seq FROM (
                     SELECT CASE WHEN last_device = ?4 THEN 2 WHEN could_see AND NOT quarantined THEN 1 ELSE 0 END
                                AS what, could_see, quarantined, doc, id, seq, was_public
                     FROM (SELECT (sensitive = 0 OR author_id = ?5 OR ?6) AS could_see, quarantined, doc, id, seq,
                                  was_public, last_device
                           FROM entities WHERE team_id = ?1 AND seq > ?2 AND seq <= ?3))
                 WHERE what > 0 OR (?7 AND (was_public OR (quarantined AND could_see)))
                 ORDER BY seq LIMIT ?8",
            )?;
            let rows = st.query_map(
                params![
                    v.team_id,
                    cursor,
                    max,
                    v.device_id,
                    v.member_id,
                    v.sees_sensitive,
                    v.withdrawals,
                    limit as i64 + 1
                ],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)),
            )?;
            let (mut docs, mut withdrawn) = (Vec::new(), Vec::new());
            let mut last = cursor;
            let mut more = false;
            let mut bytes = 0;
            for (taken, row) in rows.enumerate() {
                let (what, doc_or_id, seq) = row?;
                let doc_or_id = if what == 1 { opened_doc(doc_or_id)? } else { doc_or_id };
                // Cut by count and by bytes; a page holds at least one entity.
                bytes += doc_or_id.len();
                if taken == limit as usize || (bytes > MAX_PULL_BYTES && last != cursor) {
                    more = true;
                    break;
                }
                match what {
                    1 => docs.push(doc_or_id),
                    0 => withdrawn.push(doc_or_id),
                    _ => {}
                }
                last = seq;
            }
            Ok(FeedPage { docs, withdrawn, cursor: last, more })
        })
    }

    fn entities_after(&self, team_id: &str, seq: i64) -> Result<Vec<ChangedRow>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, kind, seq, quarantined, doc FROM entities WHERE team_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows = st.query_map(params![team_id, seq], |r| {
                let kind: String = r.get(1)?;
                Ok(ChangedRow {
                    id: r.get(0)?,
                    kind: EntityKind::parse(&kind).unwrap_or(EntityKind::Observation),
                    seq: r.get(2)?,
                    quarantined: r.get(3)?,
                    doc: opened_doc(r.get(4)?)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn walk_records(&self, team_id: &str, walk_id: &str) -> Result<Vec<StoredRow>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT doc, seq, last_device, quarantined FROM entities
                 WHERE team_id = ?1 AND walk_id = ?2 AND NOT quarantined ORDER BY seq",
            )?;
            let rows = st.query_map(params![team_id, walk_id], stored_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn history(&self, team_id: &str, entity_id: &str) -> Result<Vec<HistoryEntry>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT entity_id, at_ms, member_id, field, value, comment FROM review_history
                 WHERE team_id = ?1 AND entity_id = ?2 ORDER BY at_ms, rowid",
            )?;
            let rows = st.query_map(params![team_id, entity_id], |r| {
                Ok(HistoryEntry {
                    entity_id: r.get(0)?,
                    at_ms: r.get(1)?,
                    member_id: r.get(2)?,
                    field: r.get(3)?,
                    value: r.get(4)?,
                    comment: crate::secret::comment_from_storage(r.get(5)?).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
                    })?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn web_account(&self, member_id: &str) -> Result<Option<WebAccount>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {ACCOUNT_COLS} FROM web_accounts WHERE member_id = ?1"),
                [member_id],
                account_row,
            )
            .optional()?)
        })
    }

    fn web_account_by_login(&self, login: &str) -> Result<Option<WebAccount>> {
        self.read(|c| {
            Ok(c.query_row(&format!("SELECT {ACCOUNT_COLS} FROM web_accounts WHERE login = ?1"), [login], account_row)
                .optional()?)
        })
    }

    fn update_web_account(&self, a: &WebAccount) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE web_accounts SET totp_last_step = ?2, failures = ?3, locked_until_ms = ?4 WHERE member_id = ?1",
                params![a.member_id, a.totp_last_step, a.failures, a.locked_until_ms],
            )?;
            Ok(())
        })
    }

    fn claim_totp_step(&self, member_id: &str, step: i64) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE web_accounts SET totp_last_step = ?2, failures = 0, locked_until_ms = 0
                 WHERE member_id = ?1 AND totp_last_step < ?2",
                params![member_id, step],
            )? == 1)
        })
    }

    fn create_web_setup(&self, w: &WebSetup) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE web_setups SET used_ms = ?2 WHERE member_id = ?1 AND used_ms IS NULL",
                params![w.member_id, w.issued_ms],
            )?;
            tx.execute(
                "INSERT INTO web_setups (token_hash, member_id, login, totp_secret, issued_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    w.token_hash,
                    w.member_id,
                    w.login,
                    crate::secret::seal(TOTP, &w.totp_secret),
                    w.issued_ms,
                    w.expires_ms
                ],
            )?;
            Ok(())
        })
    }

    fn web_setup(&self, token_hash: &str, now_ms: i64) -> Result<Option<WebSetup>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT w.token_hash, w.member_id, w.login, w.totp_secret, w.issued_ms, w.expires_ms
                 FROM web_setups w JOIN members m ON m.id = w.member_id
                 WHERE w.token_hash = ?1 AND w.used_ms IS NULL AND w.expires_ms > ?2 AND m.disabled_ms IS NULL",
                params![token_hash, now_ms],
                |r| {
                    Ok(WebSetup {
                        token_hash: r.get(0)?,
                        member_id: r.get(1)?,
                        login: r.get(2)?,
                        totp_secret: opened(r.get(3)?)?,
                        issued_ms: r.get(4)?,
                        expires_ms: r.get(5)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn finish_web_setup(&self, token_hash: &str, a: &WebAccount, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let used = tx.execute(
                "UPDATE web_setups SET used_ms = ?3
                 WHERE token_hash = ?1 AND member_id = ?2 AND used_ms IS NULL AND expires_ms > ?3",
                params![token_hash, a.member_id, now_ms],
            )? == 1;
            let taken: bool = tx.query_row(
                "SELECT count(*) > 0 FROM web_accounts WHERE login = ?1 AND member_id <> ?2",
                params![a.login, a.member_id],
                |r| r.get(0),
            )?;
            if !used || taken {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO web_accounts ({ACCOUNT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (member_id) DO UPDATE SET login = excluded.login,
                         password_hash = excluded.password_hash, totp_secret = excluded.totp_secret,
                         totp_last_step = excluded.totp_last_step, failures = 0, locked_until_ms = 0"
                ),
                params![
                    a.member_id,
                    a.login,
                    a.password_hash,
                    crate::secret::seal(TOTP, &a.totp_secret),
                    a.totp_last_step,
                    a.failures,
                    a.locked_until_ms,
                    a.created_ms
                ],
            )?;
            // A new password ends the sessions of the old one.
            end_member_sessions(tx, &a.member_id, now_ms)?;
            Ok(true)
        })
    }

    fn create_session(&self, w: &WebSession) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO web_sessions (token_hash, member_id, created_ms, last_seen_ms, expires_ms, agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![w.token_hash, w.member_id, w.created_ms, w.last_seen_ms, w.expires_ms, w.agent],
            )?;
            // Sessions long over are of no use to anyone.
            tx.execute("DELETE FROM web_sessions WHERE expires_ms < ?1", [w.created_ms - 30 * 86_400_000])?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<(WebSession, Member, Team)>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {SESSION_COLS}, {MEMBER_COLS}, {TEAM_COLS}
                     FROM web_sessions s JOIN members m ON m.id = s.member_id JOIN teams t ON t.id = m.team_id
                     WHERE s.token_hash = ?1 AND s.ended_ms IS NULL AND s.expires_ms > ?2 AND m.disabled_ms IS NULL"
                ),
                params![token_hash, now_ms],
                |r| Ok((session_row(r)?, member_row(r, 7)?, team_row(r, 7 + MEMBER_N)?)),
            )
            .optional()?)
        })
    }

    fn touch_session(&self, token_hash: &str, now_ms: i64, expires_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE web_sessions SET last_seen_ms = ?2, expires_ms = ?3 WHERE token_hash = ?1 AND ended_ms IS NULL",
                params![token_hash, now_ms, expires_ms],
            )?;
            Ok(())
        })
    }

    fn end_session(&self, team_id: &str, session_id: &str, now_ms: i64) -> Result<bool> {
        if session_id.len() != 16 || !session_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE web_sessions SET ended_ms = ?3
                 WHERE substr(token_hash, 1, 16) = lower(?2) AND ended_ms IS NULL
                     AND member_id IN (SELECT id FROM members WHERE team_id = ?1)",
                params![team_id, session_id, now_ms],
            )? > 0)
        })
    }

    fn sessions(&self, team_id: &str, now_ms: i64) -> Result<Vec<(WebSession, Member)>> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {SESSION_COLS}, {MEMBER_COLS} FROM web_sessions s JOIN members m ON m.id = s.member_id
                 WHERE m.team_id = ?1 AND s.ended_ms IS NULL AND s.expires_ms > ?2 ORDER BY s.created_ms DESC"
            ))?;
            let rows = st.query_map(params![team_id, now_ms], |r| Ok((session_row(r)?, member_row(r, 7)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn seal_at_rest(&self) -> Result<usize> {
        self.write(|tx| {
            let mut sealed = 0;
            for table in ["web_accounts", "web_setups"] {
                let key = if table == "web_accounts" { "member_id" } else { "token_hash" };
                let plain: Vec<(String, String)> = {
                    let mut st = tx.prepare(&format!(
                        "SELECT {key}, totp_secret FROM {table} WHERE totp_secret NOT LIKE 'sealed1:%'"
                    ))?;
                    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                for (id, secret) in plain {
                    tx.execute(
                        &format!("UPDATE {table} SET totp_secret = ?2 WHERE {key} = ?1"),
                        params![id, crate::secret::seal(TOTP, &secret)],
                    )?;
                    sealed += 1;
                }
            }
            // Sensitive entities stored before sealing existed.
            let plain: Vec<(String, String, String)> = {
                let mut st = tx.prepare(
                    "SELECT team_id, id, doc FROM entities WHERE sensitive = 1 AND doc NOT LIKE 'sealed1:%'",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (team, id, doc) in plain {
                tx.execute(
                    "UPDATE entities SET doc = ?3 WHERE team_id = ?1 AND id = ?2",
                    params![team, id, crate::secret::entity_for_storage(doc, true)],
                )?;
                sealed += 1;
            }
            Ok(sealed)
        })
    }

    fn server_value(&self, key: &str, first: Option<&str>) -> Result<Option<String>> {
        self.write(|tx| {
            if let Some(v) = first {
                tx.execute("INSERT OR IGNORE INTO server_meta (key, value) VALUES (?1, ?2)", params![key, v])?;
            }
            Ok(tx.query_row("SELECT value FROM server_meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
        })
    }

    fn team_ids(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT id FROM teams ORDER BY created_ms")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn retention(&self, team_id: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row("SELECT policy FROM retention WHERE team_id = ?1", [team_id], |r| r.get(0)).optional()?)
        })
    }

    fn set_retention(&self, team_id: &str, json: &str, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO retention (team_id, policy, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (team_id) DO UPDATE SET policy = excluded.policy, updated_ms = excluded.updated_ms",
                params![team_id, json, now_ms],
            )?;
            tx.execute("UPDATE teams SET settings_version = settings_version + 1 WHERE id = ?1", [team_id])?;
            Ok(())
        })
    }

    fn location_cell(&self, team_id: &str) -> Result<Option<u32>> {
        self.read(|c| {
            Ok(c.query_row("SELECT cell_m FROM location_grid WHERE team_id = ?1", [team_id], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_location_cell(&self, team_id: &str, metres: u32, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO location_grid (team_id, cell_m, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (team_id) DO UPDATE SET cell_m = excluded.cell_m, updated_ms = excluded.updated_ms",
                params![team_id, metres, now_ms],
            )?;
            tx.execute("UPDATE teams SET settings_version = settings_version + 1 WHERE id = ?1", [team_id])?;
            Ok(())
        })
    }

    fn log_deletion(&self, d: &Deletion) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO deletion_log (team_id, at_ms, entity_id, kind, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![d.team_id, d.at_ms, d.entity_id, d.kind, d.reason],
            )?;
            Ok(())
        })
    }

    fn deletions(&self, team_id: &str, since_ms: i64) -> Result<Vec<Deletion>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT team_id, at_ms, entity_id, kind, reason FROM deletion_log
                 WHERE team_id = ?1 AND at_ms >= ?2 ORDER BY at_ms, rowid",
            )?;
            let rows = st.query_map(params![team_id, since_ms], |r| {
                Ok(Deletion {
                    team_id: r.get(0)?,
                    at_ms: r.get(1)?,
                    entity_id: r.get(2)?,
                    kind: r.get(3)?,
                    reason: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn forget_history(&self, team_id: &str, entity_id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM review_history WHERE team_id = ?1 AND entity_id = ?2",
                params![team_id, entity_id],
            )?;
            Ok(())
        })
    }

    fn compact(&self) -> Result<()> {
        // On the writer connection, outside a transaction (VACUUM cannot run in one), with the
        // readers closed so none holds an old snapshot: the WAL into the file, the file
        // rebuilt without free pages, the WAL emptied.
        let c = lock(&self.writer);
        {
            let mut pool = lock(&self.readers);
            pool.open -= pool.idle.len();
            pool.idle.clear();
        }
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        let e = e.clone().bounded();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO audit_log (team_id, at_ms, actor, action, object, result, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.team_id, e.at_ms, e.actor, e.action, e.object, e.result, e.origin],
            )?;
            Ok(())
        })
    }

    fn purge_audit(&self, before_ms: i64) -> Result<u64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO audit_cutoff (id, cutoff_ms) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET cutoff_ms = max(cutoff_ms, excluded.cutoff_ms)",
                [before_ms],
            )?;
            Ok(tx.execute("DELETE FROM audit_log WHERE at_ms < ?1", [before_ms])? as u64)
        })
    }

    fn audit(&self, team_id: Option<&str>, since_ms: i64, limit: usize) -> Result<Vec<AuditEvent>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT team_id, at_ms, actor, action, object, result, origin FROM audit_log
                 WHERE (?1 IS NULL OR team_id = ?1) AND at_ms >= ?2 ORDER BY n DESC LIMIT ?3",
            )?;
            let rows = st.query_map(params![team_id, since_ms, limit as i64], |r| {
                Ok(AuditEvent {
                    team_id: r.get(0)?,
                    at_ms: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    object: r.get(4)?,
                    result: r.get(5)?,
                    origin: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}

const PHOTO_COLS: &str =
    "team_id, author_id, id, record_id, position, sha256, size, width, height, received, stored, offered_ms";

fn photo_row(r: &rusqlite::Row) -> rusqlite::Result<StoredPhoto> {
    Ok(StoredPhoto {
        team_id: r.get(0)?,
        author_id: r.get(1)?,
        photo: PhotoRef {
            id: r.get(2)?,
            record_id: r.get(3)?,
            position: r.get(4)?,
            sha256: r.get(5)?,
            size: r.get::<_, i64>(6)? as u64,
            width: r.get(7)?,
            height: r.get(8)?,
        },
        received: r.get::<_, i64>(9)? as u64,
        stored: r.get(10)?,
        offered_ms: r.get(11)?,
    })
}

fn get_photo(c: &Connection, team_id: &str, id: &str) -> Result<Option<StoredPhoto>> {
    Ok(c.prepare_cached(&format!("SELECT {PHOTO_COLS} FROM photos WHERE team_id = ?1 AND id = ?2"))?
        .query_row([team_id, id], photo_row)
        .optional()?)
}

/// Creates `path` for writing, readable by the server's user only, in a directory closed to
/// others.
fn private_photo_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent)?;
    }
    Ok(std::fs::OpenOptions::new().create(true).write(true).truncate(false).mode(0o600).open(path)?)
}

fn sync_dir(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

impl SqliteStorage {
    fn photo_paths(&self, p: &StoredPhoto) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        super::photos::photo_paths(dir, &p.team_id, &p.photo.id, &p.photo.sha256)
    }
}

impl PhotoStorage for SqliteStorage {
    fn offer_photo(
        &self,
        author_id: &str,
        team_id: &str,
        photo: &PhotoRef,
        quota: PhotoQuota,
        now_ms: i64,
    ) -> Result<PhotoOffered> {
        self.write(|tx| {
            if let Some(known) = get_photo(tx, team_id, &photo.id)? {
                let same = known.photo == *photo && known.author_id == author_id;
                return Ok(if same { PhotoOffered::Taken(known) } else { PhotoOffered::Conflict });
            }
            let place_taken: bool = tx.query_row(
                "SELECT count(*) > 0 FROM photos WHERE team_id = ?1 AND record_id = ?2 AND position = ?3",
                params![team_id, photo.record_id, photo.position],
                |r| r.get(0),
            )?;
            if place_taken {
                return Ok(PhotoOffered::Conflict);
            }
            let (team_total, member_total): (i64, i64) = tx.query_row(
                "SELECT coalesce(sum(size), 0), coalesce(sum(CASE WHEN author_id = ?2 THEN size END), 0)
                 FROM photos WHERE team_id = ?1",
                params![team_id, author_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if team_total as u64 + photo.size > quota.team_bytes || member_total as u64 + photo.size > quota.member_bytes
            {
                return Ok(PhotoOffered::OverQuota);
            }
            tx.execute(
                "INSERT INTO photos (team_id, id, record_id, author_id, position, sha256, size, width, height, offered_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    team_id,
                    photo.id,
                    photo.record_id,
                    author_id,
                    photo.position,
                    photo.sha256,
                    photo.size as i64,
                    photo.width,
                    photo.height,
                    now_ms
                ],
            )?;
            Ok(PhotoOffered::Taken(get_photo(tx, team_id, &photo.id)?.expect("inserted in this transaction")))
        })
    }

    fn photo(&self, team_id: &str, id: &str) -> Result<Option<StoredPhoto>> {
        self.read(|c| get_photo(c, team_id, id))
    }

    fn append_photo(&self, team_id: &str, id: &str, offset: u64, bytes: &[u8]) -> Result<Option<StoredPhoto>> {
        // One fsync a chunk (the bytes'), not two: the count may lag after a power loss.
        self.write_replayable(|tx| {
            let Some(p) = get_photo(tx, team_id, id)? else { return Ok(None) };
            if p.stored || offset != p.received || bytes.is_empty() || p.received + bytes.len() as u64 > p.photo.size {
                return Ok(Some(p));
            }
            // The bytes first, durable, then the count that says they are there: after a crash
            // before the count is durable, the file is cut back to the count and the chunk (or
            // a few: the count is not fsynced on its own) comes again.
            let (_, partial) = self.photo_paths(&p);
            let mut f = private_photo_file(&partial)?;
            f.set_len(p.received)?;
            use std::io::{Seek, Write};
            f.seek(std::io::SeekFrom::Start(p.received))?;
            f.write_all(bytes)?;
            f.sync_data()?;
            if p.received == 0 {
                sync_dir(&partial)?;
            }
            let received = p.received + bytes.len() as u64;
            tx.execute(
                "UPDATE photos SET received = ?3 WHERE team_id = ?1 AND id = ?2",
                params![team_id, id, received as i64],
            )?;
            Ok(Some(StoredPhoto { received, ..p }))
        })
    }

    fn photo_bytes(&self, team_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let Some(p) = self.photo(team_id, id)? else { return Ok(None) };
        let (blob, partial) = self.photo_paths(&p);
        let path = if p.stored { blob } else { partial };
        match std::fs::read(&path) {
            Ok(mut bytes) => {
                bytes.truncate(p.received as usize);
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && p.received == 0 => Ok(Some(Vec::new())),
            Err(e) => Err(e.into()),
        }
    }

    fn finish_photo(&self, team_id: &str, id: &str, accepted: bool) -> Result<()> {
        self.write(|tx| {
            let Some(p) = get_photo(tx, team_id, id)? else { return Ok(()) };
            if p.stored {
                return Ok(());
            }
            let (blob, partial) = self.photo_paths(&p);
            if accepted {
                // Content-addressed: an identical photo of the team already there is the same
                // bytes (their hash says so), and this upload's copy goes.
                if blob.exists() {
                    std::fs::remove_file(&partial)?;
                } else {
                    private_photo_file(&blob)?;
                    std::fs::rename(&partial, &blob)?;
                    sync_dir(&blob)?;
                }
                tx.execute("UPDATE photos SET stored = 1 WHERE team_id = ?1 AND id = ?2", [team_id, id])?;
            } else {
                match std::fs::remove_file(&partial) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
                tx.execute("UPDATE photos SET received = 0 WHERE team_id = ?1 AND id = ?2", [team_id, id])?;
            }
            Ok(())
        })
    }

    fn photo_thumbnail(&self, team_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT thumbnail FROM photos WHERE team_id = ?1 AND id = ?2 AND stored = 1")?
                .query_row([team_id, id], |r| r.get::<_, Option<Vec<u8>>>(0))
                .optional()?
                .flatten())
        })
    }

    fn set_photo_thumbnail(&self, team_id: &str, id: &str, thumbnail: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE photos SET thumbnail = ?3 WHERE team_id = ?1 AND id = ?2 AND stored = 1",
                params![team_id, id, thumbnail],
            )?;
            Ok(())
        })
    }

    fn photos_of(&self, team_id: &str, record_id: &str) -> Result<Vec<StoredPhoto>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {PHOTO_COLS} FROM photos WHERE team_id = ?1 AND record_id = ?2 ORDER BY position"
            ))?;
            let rows = st.query_map([team_id, record_id], photo_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn delete_photos(&self, team_id: &str, record_id: &str) -> Result<u64> {
        self.write(|tx| {
            let photos: Vec<StoredPhoto> = {
                let mut st = tx.prepare_cached(&format!(
                    "SELECT {PHOTO_COLS} FROM photos WHERE team_id = ?1 AND record_id = ?2"
                ))?;
                let rows = st.query_map([team_id, record_id], photo_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
                rows
            };
            tx.execute("DELETE FROM photos WHERE team_id = ?1 AND record_id = ?2", [team_id, record_id])?;
            for p in &photos {
                let (blob, partial) = self.photo_paths(p);
                let shared: bool = tx.query_row(
                    "SELECT count(*) > 0 FROM photos WHERE team_id = ?1 AND sha256 = ?2 AND stored = 1",
                    [team_id, &p.photo.sha256],
                    |r| r.get(0),
                )?;
                let mut gone = vec![partial];
                if p.stored && !shared {
                    gone.push(blob);
                }
                for path in gone {
                    match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => {}
                    }
                }
            }
            Ok(photos.len() as u64)
        })
    }

    fn photo_records(&self, team_id: &str) -> Result<Vec<(String, Option<i64>)>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT record_id, min(CASE WHEN stored = 0 THEN offered_ms END) FROM photos
                 WHERE team_id = ?1 GROUP BY record_id",
            )?;
            let rows =
                st.query_map([team_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_starting_at_once_on_a_fresh_directory_take_turns() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let opened: Vec<bool> = std::thread::scope(|scope| {
                let all: Vec<_> = (0..6).map(|_| scope.spawn(|| SqliteStorage::open(dir.path()).is_ok())).collect();
                all.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(opened, vec![true; 6]);
        }
    }

    #[test]
    fn a_data_directory_from_protocol_1_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = Connection::open(dir.path().join("wijkverkenner-server.db")).unwrap();
            let before = SCHEMA
                .replace("    was_public INTEGER NOT NULL DEFAULT 1,\n", "")
                .replace(", attempt_hash TEXT, device_id TEXT", "");
            assert!(!before.contains("was_public") && !before.contains("attempt_hash"));
            old.execute_batch(&before).unwrap();
            old.execute(
                "INSERT INTO entities (team_id, id, kind, author_id, sensitive, seq, last_device, doc)
                 VALUES ('t', 'r', 'signal', 'a', 1, 1, 'd', '{}')",
                [],
            )
            .unwrap();
        }
        for _ in 0..2 {
            let s = SqliteStorage::open(dir.path()).unwrap();
            let was_public: bool =
                lock(&s.writer).query_row("SELECT was_public FROM entities WHERE id = 'r'", [], |r| r.get(0)).unwrap();
            assert!(was_public, "rows from before count as once visible: their withdrawal is sent");
            let attempts: i64 = lock(&s.writer)
                .query_row("SELECT count(attempt_hash) + count(device_id) FROM enrolment_codes", [], |r| r.get(0))
                .unwrap();
            assert_eq!(attempts, 0);
        }
    }
}
