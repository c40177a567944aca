//! The store's side of sync: rows to entities and back, the outbox of pending changes, and
//! applying one sync round (mark what the server acknowledged, merge what it sent, advance
//! the cursor) as one transaction, so an interrupted round leaves nothing half-done.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::records::{record_from_row, RECORD_COLUMNS};
use super::walks::{walk_from_row, WALK_COLUMNS};
use super::{read_meta, write_meta, Change, Durability, Store};
use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::{id_bytes, MemberId, RecordId, WalkId};
use crate::location::RecordLocation;
use crate::sync::codec;
use crate::sync::merge::{merge, same_identity};
use crate::sync::wire::{Entity, EntityKind, Rejection};
use crate::track::TrackPoint;

const SYNC_RECORD_COLUMNS: &str = "field_clocks, sensitive, deleted";
const SYNC_WALK_COLUMNS: &str = "field_clocks";

fn record_entity(r: &Row) -> Result<Entity> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let kind = EntityKind::parse(&text(2)?).ok_or_else(|| Error::invalid("record kind", "unknown value in store"))?;
    let deleted: bool = r.get(21)?;
    let mut e = Entity {
        kind,
        id: r.get::<_, RecordId>(0)?.to_string(),
        walk_id: Some(r.get::<_, WalkId>(1)?.to_string()),
        author_id: r.get::<_, MemberId>(3)?.to_string(),
        created_ms: r.get(4)?,
        created_offset_s: r.get(5)?,
        sensitive: r.get(20)?,
        deleted,
        hlc: text(15)?.parse()?,
        fields: BTreeMap::new(),
        clocks: BTreeMap::new(),
    };
    if !deleted {
        e.clocks = serde_json::from_str(&text(19)?)?;
        e.fields = codec::record_fields(&record_from_row(r)?)?;
    }
    Ok(e)
}

fn walk_entity(conn: &Connection, r: &Row) -> Result<Entity> {
    let w = walk_from_row(r)?;
    let track: Option<String> = conn
        .prepare_cached("SELECT points FROM walk_tracks WHERE walk_id = ?1")?
        .query_row([w.id], |r| r.get(0))
        .optional()?;
    let track: Option<Vec<TrackPoint>> = track.map(|t| serde_json::from_str(&t)).transpose()?;
    Ok(Entity {
        kind: EntityKind::Walk,
        id: w.id.to_string(),
        walk_id: None,
        author_id: w.author_id.to_string(),
        created_ms: w.started.utc_ms,
        created_offset_s: w.started.offset_s,
        sensitive: false,
        deleted: false,
        hlc: w.hlc,
        fields: codec::walk_fields(&w, track.as_deref())?,
        clocks: serde_json::from_str(&r.get::<_, String>(super::walks::WALK_COLUMN_COUNT)?)?,
    })
}

fn load_entity(conn: &Connection, kind: EntityKind, id: &[u8; 16]) -> Result<Option<Entity>> {
    if kind == EntityKind::Walk {
        let sql = format!("SELECT {WALK_COLUMNS}, {SYNC_WALK_COLUMNS} FROM walks WHERE id = ?1");
        let mut st = conn.prepare_cached(&sql)?;
        let mut rows = st.query([id])?;
        return rows.next()?.map(|r| walk_entity(conn, r)).transpose();
    }
    let sql = format!("SELECT {RECORD_COLUMNS}, {SYNC_RECORD_COLUMNS} FROM records WHERE id = ?1");
    let mut st = conn.prepare_cached(&sql)?;
    let mut rows = st.query([id])?;
    rows.next()?.map(record_entity).transpose()
}

fn write_record(c: &Change, e: &Entity, pending: bool) -> Result<()> {
    let walk_id = e.walk_id.as_deref().ok_or_else(|| Error::invalid("entity", "a record needs its walk"))?;
    let (id, walk_id, author_id) =
        (id_bytes(&e.id, "id")?, id_bytes(walk_id, "walk id")?, id_bytes(&e.author_id, "author id")?);
    if e.deleted {
        c.tx.prepare_cached(
            "INSERT INTO records (id, walk_id, kind, author_id, created_ms, created_offset_s, location, hlc, deleted, pending)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'none', ?7, 1, ?8)
             ON CONFLICT (id) DO UPDATE SET deleted = 1, body = NULL, location = 'none', lat = NULL, lon = NULL,
                 accuracy_m = NULL, fix_ms = NULL, source = NULL, buurt = NULL, wijk = NULL, review = '{}',
                 field_clocks = '{}', hlc = excluded.hlc, pending = excluded.pending",
        )?
        .execute(params![id, walk_id, e.kind.as_str(), author_id, e.created_ms, e.created_offset_s, e.hlc.to_string(), pending])?;
        return Ok(());
    }
    let row = record_row(e, pending)?;
    c.tx.prepare_cached(&format!(
        "INSERT INTO records ({RECORD_INSERT_COLUMNS}) VALUES ({})
         ON CONFLICT (id) DO UPDATE SET location = excluded.location, lat = excluded.lat, lon = excluded.lon,
             accuracy_m = excluded.accuracy_m, fix_ms = excluded.fix_ms, source = excluded.source, buurt = excluded.buurt,
             wijk = excluded.wijk, sensitive = excluded.sensitive, body = excluded.body, hlc = excluded.hlc,
             field_clocks = excluded.field_clocks, reviewed_ms = excluded.reviewed_ms, review = excluded.review,
             deleted = excluded.deleted, pending = excluded.pending",
        placeholders(0, RECORD_INSERT_ARITY)
    ))?
    .execute(rusqlite::params_from_iter(row))?;
    Ok(())
}

const RECORD_INSERT_COLUMNS: &str = "id, walk_id, kind, author_id, created_ms, created_offset_s, location, lat, lon, \
     accuracy_m, fix_ms, source, buurt, wijk, sensitive, body, hlc, field_clocks, reviewed_ms, review, deleted, pending";
const RECORD_INSERT_ARITY: usize = 22;
/// Rows per multi-row insert when a page brings many new records (an initial sync).
const INSERT_BATCH: usize = 40;

/// `(?n+1, ?n+2, …)` for one row.
/// Pushed versions acknowledged per statement (two parameters each, well within SQLite's
/// limit of 32,766).
const ACK_CHUNK: usize = 500;

fn placeholders(from: usize, count: usize) -> String {
    (from + 1..=from + count).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

/// A live record entity as the values of one `records` row, decoded and checked.
fn record_row(e: &Entity, pending: bool) -> Result<Vec<Value>> {
    let walk_id = e.walk_id.as_deref().ok_or_else(|| Error::invalid("entity", "a record needs its walk"))?;
    let blob = |id: &str, what| id_bytes(id, what).map(|b| Value::Blob(b.to_vec()));
    let codec::RecordParts { body_json, place, review, reviewed_ms, .. } = codec::record_parts(e)?;
    let p = place.at.point();
    let loc_kind = match place.at {
        RecordLocation::Fix(_) => "fix",
        RecordLocation::Inherited(_) => "inherited",
        RecordLocation::None => "none",
    };
    let text = |s: &str| Value::Text(s.to_string());
    let opt_text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
    let real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    Ok(vec![
        blob(&e.id, "id")?,
        blob(walk_id, "walk id")?,
        text(e.kind.as_str()),
        blob(&e.author_id, "author id")?,
        Value::Integer(e.created_ms),
        Value::Integer(e.created_offset_s.into()),
        text(loc_kind),
        real(p.map(|l| l.lat)),
        real(p.map(|l| l.lon)),
        real(p.map(|l| l.accuracy_m)),
        p.map_or(Value::Null, |l| Value::Integer(l.fix_ms)),
        opt_text(p.map(|l| l.source.as_str().to_string())),
        opt_text(place.buurt),
        opt_text(place.wijk),
        Value::Integer(e.sensitive.into()),
        Value::Text(body_json),
        Value::Text(e.hlc.to_string()),
        Value::Text(serde_json::to_string(&e.clocks)?),
        reviewed_ms.map_or(Value::Null, Value::Integer),
        Value::Text(serde_json::to_string(&review)?),
        Value::Integer(0),
        Value::Integer(pending.into()),
    ])
}

/// `INSERT INTO records … VALUES (…), (…), …` for `count` rows.
fn multi_row_insert(count: usize) -> String {
    let groups: Vec<String> =
        (0..count).map(|i| format!("({})", placeholders(i * RECORD_INSERT_ARITY, RECORD_INSERT_ARITY))).collect();
    format!("INSERT INTO records ({RECORD_INSERT_COLUMNS}) VALUES {}", groups.join(", "))
}

/// Inserts records known to be new here, many rows per statement.
fn insert_new_records(c: &Change, rows: &mut Vec<Vec<Value>>) -> Result<()> {
    // The full-batch statement's text is built once; building it per batch cost a tenth of
    // an initial sync.
    static FULL_BATCH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| multi_row_insert(INSERT_BATCH));
    for chunk in rows.chunks(INSERT_BATCH) {
        let params = rusqlite::params_from_iter(chunk.iter().flatten());
        if chunk.len() == INSERT_BATCH {
            c.tx.prepare_cached(&FULL_BATCH)?.execute(params)?;
        } else {
            c.tx.prepare_cached(&multi_row_insert(chunk.len()))?.execute(params)?;
        }
    }
    rows.clear();
    Ok(())
}

fn write_walk(c: &Change, e: &Entity, pending: bool) -> Result<()> {
    let w = codec::walk_parts(e)?;
    let review = w.review();
    let codec::WalkFields {
        participants,
        purpose,
        focus,
        pauses,
        status,
        ended,
        summary,
        buurten,
        track,
        reviewed_ms,
        debrief,
        ..
    } = w;
    let details = crate::walk::WalkDetails { participants, purpose, focus };
    c.tx.prepare_cached(
        "INSERT INTO walks (id, author_id, status, started_ms, started_offset_s, ended_ms, ended_offset_s, details, pauses,
             summary, buurten, hlc, field_clocks, reviewed_ms, review, pending, debrief)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (id) DO UPDATE SET started_ms = excluded.started_ms, started_offset_s = excluded.started_offset_s,
             status = excluded.status, ended_ms = excluded.ended_ms,
             ended_offset_s = excluded.ended_offset_s, details = excluded.details, pauses = excluded.pauses,
             summary = excluded.summary, buurten = excluded.buurten, hlc = excluded.hlc,
             field_clocks = excluded.field_clocks, reviewed_ms = excluded.reviewed_ms, review = excluded.review,
             pending = excluded.pending, debrief = excluded.debrief",
    )?
    .execute(params![
        id_bytes(&e.id, "id")?,
        id_bytes(&e.author_id, "author id")?,
        status.as_str(),
        e.created_ms,
        e.created_offset_s,
        ended.map(|m| m.utc_ms),
        ended.map(|m| m.offset_s),
        serde_json::to_string(&details)?,
        serde_json::to_string(&pauses)?,
        summary.as_ref().map(serde_json::to_string).transpose()?,
        serde_json::to_string(&buurten)?,
        e.hlc.to_string(),
        serde_json::to_string(&e.clocks)?,
        reviewed_ms,
        serde_json::to_string(&review)?,
        pending,
        debrief.as_ref().map(serde_json::to_string).transpose()?,
    ])?;
    if let Some(t) = track {
        c.tx.prepare_cached("INSERT OR REPLACE INTO walk_tracks (walk_id, points) VALUES (?1, ?2)")?
            .execute((id_bytes(&e.id, "id")?, serde_json::to_string(&t)?))?;
    }
    Ok(())
}

/// A placeholder for a walk whose records arrived before it: replaced, not merged, when the
/// walk itself arrives (its clock is `ZERO`) — its start too, which here is only the first
/// record's time (`write_walk` overwrites it: a real walk's start never changes).
fn ensure_walk(c: &Change, e: &Entity) -> Result<()> {
    if let Some(w) = &e.walk_id {
        c.tx.prepare_cached(
            "INSERT OR IGNORE INTO walks (id, author_id, status, started_ms, started_offset_s, details, hlc, pending)
             VALUES (?1, ?2, 'ended', ?3, 0, '{\"participants\":[],\"purpose\":\"\",\"focus\":[]}', ?4, 0)",
        )?
        .execute(params![
            id_bytes(w, "walk id")?,
            id_bytes(&e.author_id, "author id")?,
            e.created_ms,
            Hlc::ZERO.to_string()
        ])?;
    }
    Ok(())
}

/// The ids among `incoming` that this store already holds (walks and records).
fn existing_ids<'a>(conn: &Connection, incoming: impl Iterator<Item = &'a str>) -> Result<HashSet<[u8; 16]>> {
    let ids = serde_json::to_string(&incoming.collect::<Vec<_>>())?;
    let mut out = HashSet::new();
    for table in ["walks", "records"] {
        let mut st = conn.prepare_cached(&format!(
            "SELECT id FROM {table} WHERE id IN (SELECT unhex(value, '-') FROM json_each(?1))"
        ))?;
        let rows = st.query_map([&ids], |r| r.get::<_, [u8; 16]>(0))?;
        for id in rows {
            out.insert(id?);
        }
    }
    Ok(out)
}

/// Applies the server's refusals of this round's push: for each refused entity whose team
/// version came along, the refused fields take the team's value and clock. A copy unchanged
/// since it was pushed is replaced by the team's version whole (a refused deletion brings the
/// record back); a copy changed meanwhile keeps its newer changes and stays pending. Without
/// this, a refused field would stay on this phone under a clock newer than the team's, and
/// the phone would never show what the team holds. Returns how many copies were corrected.
fn take_refusals(c: &mut Change, pushed: &[Entity], rejected: &[Rejection]) -> Result<u32> {
    let mut corrected = 0;
    let mut seen: HashSet<&str> = HashSet::new();
    for r in rejected {
        let Some(current) = &r.current else { continue };
        if !seen.insert(r.id.as_str()) {
            continue;
        }
        let Some(p) = pushed.iter().find(|p| p.id == r.id) else { continue };
        if !same_identity(p, current) {
            continue;
        }
        let Ok(id) = id_bytes(&r.id, "id") else { continue };
        let Some(local) = load_entity(&c.tx, current.kind, &id)? else { continue };
        let (next, pending) = if local.hlc == p.hlc {
            (current.clone(), false)
        } else {
            let Ok(mut m) = merge(&local, current) else { continue };
            for f in rejected.iter().filter(|x| x.id == r.id).map(|x| x.field.as_str()) {
                if !m.deleted && local.clock(f) == p.clock(f) {
                    match current.fields.get(f) {
                        Some(v) => m.fields.insert(f.to_string(), v.clone()),
                        None => m.fields.remove(f),
                    };
                    match current.clocks.get(f) {
                        Some(clock) => m.clocks.insert(f.to_string(), *clock),
                        None => m.clocks.remove(f),
                    };
                }
            }
            (m, true)
        };
        c.observe(current.hlc);
        let written =
            if next.kind == EntityKind::Walk { write_walk(c, &next, pending) } else { write_record(c, &next, pending) };
        match written {
            Ok(()) => corrected += 1,
            // A team version this app cannot read: keep the phone's copy.
            Err(Error::Decode(_)) | Err(Error::Invalid { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(corrected)
}

/// Per entity: `None` for walks and tombstones; `Some(None)` if this app cannot read it.
type DecodedRow = Option<Option<Vec<Value>>>;

/// A page of entities from the team, with the rows of its new records decoded in advance —
/// work that can run on another thread while the previous page is being written.
pub struct IncomingPage {
    entities: Vec<Entity>,
    /// Ids of records this device may no longer see: their copies are deleted.
    withdrawn: Vec<String>,
    /// Pushed changes the server refused, with the team's version where this device may see it.
    rejected: Vec<Rejection>,
    /// Entities of the answer that could not even be parsed.
    unreadable: u32,
    rows: Vec<DecodedRow>,
}

impl IncomingPage {
    pub fn new(entities: Vec<Entity>) -> Self {
        let rows = entities
            .iter()
            .map(|e| (e.kind != EntityKind::Walk && !e.deleted).then(|| record_row(e, false).ok()))
            .collect();
        IncomingPage { entities, withdrawn: Vec::new(), rejected: Vec::new(), unreadable: 0, rows }
    }

    /// Entities of the page that could not be parsed at all (counted as unreadable).
    pub fn with_unreadable(mut self, n: u32) -> Self {
        self.unreadable = n;
        self
    }

    /// The round's refusals of pushed changes (protocol 3): the refused fields are taken from
    /// the team's version.
    pub fn with_rejected(mut self, rejected: Vec<Rejection>) -> Self {
        self.rejected = rejected;
        self
    }

    /// The page's withdrawals (records that became sensitive; protocol 2).
    pub fn with_withdrawn(mut self, ids: Vec<String>) -> Self {
        self.withdrawn = ids;
        self
    }
}

/// What applying a round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Pushed changes now acknowledged (no longer pending).
    pub acknowledged: u32,
    /// Incoming changes merged into the store.
    pub applied: u32,
    /// Incoming changes this app could not read (a newer app's data): kept out, reported.
    pub unreadable: u32,
    /// Records deleted here because this member may no longer see them.
    pub withdrawn: u32,
    /// Walks and records whose refused changes were replaced by the team's version.
    pub corrected: u32,
}

impl Store {
    /// The outbox: up to `limit` walks and records changed here and not yet acknowledged,
    /// walks first.
    pub fn pending_changes(&self, limit: usize) -> Result<Vec<Entity>> {
        self.read(|c| {
            let mut out = Vec::new();
            let sql = format!("SELECT {WALK_COLUMNS}, {SYNC_WALK_COLUMNS} FROM walks WHERE pending = 1 ORDER BY started_ms LIMIT ?1");
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query([limit as i64])?;
            while let Some(r) = rows.next()? {
                out.push(walk_entity(c, r)?);
            }
            let sql = format!(
                "SELECT {RECORD_COLUMNS}, {SYNC_RECORD_COLUMNS} FROM records WHERE pending = 1 ORDER BY created_ms, id LIMIT ?1"
            );
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query([(limit - out.len()) as i64])?;
            while let Some(r) = rows.next()? {
                out.push(record_entity(r)?);
            }
            Ok(out)
        })
    }

    /// How many walks and records wait to be sent.
    pub fn pending_count(&self) -> Result<u64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM walks WHERE pending = 1) + (SELECT count(*) FROM records WHERE pending = 1)",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }

    /// The server cursor of the last applied page.
    pub fn sync_cursor(&self) -> Result<i64> {
        self.read(|c| Ok(read_meta(c, "sync_cursor")?.unwrap_or(0)))
    }

    /// One round's result, in one transaction: the pushed versions become acknowledged (a row
    /// changed since it was collected stays pending), the incoming entities are merged, the
    /// clock observes them, and the cursor advances.
    pub fn apply_sync_round(&self, pushed: &[Entity], page: IncomingPage, cursor: i64) -> Result<ApplyReport> {
        let IncomingPage { entities: incoming, withdrawn, rejected, unreadable, mut rows } = page;
        let me = self.identity().map(|i| i.member.id);
        self.write_with(Durability::Replayable, |c| {
            let mut report = ApplyReport { unreadable, ..ApplyReport::default() };
            // The acknowledgements: one statement per table per ACK_CHUNK pushed versions (a
            // page of 500 was 500 single-row updates).
            for (table, walks) in [("walks", true), ("records", false)] {
                let versions: Vec<Value> = pushed
                    .iter()
                    .filter(|e| (e.kind == EntityKind::Walk) == walks)
                    .map(|e| Ok([Value::Blob(id_bytes(&e.id, "id")?.to_vec()), Value::Text(e.hlc.to_string())]))
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .flatten()
                    .collect();
                for chunk in versions.chunks(2 * ACK_CHUNK) {
                    let pairs: Vec<String> =
                        (0..chunk.len() / 2).map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2)).collect();
                    let n =
                        c.tx.prepare_cached(&format!(
                            "UPDATE {table} SET pending = 0 WHERE (id, hlc) IN (VALUES {})",
                            pairs.join(", ")
                        ))?
                        .execute(rusqlite::params_from_iter(chunk))?;
                    report.acknowledged += n as u32;
                }
            }
            report.corrected = take_refusals(c, pushed, &rejected)?;
            // Each incoming entity with its id as stored; one whose id is not a UUID is not
            // readable here.
            let mut keyed: Vec<([u8; 16], &Entity, &mut DecodedRow)> = Vec::with_capacity(incoming.len());
            for (e, row) in incoming.iter().zip(rows.iter_mut()) {
                match id_bytes(&e.id, "id") {
                    Ok(id) => keyed.push((id, e, row)),
                    Err(_) => report.unreadable += 1,
                }
            }
            // Which incoming entities exist here already: one query per table for the page.
            let mut existing = existing_ids(&c.tx, keyed.iter().map(|(_, e, _)| e.id.as_str()))?;
            let mut walks_ensured: HashSet<&str> = HashSet::new();
            let mut new_rows: Vec<Vec<Value>> = Vec::new();
            for (id, e, row) in keyed {
                c.observe(e.hlc);
                // A walk the team deleted (its retention term, or an operator's erasure): gone
                // here too with its records, fixes and route — but not what this phone has
                // not pushed yet.
                if e.kind == EntityKind::Walk && e.deleted {
                    c.tx.prepare_cached("DELETE FROM records WHERE walk_id = ?1 AND pending = 0")?.execute([&id])?;
                    c.tx.prepare_cached(
                        "DELETE FROM walks WHERE id = ?1 AND pending = 0
                           AND NOT EXISTS (SELECT 1 FROM records WHERE walk_id = ?1)",
                    )?
                    .execute([&id])?;
                    report.applied += 1;
                    continue;
                }
                // A record new here goes into a multi-row insert (an initial sync is mostly these).
                if let Some(row) = row.take().filter(|_| !existing.contains(&id)) {
                    let Some(row) = row else {
                        report.unreadable += 1;
                        continue;
                    };
                    if let Some(w) = e.walk_id.as_deref() {
                        if walks_ensured.insert(w) {
                            ensure_walk(c, e)?;
                        }
                    }
                    new_rows.push(row);
                    existing.insert(id);
                    report.applied += 1;
                    continue;
                }
                if existing.contains(&id) {
                    // The same id twice in a page: the first must be in the table first.
                    insert_new_records(c, &mut new_rows)?;
                }
                let mut pending = false;
                let merged = if existing.contains(&id) {
                    let Some(local) = load_entity(&c.tx, e.kind, &id)? else { continue };
                    let table = if e.kind == EntityKind::Walk { "walks" } else { "records" };
                    let local_pending =
                        c.tx.prepare_cached(&format!("SELECT pending FROM {table} WHERE id = ?1"))?
                            .query_row([&id], |r| r.get::<_, bool>(0))?;
                    let merged = if local.hlc == Hlc::ZERO {
                        // A placeholder walk is replaced, not merged.
                        e.clone()
                    } else {
                        match merge(&local, e) {
                            Ok(m) => m,
                            Err(_) => {
                                report.unreadable += 1;
                                continue;
                            }
                        }
                    };
                    pending = local_pending && merged != *e;
                    Cow::Owned(merged)
                } else {
                    Cow::Borrowed(e)
                };
                let written = if e.kind == EntityKind::Walk {
                    write_walk(c, &merged, pending)
                } else {
                    if let Some(w) = e.walk_id.as_deref() {
                        if walks_ensured.insert(w) {
                            ensure_walk(c, &merged)?;
                        }
                    }
                    write_record(c, &merged, pending)
                };
                match written {
                    Ok(()) => report.applied += 1,
                    // Data this app version cannot read: keep it out and say so.
                    Err(Error::Decode(_)) | Err(Error::Invalid { .. }) => report.unreadable += 1,
                    Err(other) => return Err(other),
                }
            }
            insert_new_records(c, &mut new_rows)?;
            // Records that became sensitive go from the phones of those who may no longer see
            // them; an author's own records never do (the server does not list them).
            for id in &withdrawn {
                let Ok(id) = id_bytes(id, "withdrawn id") else {
                    report.unreadable += 1;
                    continue;
                };
                report.withdrawn +=
                    c.tx.prepare_cached("DELETE FROM records WHERE id = ?1 AND author_id IS NOT ?2")?
                        .execute(params![id, me])? as u32;
            }
            write_meta(&c.tx, "sync_cursor", &cursor)?;
            Ok(report)
        })
    }

    /// Deletes everything in the store (a revoked device): records, walks, tracks, boundaries,
    /// identity, credential. The shell then deletes the file and its key.
    pub fn wipe_data(&self) -> Result<()> {
        self.write(|c| {
            c.tx.execute_batch(
                "DELETE FROM photos; DELETE FROM records; DELETE FROM fixes; DELETE FROM walk_tracks; DELETE FROM walks;
                 DELETE FROM boundaries; DELETE FROM meta;",
            )?;
            Ok(())
        })?;
        {
            let w = super::lock(&self.writer);
            w.conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        }
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.identity = None;
        st.places = super::Places::Absent;
        st.taxonomy = std::sync::Arc::new(crate::taxonomy::Taxonomy::default_taxonomy());
        st.settings = super::Settings::default();
        Ok(())
    }
}
