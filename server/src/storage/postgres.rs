//! PostgreSQL, for a region or many teams on one server. Same tables as SQLite; a bounded pool
//! of connections; the team's feed row is locked (`FOR UPDATE`) for the length of a push, so
//! sequence numbers are committed in order and a reader never skips one.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use postgres::config::{Host, SslMode};
use postgres::{Client, Row, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::photos::{PhotoOffered, PhotoQuota, PhotoStorage, StoredPhoto};
use super::{
    AuditEvent, Caller, ChangedRow, CodeInfo, Deletion, Device, FeedPage, HistoryEntry, Member, Redeemed, Role,
    SettingsRow, Storage, Stored, StoredRow, Team, Tx, Viewer, WebAccount, WebSession, WebSetup, ENROL_RETRY_MS,
};
use crate::error::Result;
use wijkverkenner_core::sync::wire::EntityKind;
use wijkverkenner_core::sync::wire::PhotoRef;
use wijkverkenner_core::sync::wire::MAX_PULL_BYTES;

/// Sent as one simple query: one implicit transaction, which the advisory lock makes wait for
/// another instance starting at the same moment (concurrent `CREATE … IF NOT EXISTS` can fail).
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7471001);
CREATE TABLE IF NOT EXISTS teams (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, seq BIGINT NOT NULL DEFAULT 0, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    id TEXT PRIMARY KEY, team_id TEXT NOT NULL REFERENCES teams (id), display_name TEXT NOT NULL,
    role TEXT NOT NULL, organisation TEXT NOT NULL, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY, member_id TEXT NOT NULL REFERENCES members (id), name TEXT NOT NULL,
    credential_hash TEXT NOT NULL, created_ms BIGINT NOT NULL, last_seen_ms BIGINT, revoked_ms BIGINT);
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY, member_id TEXT NOT NULL REFERENCES members (id),
    expires_ms BIGINT NOT NULL, used_ms BIGINT);
CREATE TABLE IF NOT EXISTS entities (
    team_id TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, author_id TEXT NOT NULL,
    sensitive BOOLEAN NOT NULL, seq BIGINT NOT NULL, last_device TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (team_id, id));
-- Added with protocol 2 (withdrawals; repeatable enrolment). Entity rows from before are
-- assumed to have been visible to the team.
ALTER TABLE entities ADD COLUMN IF NOT EXISTS was_public BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE enrolment_codes ADD COLUMN IF NOT EXISTS attempt_hash TEXT;
ALTER TABLE enrolment_codes ADD COLUMN IF NOT EXISTS device_id TEXT;
-- The operator's tools: quarantine, disabled members, when a code was issued.
ALTER TABLE entities ADD COLUMN IF NOT EXISTS quarantined BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE members ADD COLUMN IF NOT EXISTS disabled_ms BIGINT;
ALTER TABLE enrolment_codes ADD COLUMN IF NOT EXISTS issued_ms BIGINT;
CREATE INDEX IF NOT EXISTS entities_feed ON entities (team_id, seq);
-- The review pages: a walk's records, the review history, web accounts and sessions.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'entities' AND column_name = 'walk_id') THEN
        ALTER TABLE entities ADD COLUMN walk_id TEXT;
        UPDATE entities SET walk_id = doc::jsonb ->> 'walk_id' WHERE kind <> 'walk';
    END IF;
END $$;
DROP INDEX IF EXISTS entities_walk;
CREATE INDEX IF NOT EXISTS entities_walk_seq ON entities (team_id, walk_id, seq);
CREATE TABLE IF NOT EXISTS review_history (
    n BIGSERIAL PRIMARY KEY, team_id TEXT NOT NULL, entity_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
    member_id TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, comment TEXT);
CREATE INDEX IF NOT EXISTS review_history_entity ON review_history (team_id, entity_id, at_ms);
CREATE TABLE IF NOT EXISTS web_accounts (
    member_id TEXT PRIMARY KEY REFERENCES members (id), login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL, totp_secret TEXT NOT NULL, totp_last_step BIGINT NOT NULL,
    failures INTEGER NOT NULL, locked_until_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS web_setups (
    token_hash TEXT PRIMARY KEY, member_id TEXT NOT NULL REFERENCES members (id), login TEXT NOT NULL,
    totp_secret TEXT NOT NULL, issued_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, used_ms BIGINT);
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY, member_id TEXT NOT NULL REFERENCES members (id),
    created_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, ended_ms BIGINT,
    agent TEXT NOT NULL);
-- Team settings: categories, office hours, boundaries.
ALTER TABLE teams ADD COLUMN IF NOT EXISTS settings_version BIGINT NOT NULL DEFAULT 0;
-- Partner-organisation viewers: the referral target whose signals they see.
ALTER TABLE members ADD COLUMN IF NOT EXISTS referral TEXT;
CREATE TABLE IF NOT EXISTS team_settings (
    team_id TEXT PRIMARY KEY REFERENCES teams (id), version BIGINT NOT NULL, taxonomy TEXT,
    office_hours TEXT, buurten TEXT, updated_ms BIGINT NOT NULL, updated_by TEXT NOT NULL);
-- The audit trail (BIO): append-only, never a record's content.
CREATE TABLE IF NOT EXISTS server_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention (
    team_id TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS location_grid (
    team_id TEXT PRIMARY KEY, cell_m BIGINT NOT NULL, updated_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS deletion_log (
    n BIGSERIAL PRIMARY KEY, team_id TEXT NOT NULL, at_ms BIGINT NOT NULL, entity_id TEXT NOT NULL,
    kind TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deletion_log_team ON deletion_log (team_id, at_ms);
CREATE TABLE IF NOT EXISTS audit_log (
    n BIGSERIAL PRIMARY KEY, team_id TEXT NOT NULL, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, object TEXT NOT NULL, result TEXT NOT NULL, origin TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_team ON audit_log (team_id, at_ms);
-- Photos (issue 13): their description and their bytes, in chunks as they arrived.
CREATE TABLE IF NOT EXISTS photos (
    team_id TEXT NOT NULL, id TEXT NOT NULL, record_id TEXT NOT NULL, author_id TEXT NOT NULL,
    position INTEGER NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, received BIGINT NOT NULL DEFAULT 0, stored BOOLEAN NOT NULL DEFAULT FALSE,
    offered_ms BIGINT NOT NULL,
    PRIMARY KEY (team_id, id), UNIQUE (team_id, record_id, position));
CREATE INDEX IF NOT EXISTS photos_author ON photos (team_id, author_id);
ALTER TABLE photos ADD COLUMN IF NOT EXISTS thumbnail BYTEA;
CREATE TABLE IF NOT EXISTS photo_chunks (
    team_id TEXT NOT NULL, photo_id TEXT NOT NULL, at BIGINT NOT NULL, data BYTEA NOT NULL,
    PRIMARY KEY (team_id, photo_id, at));
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$ LANGUAGE plpgsql;
-- Entries go only by the trail's own term: older than the cutoff, which only moves forward.
CREATE TABLE IF NOT EXISTS audit_cutoff (id INTEGER PRIMARY KEY CHECK (id = 1), cutoff_ms BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION audit_log_kept() RETURNS trigger AS $$
    BEGIN
        IF OLD.at_ms >= coalesce((SELECT cutoff_ms FROM audit_cutoff WHERE id = 1), 0) THEN
            RAISE EXCEPTION 'the audit trail is append-only';
        END IF;
        RETURN OLD;
    END $$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION audit_cutoff_forward() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.cutoff_ms < OLD.cutoff_ms) THEN
            RAISE EXCEPTION 'the audit trail''s cutoff only moves forward';
        END IF;
        -- Nothing of the last 180 days can go, whoever writes the cutoff.
        IF NEW.cutoff_ms > extract(epoch FROM now()) * 1000 - 180 * 86400000::bigint THEN
            RAISE EXCEPTION 'the audit trail keeps its last 180 days';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_kept') THEN
        DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_kept BEFORE DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_kept();
        CREATE TRIGGER audit_cutoff_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_cutoff
            FOR EACH ROW EXECUTE FUNCTION audit_cutoff_forward();
    END IF;
END $$;
";

const POOL: usize = 16;

pub struct PostgresStorage {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    idle: Mutex<(Vec<Client>, usize)>,
    freed: Condvar,
}

/// The columns of a team, as `team_row` reads them (from `at`).
const TEAM_COLS: &str = "t.id, t.name, t.created_ms, t.settings_version";

fn team_row(r: &Row, at: usize) -> Team {
    Team { id: r.get(at), name: r.get(at + 1), created_ms: r.get(at + 2), settings_version: r.get(at + 3) }
}

const SETTINGS_COLS: &str = "version, taxonomy, office_hours, buurten, updated_ms, updated_by";

fn settings_row(r: &Row) -> SettingsRow {
    SettingsRow {
        version: r.get(0),
        taxonomy: r.get(1),
        office_hours: r.get(2),
        buurten: r.get(3),
        updated_ms: r.get(4),
        updated_by: r.get(5),
    }
}

const MEMBER_COLS: &str =
    "m.id, m.team_id, m.display_name, m.role, m.organisation, m.created_ms, m.disabled_ms, m.referral";
/// How many columns MEMBER_COLS are (what follows them in a row starts there).
const MEMBER_N: usize = 8;
const DEVICE_COLS: &str = "d.id, d.member_id, d.name, d.credential_hash, d.created_ms, d.last_seen_ms, d.revoked_ms";

fn member_row(r: &Row, at: usize) -> Member {
    let role: String = r.get(at + 3);
    Member {
        id: r.get(at),
        team_id: r.get(at + 1),
        display_name: r.get(at + 2),
        role: Role::parse(&role).unwrap_or(Role::FieldWorker),
        organisation: r.get(at + 4),
        created_ms: r.get(at + 5),
        disabled_ms: r.get(at + 6),
        referral: r.get(at + 7),
    }
}

fn device_row(r: &Row, at: usize) -> Device {
    Device {
        id: r.get(at),
        member_id: r.get(at + 1),
        name: r.get(at + 2),
        credential_hash: r.get(at + 3),
        created_ms: r.get(at + 4),
        last_seen_ms: r.get(at + 5),
        revoked_ms: r.get(at + 6),
    }
}

/// A pooled connection, returned to the pool when dropped (unless it broke).
struct Conn<'a> {
    pool: &'a PostgresStorage,
    client: Option<Client>,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        match self.client.take() {
            Some(c) if !c.is_closed() => idle.0.push(c),
            _ => idle.1 -= 1,
        }
        self.pool.freed.notify_one();
    }
}

/// Where the roots to verify the database's certificate come from without `--database-ca`.
const SYSTEM_ROOTS: &[&str] = &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// How the server reaches PostgreSQL. A database on another machine: always over TLS
/// (`sslmode=disable` is refused: data about suspected crime does not cross a network in the
/// clear), its certificate verified by rustls against `ca` (PEM; else the system's roots) for
/// the host name in the URL. On this machine (a socket directory, `localhost`, loopback): the
/// same when a CA is given or the URL says `sslmode=require`, else without TLS.
pub fn connection(url: &str, ca: Option<&Path>) -> Result<(postgres::Config, MakeRustlsConnect)> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut config: postgres::Config =
        url.parse().map_err(|e| crate::Error::Other(format!("the database URL: {e}")))?;
    let local = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => {
            name == "localhost"
                || name.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }) && config.get_hostaddrs().iter().all(|ip| ip.is_loopback());
    let mode = config.get_ssl_mode();
    if !local && mode == SslMode::Disable {
        return Err(crate::Error::Other(
            "the database is on another machine: sslmode=disable is refused, PostgreSQL is reached over TLS".into(),
        ));
    }
    // TLS across a network always; on this machine when asked for (a CA given, or
    // `sslmode=require`); else none (a socket or loopback crosses no network).
    if !local || ca.is_some() || mode == SslMode::Require {
        config.ssl_mode(SslMode::Require);
    } else {
        config.ssl_mode(SslMode::Disable);
        return Ok((config, MakeRustlsConnect::new(client_config(rustls::RootCertStore::empty())?)));
    }
    let mut roots = rustls::RootCertStore::empty();
    let files: Vec<&Path> = match ca {
        Some(ca) => vec![ca],
        None => SYSTEM_ROOTS.iter().map(Path::new).filter(|p| p.exists()).take(1).collect(),
    };
    for file in files {
        let shown = |e: &dyn std::fmt::Display| crate::Error::Other(format!("{}: {e}", file.display()));
        for cert in CertificateDer::pem_file_iter(file).map_err(|e| shown(&e))? {
            roots.add(cert.map_err(|e| shown(&e))?).map_err(|e| shown(&e))?;
        }
    }
    if roots.is_empty() {
        return Err(crate::Error::Other("no certificate to verify the database with: give --database-ca".into()));
    }
    Ok((config, MakeRustlsConnect::new(client_config(roots)?)))
}

fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Other(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl PostgresStorage {
    /// Connects to `url` (e.g. `postgres://wv@db.example.nl/wv`) and creates the tables if
    /// needed. TLS as [`connection`] says, verified against the system's roots.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_verified(url, None)
    }

    /// As [`PostgresStorage::open`], the database's certificate verified against the
    /// certificates in the PEM file `ca` (a private CA, as most database servers have).
    pub fn open_verified(url: &str, ca: Option<&Path>) -> Result<Self> {
        let (config, tls) = connection(url, ca)?;
        let s = Self { config, tls, idle: Mutex::new((Vec::new(), 0)), freed: Condvar::new() };
        s.conn()?.client().batch_execute(SCHEMA)?;
        Ok(s)
    }

    fn conn(&self) -> Result<Conn<'_>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(c) = idle.0.pop() {
                return Ok(Conn { pool: self, client: Some(c) });
            }
            if idle.1 < POOL {
                idle.1 += 1;
                drop(idle);
                return match self.config.connect(self.tls.clone()) {
                    Ok(c) => Ok(Conn { pool: self, client: Some(c) }),
                    Err(e) => {
                        self.idle.lock().unwrap_or_else(|p| p.into_inner()).1 -= 1;
                        // What went wrong, to its cause (a refused certificate says why); a
                        // connection error carries no data.
                        let mut why = e.to_string();
                        let mut source = std::error::Error::source(&e);
                        while let Some(cause) = source {
                            why.push_str(&format!(": {cause}"));
                            source = cause.source();
                        }
                        Err(crate::Error::Other(format!("connecting to the database: {why}")))
                    }
                };
            }
            idle = self.freed.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let mut tx = conn.client().transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// A member's role changed or it was disabled: what its browser may see changed too.
/// The team's members are part of its settings (phones list their colleagues): a change counts
/// the settings version up, so the phones fetch them again.
fn roster_changed(tx: &mut Transaction, member_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE teams SET settings_version = settings_version + 1 WHERE id = (SELECT team_id FROM members WHERE id = $1)",
        &[&member_id],
    )?;
    Ok(())
}

fn end_member_sessions(tx: &mut Transaction, member_id: &str, now_ms: i64) -> Result<()> {
    tx.execute(
        "UPDATE web_sessions SET ended_ms = coalesce(ended_ms, $2) WHERE member_id = $1",
        &[&member_id, &now_ms],
    )?;
    Ok(())
}

const ACCOUNT_COLS: &str =
    "member_id, login, password_hash, totp_secret, totp_last_step, failures, locked_until_ms, created_ms";

/// The purpose TOTP secrets are sealed for ([`crate::secret::seal`]).
const TOTP: &str = "totp secret";

fn account_row(r: &Row) -> Result<WebAccount> {
    Ok(WebAccount {
        member_id: r.get(0),
        login: r.get(1),
        password_hash: r.get(2),
        totp_secret: crate::secret::unseal(TOTP, r.get(3))?,
        totp_last_step: r.get(4),
        failures: r.get::<_, i32>(5).max(0) as u32,
        locked_until_ms: r.get(6),
        created_ms: r.get(7),
    })
}

const SESSION_COLS: &str = "s.token_hash, s.member_id, s.created_ms, s.last_seen_ms, s.expires_ms, s.ended_ms, s.agent";

fn session_row(r: &Row) -> WebSession {
    WebSession {
        token_hash: r.get(0),
        member_id: r.get(1),
        created_ms: r.get(2),
        last_seen_ms: r.get(3),
        expires_ms: r.get(4),
        ended_ms: r.get(5),
        agent: r.get(6),
    }
}

fn stored_row(r: &Row) -> Result<StoredRow> {
    Ok(StoredRow {
        doc: crate::secret::entity_from_storage(r.get(0))?,
        seq: r.get(1),
        last_device: r.get(2),
        quarantined: r.get(3),
    })
}

impl Conn<'_> {
    fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("a pooled connection is present until drop")
    }
}

struct PgTx<'a, 'b>(&'a mut Transaction<'b>);

impl Tx for PgTx<'_, '_> {
    fn lock_feed(&mut self, team_id: &str) -> Result<i64> {
        let row = self.0.query_one("SELECT seq FROM teams WHERE id = $1 FOR UPDATE", &[&team_id])?;
        Ok(row.get(0))
    }
    fn set_feed(&mut self, team_id: &str, seq: i64) -> Result<()> {
        self.0.execute("UPDATE teams SET seq = $2 WHERE id = $1", &[&team_id, &seq])?;
        Ok(())
    }
    fn get_row(&mut self, team_id: &str, id: &str) -> Result<Option<StoredRow>> {
        let row = self.0.query_opt(
            "SELECT doc, seq, last_device, quarantined FROM entities WHERE team_id = $1 AND id = $2",
            &[&team_id, &id],
        )?;
        row.as_ref().map(stored_row).transpose()
    }
    fn set_quarantined(&mut self, team_id: &str, id: &str, seq: i64) -> Result<bool> {
        Ok(self.0.execute(
            "UPDATE entities SET quarantined = TRUE, seq = $3, last_device = '' WHERE team_id = $1 AND id = $2",
            &[&team_id, &id, &seq],
        )? == 1)
    }
    fn put(&mut self, team_id: &str, s: &Stored) -> Result<()> {
        let e = &s.entity;
        let doc = crate::secret::entity_for_storage(serde_json::to_string(e)?, e.sensitive);
        self.0.execute(
            "INSERT INTO entities (team_id, id, kind, author_id, sensitive, seq, last_device, doc, was_public, walk_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NOT $5, $9)
             ON CONFLICT (team_id, id) DO UPDATE SET sensitive = excluded.sensitive, seq = excluded.seq,
                 last_device = excluded.last_device, doc = excluded.doc, quarantined = FALSE,
                 was_public = entities.was_public OR excluded.was_public",
            &[&team_id, &e.id, &e.kind.as_str(), &e.author_id, &e.sensitive, &s.seq, &s.last_device, &doc, &e.walk_id],
        )?;
        Ok(())
    }
    fn add_history(&mut self, team_id: &str, h: &HistoryEntry) -> Result<()> {
        self.0.execute(
            "INSERT INTO review_history (team_id, entity_id, at_ms, member_id, field, value, comment)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &team_id,
                &h.entity_id,
                &h.at_ms,
                &h.member_id,
                &h.field,
                &h.value,
                &crate::secret::comment_for_storage(h.comment.as_deref()),
            ],
        )?;
        Ok(())
    }
    fn settings_version(&mut self, team_id: &str) -> Result<i64> {
        let row = self.0.query_opt("SELECT settings_version FROM teams WHERE id = $1", &[&team_id])?;
        Ok(row.map(|r| r.get(0)).unwrap_or(0))
    }
    fn settings(&mut self, team_id: &str) -> Result<Option<SettingsRow>> {
        // The team's row is the lock: a team without a settings row yet has nothing to lock.
        self.0.execute("SELECT 1 FROM teams WHERE id = $1 FOR UPDATE", &[&team_id])?;
        let row =
            self.0.query_opt(&format!("SELECT {SETTINGS_COLS} FROM team_settings WHERE team_id = $1"), &[&team_id])?;
        Ok(row.map(|r| settings_row(&r)))
    }
    fn put_settings(&mut self, team_id: &str, row: &SettingsRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO team_settings (team_id, version, taxonomy, office_hours, buurten, updated_ms, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (team_id) DO UPDATE SET version = excluded.version, taxonomy = excluded.taxonomy,
                 office_hours = excluded.office_hours, buurten = excluded.buurten, updated_ms = excluded.updated_ms,
                 updated_by = excluded.updated_by",
            &[&team_id, &row.version, &row.taxonomy, &row.office_hours, &row.buurten, &row.updated_ms, &row.updated_by],
        )?;
        self.0.execute("UPDATE teams SET settings_version = $2 WHERE id = $1", &[&team_id, &row.version])?;
        Ok(())
    }
    fn shared_signals(&mut self, team_id: &str) -> Result<Vec<StoredRow>> {
        let rows = self.0.query(
            "SELECT doc, seq, last_device, quarantined FROM entities
             WHERE team_id = $1 AND kind = 'signal' AND NOT sensitive AND NOT quarantined",
            &[&team_id],
        )?;
        rows.iter().map(stored_row).collect()
    }
}

impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_team(&self, t: &Team) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO teams (id, name, created_ms) VALUES ($1, $2, $3)",
                &[&t.id, &t.name, &t.created_ms],
            )?;
            Ok(())
        })
    }

    fn team(&self, id: &str) -> Result<Option<Team>> {
        let row =
            self.conn()?.client().query_opt(&format!("SELECT {TEAM_COLS} FROM teams t WHERE t.id = $1"), &[&id])?;
        Ok(row.map(|r| team_row(&r, 0)))
    }

    fn team_settings(&self, team_id: &str) -> Result<Option<SettingsRow>> {
        let row = self
            .conn()?
            .client()
            .query_opt(&format!("SELECT {SETTINGS_COLS} FROM team_settings WHERE team_id = $1"), &[&team_id])?;
        Ok(row.map(|r| settings_row(&r)))
    }

    fn add_member(&self, m: &Member) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO members (id, team_id, display_name, role, organisation, created_ms, referral)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&m.id, &m.team_id, &m.display_name, &m.role.as_str(), &m.organisation, &m.created_ms, &m.referral],
            )?;
            roster_changed(tx, &m.id)?;
            Ok(())
        })
    }

    fn member(&self, id: &str) -> Result<Option<Member>> {
        let row =
            self.conn()?.client().query_opt(&format!("SELECT {MEMBER_COLS} FROM members m WHERE m.id = $1"), &[&id])?;
        Ok(row.map(|r| member_row(&r, 0)))
    }

    fn create_enrolment(&self, code_hash: &str, member_id: &str, issued_ms: i64, expires_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO enrolment_codes (code_hash, member_id, issued_ms, expires_ms) VALUES ($1, $2, $3, $4)",
                &[&code_hash, &member_id, &issued_ms, &expires_ms],
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
            let row = tx.query_opt(
                "UPDATE enrolment_codes SET used_ms = $2, attempt_hash = $3, device_id = $4
                 WHERE code_hash = $1 AND used_ms IS NULL AND expires_ms > $2
                     AND member_id IN (SELECT id FROM members WHERE disabled_ms IS NULL AND role IN ('field_worker', 'lead'))
                 RETURNING member_id",
                &[&code_hash, &now_ms, &attempt_hash, &d.id],
            )?;
            let (member_id, device_id): (String, String) = match row {
                Some(row) => {
                    let member_id: String = row.get(0);
                    tx.execute(
                        "INSERT INTO devices (id, member_id, name, credential_hash, created_ms) VALUES ($1, $2, $3, $4, $5)",
                        &[&d.id, &member_id, &d.name, &d.credential_hash, &d.created_ms],
                    )?;
                    (member_id, d.id.clone())
                }
                None => {
                    // The same attempt again: its answer was lost. The device gets the new credential.
                    let Some(attempt_hash) = attempt_hash else { return Ok(Redeemed::Invalid) };
                    let again = tx.query_opt(
                        "SELECT c.member_id, c.device_id FROM enrolment_codes c JOIN devices d ON d.id = c.device_id
                         WHERE c.code_hash = $1 AND c.attempt_hash = $2 AND c.expires_ms > $3 AND d.revoked_ms IS NULL
                             AND d.last_seen_ms IS NULL AND c.used_ms > $3 - $4
                         FOR UPDATE OF c",
                        &[&code_hash, &attempt_hash, &now_ms, &ENROL_RETRY_MS],
                    )?;
                    let Some(again) = again else { return Ok(Redeemed::Invalid) };
                    let (member_id, device_id): (String, String) = (again.get(0), again.get(1));
                    tx.execute("UPDATE devices SET credential_hash = $2 WHERE id = $1", &[&device_id, &d.credential_hash])?;
                    (member_id, device_id)
                }
            };
            let r = tx.query_one(
                &format!(
                    "SELECT {MEMBER_COLS}, {TEAM_COLS} FROM members m JOIN teams t ON t.id = m.team_id WHERE m.id = $1"
                ),
                &[&member_id],
            )?;
            Ok(Redeemed::Enrolled(Box::new(member_row(&r, 0)), team_row(&r, MEMBER_N), device_id))
        })
    }

    fn caller(&self, device_id: &str) -> Result<Option<Caller>> {
        let row = self.conn()?.client().query_opt(
            &format!(
                "SELECT {DEVICE_COLS}, {MEMBER_COLS}, {TEAM_COLS}
                 FROM devices d JOIN members m ON m.id = d.member_id JOIN teams t ON t.id = m.team_id WHERE d.id = $1"
            ),
            &[&device_id],
        )?;
        Ok(row.map(|r| Caller {
            device: device_row(&r, 0),
            member: member_row(&r, 7),
            team: team_row(&r, 7 + MEMBER_N),
        }))
    }

    fn devices(&self, team_id: &str) -> Result<Vec<(Device, Member)>> {
        let rows = self.conn()?.client().query(
            &format!(
                "SELECT {DEVICE_COLS}, {MEMBER_COLS} FROM devices d JOIN members m ON m.id = d.member_id
                 WHERE m.team_id = $1 ORDER BY d.created_ms"
            ),
            &[&team_id],
        )?;
        Ok(rows.iter().map(|r| (device_row(r, 0), member_row(r, 7))).collect())
    }

    fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let found = tx.execute(
                "UPDATE devices SET revoked_ms = coalesce(revoked_ms, $2) WHERE id = $1",
                &[&device_id, &now_ms],
            )? == 1;
            tx.execute(
                "UPDATE enrolment_codes SET used_ms = $2
                 WHERE used_ms IS NULL AND member_id = (SELECT member_id FROM devices WHERE id = $1)",
                &[&device_id, &now_ms],
            )?;
            Ok(found)
        })
    }

    fn members(&self, team_id: &str) -> Result<Vec<Member>> {
        let rows = self.conn()?.client().query(
            &format!("SELECT {MEMBER_COLS} FROM members m WHERE m.team_id = $1 ORDER BY m.created_ms"),
            &[&team_id],
        )?;
        Ok(rows.iter().map(|r| member_row(r, 0)).collect())
    }

    fn disable_member(&self, member_id: &str, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let found = tx.execute(
                "UPDATE members SET disabled_ms = coalesce(disabled_ms, $2) WHERE id = $1",
                &[&member_id, &now_ms],
            )? == 1;
            tx.execute(
                "UPDATE devices SET revoked_ms = coalesce(revoked_ms, $2) WHERE member_id = $1",
                &[&member_id, &now_ms],
            )?;
            tx.execute(
                "UPDATE enrolment_codes SET used_ms = $2 WHERE used_ms IS NULL AND member_id = $1",
                &[&member_id, &now_ms],
            )?;
            end_member_sessions(tx, member_id, now_ms)?;
            roster_changed(tx, member_id)?;
            Ok(found)
        })
    }

    fn set_role(&self, member_id: &str, role: Role, referral: Option<&str>, now_ms: i64) -> Result<bool> {
        self.write(|tx| {
            let found = tx.execute(
                "UPDATE members SET role = $2, referral = $3 WHERE id = $1 AND (role <> $2 OR referral IS DISTINCT FROM $3)",
                &[&member_id, &role.as_str(), &referral],
            )? == 1;
            if found {
                tx.execute(
                    "UPDATE devices SET revoked_ms = coalesce(revoked_ms, $2) WHERE member_id = $1",
                    &[&member_id, &now_ms],
                )?;
                // Codes not used yet were issued for the old role: cancelled (a new one is issued).
                tx.execute(
                    "UPDATE enrolment_codes SET used_ms = $2 WHERE used_ms IS NULL AND member_id = $1",
                    &[&member_id, &now_ms],
                )?;
                end_member_sessions(tx, member_id, now_ms)?;
                roster_changed(tx, member_id)?;
            }
            Ok(found)
        })
    }

    fn codes(&self, team_id: &str) -> Result<Vec<CodeInfo>> {
        let rows = self.conn()?.client().query(
            "SELECT substr(e.code_hash, 1, 12), e.member_id, m.display_name, e.issued_ms, e.expires_ms, e.used_ms
             FROM enrolment_codes e JOIN members m ON m.id = e.member_id
             WHERE m.team_id = $1 ORDER BY e.expires_ms DESC",
            &[&team_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| CodeInfo {
                id: r.get(0),
                member_id: r.get(1),
                member_name: r.get(2),
                issued_ms: r.get(3),
                expires_ms: r.get(4),
                used_ms: r.get(5),
            })
            .collect())
    }

    fn cancel_code(&self, team_id: &str, code_id: &str, now_ms: i64) -> Result<bool> {
        if code_id.len() != 12 || !code_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE enrolment_codes SET used_ms = $3
                 WHERE substr(code_hash, 1, 12) = lower($2) AND used_ms IS NULL
                     AND member_id IN (SELECT id FROM members WHERE team_id = $1)",
                &[&team_id, &code_id, &now_ms],
            )? > 0)
        })
    }

    fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<()> {
        self.conn()?.client().execute("UPDATE devices SET last_seen_ms = $2 WHERE id = $1", &[&device_id, &now_ms])?;
        Ok(())
    }

    fn transaction(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.write(|tx| f(&mut PgTx(tx)))
    }

    fn feed(&self, v: &Viewer, cursor: i64, limit: u32) -> Result<FeedPage> {
        let mut conn = self.conn()?;
        // One snapshot for the feed's high-water mark and its rows.
        let mut tx =
            conn.client().build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start()?;
        let max: i64 =
            tx.query_opt("SELECT seq FROM teams WHERE id = $1", &[&v.team_id])?.map(|r| r.get(0)).unwrap_or(0);
        // Each row after the cursor is a document the viewer may see (1), the id of one it may
        // no longer see (0), or a change this device made itself (2: not sent back, moves the
        // cursor); rows it may never see are not counted and do not move the cursor (see the
        // SQLite backend). Rows are fetched in batches through a portal, so a page cut by bytes
        // never loads the rows after the cut.
        let portal = tx.bind(
            "SELECT what, CASE what WHEN 1 THEN doc WHEN 0 THEN id ELSE '' END, seq FROM (
                 SELECT CASE WHEN last_device = $4 THEN 2 WHEN could_see AND NOT quarantined THEN 1 ELSE 0 END
                            AS what, could_see, quarantined, doc, id, seq, was_public FROM (
                     SELECT (NOT sensitive OR author_id = $5 OR $6) AS could_see, quarantined, doc, id, seq,
                            was_public, last_device
                     FROM entities WHERE team_id = $1 AND seq > $2 AND seq <= $3) AS e) AS f
             WHERE what > 0 OR ($7 AND (was_public OR (quarantined AND could_see)))
             ORDER BY seq LIMIT $8",
            &[
                &v.team_id,
                &cursor,
                &max,
                &v.device_id,
                &v.member_id,
                &v.sees_sensitive,
                &v.withdrawals,
                &(limit as i64 + 1),
            ],
        )?;
        let (mut docs, mut withdrawn) = (Vec::new(), Vec::new());
        let mut last = cursor;
        let mut more = false;
        let (mut bytes, mut taken) = (0, 0);
        'page: loop {
            let rows = tx.query_portal(&portal, 1000)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let what: i32 = r.get(0);
                let doc_or_id: String = r.get(1);
                let doc_or_id = if what == 1 { crate::secret::entity_from_storage(doc_or_id)? } else { doc_or_id };
                // Cut by count and by bytes; a page holds at least one entity.
                bytes += doc_or_id.len();
                if taken == limit as usize || (bytes > MAX_PULL_BYTES && last != cursor) {
                    more = true;
                    break 'page;
                }
                match what {
                    1 => docs.push(doc_or_id),
                    0 => withdrawn.push(doc_or_id),
                    _ => {}
                }
                taken += 1;
                last = r.get(2);
            }
        }
        drop(portal);
        tx.commit()?;
        Ok(FeedPage { docs, withdrawn, cursor: last, more })
    }

    fn entities_after(&self, team_id: &str, seq: i64) -> Result<Vec<ChangedRow>> {
        let rows = self.conn()?.client().query(
            "SELECT id, kind, seq, quarantined, doc FROM entities WHERE team_id = $1 AND seq > $2 ORDER BY seq",
            &[&team_id, &seq],
        )?;
        rows.iter()
            .map(|r| {
                Ok(ChangedRow {
                    id: r.get(0),
                    kind: EntityKind::parse(r.get(1)).unwrap_or(EntityKind::Observation),
                    seq: r.get(2),
                    quarantined: r.get(3),
                    doc: crate::secret::entity_from_storage(r.get(4))?,
                })
            })
            .collect()
    }

    fn walk_records(&self, team_id: &str, walk_id: &str) -> Result<Vec<StoredRow>> {
        let rows = self.conn()?.client().query(
            "SELECT doc, seq, last_device, quarantined FROM entities
             WHERE team_id = $1 AND walk_id = $2 AND NOT quarantined ORDER BY seq",
            &[&team_id, &walk_id],
        )?;
        rows.iter().map(stored_row).collect()
    }

    fn history(&self, team_id: &str, entity_id: &str) -> Result<Vec<HistoryEntry>> {
        let rows = self.conn()?.client().query(
            "SELECT entity_id, at_ms, member_id, field, value, comment FROM review_history
             WHERE team_id = $1 AND entity_id = $2 ORDER BY at_ms, n",
            &[&team_id, &entity_id],
        )?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    entity_id: r.get(0),
                    at_ms: r.get(1),
                    member_id: r.get(2),
                    field: r.get(3),
                    value: r.get(4),
                    comment: crate::secret::comment_from_storage(r.get(5))?,
                })
            })
            .collect()
    }

    fn web_account(&self, member_id: &str) -> Result<Option<WebAccount>> {
        let row = self
            .conn()?
            .client()
            .query_opt(&format!("SELECT {ACCOUNT_COLS} FROM web_accounts WHERE member_id = $1"), &[&member_id])?;
        row.as_ref().map(account_row).transpose()
    }

    fn web_account_by_login(&self, login: &str) -> Result<Option<WebAccount>> {
        let row = self
            .conn()?
            .client()
            .query_opt(&format!("SELECT {ACCOUNT_COLS} FROM web_accounts WHERE login = $1"), &[&login])?;
        row.as_ref().map(account_row).transpose()
    }

    fn update_web_account(&self, a: &WebAccount) -> Result<()> {
        let failures = a.failures.min(i32::MAX as u32) as i32;
        self.conn()?.client().execute(
            "UPDATE web_accounts SET totp_last_step = $2, failures = $3, locked_until_ms = $4 WHERE member_id = $1",
            &[&a.member_id, &a.totp_last_step, &failures, &a.locked_until_ms],
        )?;
        Ok(())
    }

    fn claim_totp_step(&self, member_id: &str, step: i64) -> Result<bool> {
        Ok(self.conn()?.client().execute(
            "UPDATE web_accounts SET totp_last_step = $2, failures = 0, locked_until_ms = 0
             WHERE member_id = $1 AND totp_last_step < $2",
            &[&member_id, &step],
        )? == 1)
    }

    fn create_web_setup(&self, w: &WebSetup) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE web_setups SET used_ms = $2 WHERE member_id = $1 AND used_ms IS NULL",
                &[&w.member_id, &w.issued_ms],
            )?;
            tx.execute(
                "INSERT INTO web_setups (token_hash, member_id, login, totp_secret, issued_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &w.token_hash,
                    &w.member_id,
                    &w.login,
                    &crate::secret::seal(TOTP, &w.totp_secret),
                    &w.issued_ms,
                    &w.expires_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn web_setup(&self, token_hash: &str, now_ms: i64) -> Result<Option<WebSetup>> {
        let row = self.conn()?.client().query_opt(
            "SELECT w.token_hash, w.member_id, w.login, w.totp_secret, w.issued_ms, w.expires_ms
             FROM web_setups w JOIN members m ON m.id = w.member_id
             WHERE w.token_hash = $1 AND w.used_ms IS NULL AND w.expires_ms > $2 AND m.disabled_ms IS NULL",
            &[&token_hash, &now_ms],
        )?;
        row.map(|r| {
            Ok(WebSetup {
                token_hash: r.get(0),
                member_id: r.get(1),
                login: r.get(2),
                totp_secret: crate::secret::unseal(TOTP, r.get(3))?,
                issued_ms: r.get(4),
                expires_ms: r.get(5),
            })
        })
        .transpose()
    }

    fn finish_web_setup(&self, token_hash: &str, a: &WebAccount, now_ms: i64) -> Result<bool> {
        let failures = a.failures.min(i32::MAX as u32) as i32;
        self.write(|tx| {
            let used = tx.execute(
                "UPDATE web_setups SET used_ms = $3
                 WHERE token_hash = $1 AND member_id = $2 AND used_ms IS NULL AND expires_ms > $3",
                &[&token_hash, &a.member_id, &now_ms],
            )? == 1;
            let taken: bool = tx
                .query_one(
                    "SELECT count(*) > 0 FROM web_accounts WHERE login = $1 AND member_id <> $2",
                    &[&a.login, &a.member_id],
                )?
                .get(0);
            if !used || taken {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO web_accounts ({ACCOUNT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (member_id) DO UPDATE SET login = excluded.login,
                         password_hash = excluded.password_hash, totp_secret = excluded.totp_secret,
                         totp_last_step = excluded.totp_last_step, failures = 0, locked_until_ms = 0"
                ),
                &[
                    &a.member_id,
                    &a.login,
                    &a.password_hash,
                    &crate::secret::seal(TOTP, &a.totp_secret),
                    &a.totp_last_step,
                    &failures,
                    &a.locked_until_ms,
                    &a.created_ms,
                ],
            )?;
            end_member_sessions(tx, &a.member_id, now_ms)?;
            Ok(true)
        })
    }

    fn create_session(&self, w: &WebSession) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO web_sessions (token_hash, member_id, created_ms, last_seen_ms, expires_ms, agent)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&w.token_hash, &w.member_id, &w.created_ms, &w.last_seen_ms, &w.expires_ms, &w.agent],
            )?;
            tx.execute("DELETE FROM web_sessions WHERE expires_ms < $1", &[&(w.created_ms - 30 * 86_400_000)])?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<(WebSession, Member, Team)>> {
        let row = self.conn()?.client().query_opt(
            &format!(
                "SELECT {SESSION_COLS}, {MEMBER_COLS}, {TEAM_COLS}
                 FROM web_sessions s JOIN members m ON m.id = s.member_id JOIN teams t ON t.id = m.team_id
                 WHERE s.token_hash = $1 AND s.ended_ms IS NULL AND s.expires_ms > $2 AND m.disabled_ms IS NULL"
            ),
            &[&token_hash, &now_ms],
        )?;
        Ok(row.map(|r| (session_row(&r), member_row(&r, 7), team_row(&r, 7 + MEMBER_N))))
    }

    fn touch_session(&self, token_hash: &str, now_ms: i64, expires_ms: i64) -> Result<()> {
        self.conn()?.client().execute(
            "UPDATE web_sessions SET last_seen_ms = $2, expires_ms = $3 WHERE token_hash = $1 AND ended_ms IS NULL",
            &[&token_hash, &now_ms, &expires_ms],
        )?;
        Ok(())
    }

    fn end_session(&self, team_id: &str, session_id: &str, now_ms: i64) -> Result<bool> {
        if session_id.len() != 16 || !session_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        Ok(self.conn()?.client().execute(
            "UPDATE web_sessions SET ended_ms = $3
             WHERE substr(token_hash, 1, 16) = lower($2) AND ended_ms IS NULL
                 AND member_id IN (SELECT id FROM members WHERE team_id = $1)",
            &[&team_id, &session_id, &now_ms],
        )? > 0)
    }

    fn sessions(&self, team_id: &str, now_ms: i64) -> Result<Vec<(WebSession, Member)>> {
        let rows = self.conn()?.client().query(
            &format!(
                "SELECT {SESSION_COLS}, {MEMBER_COLS} FROM web_sessions s JOIN members m ON m.id = s.member_id
                 WHERE m.team_id = $1 AND s.ended_ms IS NULL AND s.expires_ms > $2 ORDER BY s.created_ms DESC"
            ),
            &[&team_id, &now_ms],
        )?;
        Ok(rows.iter().map(|r| (session_row(r), member_row(r, 7))).collect())
    }

    fn seal_at_rest(&self) -> Result<usize> {
        self.write(|tx| {
            let mut sealed = 0;
            for (table, key) in [("web_accounts", "member_id"), ("web_setups", "token_hash")] {
                let rows = tx.query(
                    &format!(
                        "SELECT {key}, totp_secret FROM {table} WHERE totp_secret NOT LIKE 'sealed1:%' FOR UPDATE"
                    ),
                    &[],
                )?;
                for r in rows {
                    let (id, secret): (String, String) = (r.get(0), r.get(1));
                    tx.execute(
                        &format!("UPDATE {table} SET totp_secret = $2 WHERE {key} = $1"),
                        &[&id, &crate::secret::seal(TOTP, &secret)],
                    )?;
                    sealed += 1;
                }
            }
            // Sensitive entities stored before sealing existed.
            let rows = tx.query(
                "SELECT team_id, id, doc FROM entities WHERE sensitive AND doc NOT LIKE 'sealed1:%' FOR UPDATE",
                &[],
            )?;
            for r in rows {
                let (team, id, doc): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                tx.execute(
                    "UPDATE entities SET doc = $3 WHERE team_id = $1 AND id = $2",
                    &[&team, &id, &crate::secret::entity_for_storage(doc, true)],
                )?;
                sealed += 1;
            }
            Ok(sealed)
        })
    }

    fn server_value(&self, key: &str, first: Option<&str>) -> Result<Option<String>> {
        let mut conn = self.conn()?;
        let c = conn.client();
        if let Some(v) = first {
            c.execute(
                "INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &v],
            )?;
        }
        Ok(c.query_opt("SELECT value FROM server_meta WHERE key = $1", &[&key])?.map(|r| r.get(0)))
    }

    fn team_ids(&self) -> Result<Vec<String>> {
        let rows = self.conn()?.client().query("SELECT id FROM teams ORDER BY created_ms", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn retention(&self, team_id: &str) -> Result<Option<String>> {
        let row = self.conn()?.client().query_opt("SELECT policy FROM retention WHERE team_id = $1", &[&team_id])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn set_retention(&self, team_id: &str, json: &str, now_ms: i64) -> Result<()> {
        // The terms are part of the settings phones take: their version counts up with them.
        self.write(|tx| {
            tx.execute(
                "INSERT INTO retention (team_id, policy, updated_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (team_id) DO UPDATE SET policy = excluded.policy, updated_ms = excluded.updated_ms",
                &[&team_id, &json, &now_ms],
            )?;
            tx.execute("UPDATE teams SET settings_version = settings_version + 1 WHERE id = $1", &[&team_id])?;
            Ok(())
        })
    }

    fn location_cell(&self, team_id: &str) -> Result<Option<u32>> {
        let row =
            self.conn()?.client().query_opt("SELECT cell_m FROM location_grid WHERE team_id = $1", &[&team_id])?;
        Ok(row.map(|r| r.get::<_, i64>(0).clamp(0, u32::MAX as i64) as u32))
    }

    fn set_location_cell(&self, team_id: &str, metres: u32, now_ms: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO location_grid (team_id, cell_m, updated_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (team_id) DO UPDATE SET cell_m = excluded.cell_m, updated_ms = excluded.updated_ms",
                &[&team_id, &i64::from(metres), &now_ms],
            )?;
            tx.execute("UPDATE teams SET settings_version = settings_version + 1 WHERE id = $1", &[&team_id])?;
            Ok(())
        })
    }

    fn log_deletion(&self, d: &Deletion) -> Result<()> {
        self.conn()?.client().execute(
            "INSERT INTO deletion_log (team_id, at_ms, entity_id, kind, reason) VALUES ($1, $2, $3, $4, $5)",
            &[&d.team_id, &d.at_ms, &d.entity_id, &d.kind, &d.reason],
        )?;
        Ok(())
    }

    fn deletions(&self, team_id: &str, since_ms: i64) -> Result<Vec<Deletion>> {
        let rows = self.conn()?.client().query(
            "SELECT team_id, at_ms, entity_id, kind, reason FROM deletion_log
             WHERE team_id = $1 AND at_ms >= $2 ORDER BY at_ms, n",
            &[&team_id, &since_ms],
        )?;
        Ok(rows
            .iter()
            .map(|r| Deletion {
                team_id: r.get(0),
                at_ms: r.get(1),
                entity_id: r.get(2),
                kind: r.get(3),
                reason: r.get(4),
            })
            .collect())
    }

    fn forget_history(&self, team_id: &str, entity_id: &str) -> Result<()> {
        self.conn()?
            .client()
            .execute("DELETE FROM review_history WHERE team_id = $1 AND entity_id = $2", &[&team_id, &entity_id])?;
        Ok(())
    }

    fn compact(&self) -> Result<()> {
        // A rewrite of the tables into new files: a purged row's bytes are not in them. (Old
        // WAL segments are recycled by PostgreSQL itself; see docs/privacy.md.)
        // One statement each: several in one query string would run as one transaction block.
        let mut conn = self.conn()?;
        for table in ["entities", "review_history", "photo_chunks"] {
            conn.client().batch_execute(&format!("VACUUM FULL {table}"))?;
        }
        Ok(())
    }

    fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        let e = e.clone().bounded();
        self.conn()?.client().execute(
            "INSERT INTO audit_log (team_id, at_ms, actor, action, object, result, origin)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&e.team_id, &e.at_ms, &e.actor, &e.action, &e.object, &e.result, &e.origin],
        )?;
        Ok(())
    }

    fn purge_audit(&self, before_ms: i64) -> Result<u64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO audit_cutoff (id, cutoff_ms) VALUES (1, $1)
                 ON CONFLICT (id) DO UPDATE SET cutoff_ms = greatest(audit_cutoff.cutoff_ms, excluded.cutoff_ms)",
                &[&before_ms],
            )?;
            Ok(tx.execute("DELETE FROM audit_log WHERE at_ms < $1", &[&before_ms])?)
        })
    }

    fn audit(&self, team_id: Option<&str>, since_ms: i64, limit: usize) -> Result<Vec<AuditEvent>> {
        let rows = self.conn()?.client().query(
            "SELECT team_id, at_ms, actor, action, object, result, origin FROM audit_log
             WHERE ($1::TEXT IS NULL OR team_id = $1) AND at_ms >= $2 ORDER BY n DESC LIMIT $3",
            &[&team_id, &since_ms, &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| AuditEvent {
                team_id: r.get(0),
                at_ms: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                object: r.get(4),
                result: r.get(5),
                origin: r.get(6),
            })
            .collect())
    }
}

const PHOTO_COLS: &str =
    "team_id, author_id, id, record_id, position, sha256, size, width, height, received, stored, offered_ms";

fn photo_row(r: &Row) -> StoredPhoto {
    StoredPhoto {
        team_id: r.get(0),
        author_id: r.get(1),
        photo: PhotoRef {
            id: r.get(2),
            record_id: r.get(3),
            position: r.get::<_, i32>(4) as u32,
            sha256: r.get(5),
            size: r.get::<_, i64>(6) as u64,
            width: r.get::<_, i32>(7) as u32,
            height: r.get::<_, i32>(8) as u32,
        },
        received: r.get::<_, i64>(9) as u64,
        stored: r.get(10),
        offered_ms: r.get(11),
    }
}

impl PhotoStorage for PostgresStorage {
    fn offer_photo(
        &self,
        author_id: &str,
        team_id: &str,
        photo: &PhotoRef,
        quota: PhotoQuota,
        now_ms: i64,
    ) -> Result<PhotoOffered> {
        self.write(|tx| {
            // The team's row is the lock: two offers of one team (on any instance) count the
            // quota one after the other.
            tx.execute("SELECT 1 FROM teams WHERE id = $1 FOR UPDATE", &[&team_id])?;
            let known =
                tx.query_opt(&format!("SELECT {PHOTO_COLS} FROM photos WHERE team_id = $1 AND id = $2"), &[&team_id, &photo.id])?;
            if let Some(known) = known.as_ref().map(photo_row) {
                let same = known.photo == *photo && known.author_id == author_id;
                return Ok(if same { PhotoOffered::Taken(known) } else { PhotoOffered::Conflict });
            }
            let position = photo.position as i32;
            let taken = tx.query_opt(
                "SELECT 1 FROM photos WHERE team_id = $1 AND record_id = $2 AND position = $3",
                &[&team_id, &photo.record_id, &position],
            )?;
            if taken.is_some() {
                return Ok(PhotoOffered::Conflict);
            }
            let row = tx.query_one(
                "SELECT coalesce(sum(size), 0)::BIGINT, coalesce(sum(CASE WHEN author_id = $2 THEN size END), 0)::BIGINT
                 FROM photos WHERE team_id = $1",
                &[&team_id, &author_id],
            )?;
            let (team_total, member_total): (i64, i64) = (row.get(0), row.get(1));
            if team_total as u64 + photo.size > quota.team_bytes || member_total as u64 + photo.size > quota.member_bytes
            {
                return Ok(PhotoOffered::OverQuota);
            }
            let row = tx.query_one(
                &format!(
                    "INSERT INTO photos (team_id, id, record_id, author_id, position, sha256, size, width, height, offered_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {PHOTO_COLS}"
                ),
                &[
                    &team_id,
                    &photo.id,
                    &photo.record_id,
                    &author_id,
                    &position,
                    &photo.sha256,
                    &(photo.size as i64),
                    &(photo.width as i32),
                    &(photo.height as i32),
                    &now_ms,
                ],
            )?;
            Ok(PhotoOffered::Taken(photo_row(&row)))
        })
    }

    fn photo(&self, team_id: &str, id: &str) -> Result<Option<StoredPhoto>> {
        let row = self
            .conn()?
            .client()
            .query_opt(&format!("SELECT {PHOTO_COLS} FROM photos WHERE team_id = $1 AND id = $2"), &[&team_id, &id])?;
        Ok(row.as_ref().map(photo_row))
    }

    fn append_photo(&self, team_id: &str, id: &str, offset: u64, bytes: &[u8]) -> Result<Option<StoredPhoto>> {
        self.write(|tx| {
            let row = tx.query_opt(
                &format!("SELECT {PHOTO_COLS} FROM photos WHERE team_id = $1 AND id = $2 FOR UPDATE"),
                &[&team_id, &id],
            )?;
            let Some(p) = row.as_ref().map(photo_row) else { return Ok(None) };
            if p.stored || offset != p.received || bytes.is_empty() || p.received + bytes.len() as u64 > p.photo.size {
                return Ok(Some(p));
            }
            let at = p.received as i64;
            tx.execute(
                "INSERT INTO photo_chunks (team_id, photo_id, at, data) VALUES ($1, $2, $3, $4)",
                &[&team_id, &id, &at, &bytes],
            )?;
            let received = p.received + bytes.len() as u64;
            tx.execute(
                "UPDATE photos SET received = $3 WHERE team_id = $1 AND id = $2",
                &[&team_id, &id, &(received as i64)],
            )?;
            Ok(Some(StoredPhoto { received, ..p }))
        })
    }

    fn photo_bytes(&self, team_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.conn()?;
        let mut tx = conn.client().build_transaction().read_only(true).start()?;
        if tx.query_opt("SELECT 1 FROM photos WHERE team_id = $1 AND id = $2", &[&team_id, &id])?.is_none() {
            return Ok(None);
        }
        let rows = tx.query(
            "SELECT data FROM photo_chunks WHERE team_id = $1 AND photo_id = $2 ORDER BY at",
            &[&team_id, &id],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            out.extend_from_slice(r.get::<_, &[u8]>(0));
        }
        tx.commit()?;
        Ok(Some(out))
    }

    fn finish_photo(&self, team_id: &str, id: &str, accepted: bool) -> Result<()> {
        self.write(|tx| {
            if accepted {
                tx.execute("UPDATE photos SET stored = TRUE WHERE team_id = $1 AND id = $2", &[&team_id, &id])?;
            } else {
                tx.execute("DELETE FROM photo_chunks WHERE team_id = $1 AND photo_id = $2", &[&team_id, &id])?;
                tx.execute(
                    "UPDATE photos SET received = 0 WHERE team_id = $1 AND id = $2 AND NOT stored",
                    &[&team_id, &id],
                )?;
            }
            Ok(())
        })
    }

    fn photo_thumbnail(&self, team_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .conn()?
            .client()
            .query_opt("SELECT thumbnail FROM photos WHERE team_id = $1 AND id = $2 AND stored", &[&team_id, &id])?;
        Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
    }

    fn set_photo_thumbnail(&self, team_id: &str, id: &str, thumbnail: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE photos SET thumbnail = $3 WHERE team_id = $1 AND id = $2 AND stored",
                &[&team_id, &id, &thumbnail],
            )?;
            Ok(())
        })
    }

    fn photos_of(&self, team_id: &str, record_id: &str) -> Result<Vec<StoredPhoto>> {
        let rows = self.conn()?.client().query(
            &format!("SELECT {PHOTO_COLS} FROM photos WHERE team_id = $1 AND record_id = $2 ORDER BY position"),
            &[&team_id, &record_id],
        )?;
        Ok(rows.iter().map(photo_row).collect())
    }

    fn delete_photos(&self, team_id: &str, record_id: &str) -> Result<u64> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM photo_chunks WHERE team_id = $1
                 AND photo_id IN (SELECT id FROM photos WHERE team_id = $1 AND record_id = $2)",
                &[&team_id, &record_id],
            )?;
            Ok(tx.execute("DELETE FROM photos WHERE team_id = $1 AND record_id = $2", &[&team_id, &record_id])?)
        })
    }

    fn photo_records(&self, team_id: &str) -> Result<Vec<(String, Option<i64>)>> {
        let rows = self.conn()?.client().query(
            "SELECT record_id, min(CASE WHEN NOT stored THEN offered_ms END) FROM photos
             WHERE team_id = $1 GROUP BY record_id",
            &[&team_id],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
