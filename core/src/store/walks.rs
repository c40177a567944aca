//! Walk lifecycle: start, pause, resume, fixes, end (with summary and simplified track), submit.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{Change, Store};
use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::WalkId;
use crate::location::LocationSource;
use crate::sync::codec;
use crate::track::{self, flags, Fix, TrackPoint};
use crate::walk::{Debrief, NewWalk, Pause, Walk, WalkDetails, WalkStatus, WalkSummary};

/// Most fixes in one batch (a phone sends one every ten seconds or so).
pub const MAX_FIX_BATCH: usize = 10_000;

/// What happened to a batch of fixes: all stored, some flagged as implausible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixReport {
    pub stored: u32,
    pub flagged: u32,
}

pub(crate) const WALK_COLUMNS: &str = "id, author_id, status, started_ms, started_offset_s, ended_ms, ended_offset_s, \
     details, pauses, summary, buurten, hlc, reviewed_ms, pending, review, debrief";
/// How many columns [`WALK_COLUMNS`] has (what follows it in a query starts here).
pub(crate) const WALK_COLUMN_COUNT: usize = 16;

pub(crate) fn walk_from_row(r: &Row) -> Result<Walk> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let ended_ms: Option<i64> = r.get(5)?;
    let ended_offset: Option<i32> = r.get(6)?;
    let summary: Option<String> = r.get(9)?;
    Ok(Walk {
        id: r.get(0)?,
        author_id: r.get(1)?,
        status: WalkStatus::parse(&text(2)?)?,
        started: crate::time::Moment { utc_ms: r.get(3)?, offset_s: r.get(4)? },
        ended: ended_ms.map(|ms| crate::time::Moment { utc_ms: ms, offset_s: ended_offset.unwrap_or(0) }),
        details: serde_json::from_str(&text(7)?)?,
        pauses: serde_json::from_str(&text(8)?)?,
        summary: summary.map(|s| serde_json::from_str(&s)).transpose()?,
        buurten: serde_json::from_str(&text(10)?)?,
        hlc: text(11)?.parse()?,
        reviewed_ms: r.get(12)?,
        pending_sync: r.get(13)?,
        review: serde_json::from_str(&text(14)?)?,
        debrief: r.get::<_, Option<String>>(15)?.map(|d| serde_json::from_str(&d)).transpose()?,
    })
}

pub(crate) fn load_walk(conn: &Connection, id: &WalkId) -> Result<Walk> {
    let sql = format!("SELECT {WALK_COLUMNS} FROM walks WHERE id = ?1");
    let mut st = conn.prepare_cached(&sql)?;
    let mut rows = st.query([id])?;
    match rows.next()? {
        Some(r) => walk_from_row(r),
        None => Err(Error::NotFound("walk")),
    }
}

fn require_active(walk: &Walk, action: &'static str) -> Result<()> {
    if walk.status != WalkStatus::Active {
        return Err(Error::WalkState { status: walk.status.as_str(), action });
    }
    Ok(())
}

/// The last fix of a walk that is not flagged, and the time of the last fix of any kind.
pub(crate) fn last_fixes(conn: &Connection, walk: &WalkId) -> Result<(Option<Fix>, Option<i64>)> {
    let good = conn
        .prepare_cached(
            "SELECT at_ms, lat, lon, accuracy_m, source FROM fixes
             WHERE walk_id = ?1 AND flags = 0 ORDER BY at_ms DESC LIMIT 1",
        )?
        .query_row([walk], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?)))
        .optional()?
        .map(|(at_ms, lat, lon, accuracy_m, source)| Fix {
            at_ms,
            lat,
            lon,
            accuracy_m,
            source: LocationSource::parse(&source).unwrap_or(LocationSource::Gps),
        });
    let last_at: Option<i64> =
        conn.prepare_cached("SELECT max(at_ms) FROM fixes WHERE walk_id = ?1")?.query_row([walk], |r| r.get(0))?;
    Ok((good, last_at))
}

/// Metres along good fixes within the walking stretches: a gap across a pause is not walked.
fn walked_m(good: &[TrackPoint], intervals: &[(i64, i64)]) -> f64 {
    intervals
        .iter()
        .map(|(a, b)| {
            let lo = good.partition_point(|p| p.at_ms < *a);
            let hi = good.partition_point(|p| p.at_ms <= *b);
            track::length_m(&good[lo..hi.max(lo)])
        })
        .sum()
}

/// Writes a walk's new state; every sync field that differs from `before` gets this change's
/// clock (the track, kept apart, when `track_changed`). Stamping by difference, not by a list
/// each action keeps, means no changed field can go out under an old clock.
fn save_walk_state(c: &mut Change, before: &Walk, walk: &Walk, track_changed: bool) -> Result<()> {
    let (old, new) = (codec::walk_fields(before, None)?, codec::walk_fields(walk, None)?);
    let mut fields: Vec<&str> = new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).map(|(k, _)| k.as_str()).collect();
    if track_changed {
        fields.push("track");
    }
    if fields.is_empty() {
        return Ok(());
    }
    let hlc = c.tick();
    let mut clocks: BTreeMap<String, Hlc> =
        c.tx.prepare_cached("SELECT field_clocks FROM walks WHERE id = ?1")?
            .query_row([walk.id], |r| r.get::<_, String>(0))
            .map(|s| serde_json::from_str(&s).unwrap_or_default())?;
    for f in fields {
        clocks.insert(f.to_string(), hlc);
    }
    c.tx.prepare_cached(
        "UPDATE walks SET status = ?2, ended_ms = ?3, ended_offset_s = ?4, details = ?5, pauses = ?6,
             summary = ?7, buurten = ?8, hlc = ?9, field_clocks = ?10, debrief = ?11, pending = 1 WHERE id = ?1",
    )?
    .execute(params![
        walk.id,
        walk.status.as_str(),
        walk.ended.map(|m| m.utc_ms),
        walk.ended.map(|m| m.offset_s),
        serde_json::to_string(&walk.details)?,
        serde_json::to_string(&walk.pauses)?,
        walk.summary.as_ref().map(serde_json::to_string).transpose()?,
        serde_json::to_string(&walk.buurten)?,
        hlc.to_string(),
        serde_json::to_string(&clocks)?,
        walk.debrief.as_ref().map(serde_json::to_string).transpose()?,
    ])?;
    Ok(())
}

/// A walk of this phone's member: only its author changes a walk.
fn load_own_walk(conn: &Connection, id: &WalkId, me: &crate::member::Identity) -> Result<Walk> {
    let walk = load_walk(conn, id)?;
    if walk.author_id != me.member.id {
        return Err(Error::NotAuthor);
    }
    Ok(walk)
}

impl Store {
    /// Starts a walk. Only one walk can be active on a phone at a time.
    pub fn start_walk(&self, new: NewWalk) -> Result<Walk> {
        self.guard()?;
        let me = self.require_identity()?;
        new.started.validate("start time")?;
        let details = WalkDetails { participants: new.participants, purpose: new.purpose, focus: new.focus };
        let taxonomy = self.taxonomy();
        details.validate(&taxonomy)?;
        taxonomy.check_added(details.codes(), &[])?;
        let id = WalkId::new();
        self.write(|c| {
            let active: Option<WalkId> =
                c.tx.query_row(
                    "SELECT id FROM walks WHERE status = 'active' AND author_id = ?1 LIMIT 1",
                    [me.member.id],
                    |r| r.get(0),
                )
                .optional()?;
            if active.is_some() {
                return Err(Error::WalkState { status: "active", action: "start another walk while one is active" });
            }
            let hlc = c.tick();
            c.tx.execute(
                "INSERT INTO walks (id, author_id, status, started_ms, started_offset_s, details, hlc)
                 VALUES (?1, ?2, 'active', ?3, ?4, ?5, ?6)",
                params![
                    id,
                    me.member.id,
                    new.started.utc_ms,
                    new.started.offset_s,
                    serde_json::to_string(&details)?,
                    hlc.to_string()
                ],
            )?;
            load_walk(&c.tx, &id)
        })
    }

    /// Changes who walks, the purpose and the focus; allowed until the walk is reviewed.
    pub fn update_walk_details(&self, id: &WalkId, details: WalkDetails) -> Result<Walk> {
        self.guard()?;
        let taxonomy = self.taxonomy();
        details.validate(&taxonomy)?;
        let me = self.require_identity()?;
        self.write(|c| {
            let before = load_own_walk(&c.tx, id, &me)?;
            taxonomy.check_added(details.codes(), &before.details.codes())?;
            if before.reviewed_ms.is_some() {
                return Err(Error::Reviewed);
            }
            let walk = Walk { details, ..before.clone() };
            save_walk_state(c, &before, &walk, false)?;
            load_walk(&c.tx, id)
        })
    }

    /// The walker looks back on a walk that ended: which logic dominated, and a note. Allowed
    /// (and changeable) until a lead reviews the walk.
    pub fn debrief_walk(&self, id: &WalkId, debrief: Debrief) -> Result<Walk> {
        self.guard()?;
        debrief.validate()?;
        let me = self.require_identity()?;
        self.write(|c| {
            let before = load_own_walk(&c.tx, id, &me)?;
            if before.status == WalkStatus::Active {
                return Err(Error::WalkState { status: "active", action: "look back on it before it ends" });
            }
            if before.reviewed_ms.is_some() {
                return Err(Error::Reviewed);
            }
            let walk = Walk { debrief: Some(debrief), ..before.clone() };
            save_walk_state(c, &before, &walk, false)?;
            load_walk(&c.tx, id)
        })
    }

    pub fn pause_walk(&self, id: &WalkId, at: crate::time::Moment) -> Result<Walk> {
        self.guard()?;
        at.validate("pause time")?;
        let me = self.require_identity()?;
        self.write(|c| {
            let before = load_own_walk(&c.tx, id, &me)?;
            let mut walk = before.clone();
            require_active(&walk, "pause")?;
            if walk.is_paused() {
                return Err(Error::WalkState { status: "paused", action: "pause again" });
            }
            let floor = walk.pauses.last().and_then(|p| p.until).unwrap_or(walk.started);
            if at.utc_ms < floor.utc_ms {
                return Err(Error::invalid("pause time", "before the walk started or resumed"));
            }
            walk.pauses.push(Pause { from: at, until: None });
            save_walk_state(c, &before, &walk, false)?;
            load_walk(&c.tx, id)
        })
    }

    pub fn resume_walk(&self, id: &WalkId, at: crate::time::Moment) -> Result<Walk> {
        self.guard()?;
        at.validate("resume time")?;
        let me = self.require_identity()?;
        self.write(|c| {
            let before = load_own_walk(&c.tx, id, &me)?;
            let mut walk = before.clone();
            require_active(&walk, "resume")?;
            let pause = match walk.pauses.last_mut() {
                Some(p) if p.until.is_none() => p,
                _ => return Err(Error::WalkState { status: "active", action: "resume a walk that is not paused" }),
            };
            if at.utc_ms < pause.from.utc_ms {
                return Err(Error::invalid("resume time", "before the pause began"));
            }
            pause.until = Some(at);
            save_walk_state(c, &before, &walk, false)?;
            load_walk(&c.tx, id)
        })
    }

    /// Adds a batch of GPS fixes to an active walk. Every fix is stored; implausible ones are
    /// flagged (see [`crate::track::flags`]). A batch with an invalid value (NaN, out of range)
    /// is refused whole, naming the fix, and nothing of it is stored.
    pub fn add_fixes(&self, id: &WalkId, fixes: &[Fix]) -> Result<FixReport> {
        self.guard()?;
        if fixes.len() > MAX_FIX_BATCH {
            return Err(Error::invalid("fixes", format!("more than {MAX_FIX_BATCH} in one batch")));
        }
        for (i, f) in fixes.iter().enumerate() {
            f.validate().map_err(|e| match e {
                Error::Invalid { field, rule } => Error::invalid("fix", format!("#{i}: {field} {rule}")),
                other => other,
            })?;
        }
        let settings = self.settings().track;
        self.write(|c| {
            let walk = load_walk(&c.tx, id)?;
            require_active(&walk, "add fixes")?;
            let (mut good, mut last_at) = last_fixes(&c.tx, id)?;
            let mut report = FixReport { stored: 0, flagged: 0 };
            let mut st = c.tx.prepare_cached(
                "INSERT INTO fixes (walk_id, at_ms, lat, lon, accuracy_m, source, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for f in fixes {
                let mut fl = track::assess(f, good.as_ref(), last_at, &settings);
                if f.at_ms < walk.started.utc_ms || walk.paused_at(f.at_ms) {
                    fl |= flags::PAUSED;
                }
                st.execute(params![id, f.at_ms, f.lat, f.lon, f.accuracy_m, f.source.as_str(), fl])?;
                report.stored += 1;
                if fl == 0 {
                    good = Some(*f);
                } else {
                    report.flagged += 1;
                }
                last_at = Some(last_at.map_or(f.at_ms, |t| t.max(f.at_ms)));
            }
            Ok(report)
        })
    }

    /// Ends a walk: closes an open pause, computes the summary (distance, walking time, share
    /// outside office hours), simplifies the track and tags the buurten it covered.
    pub fn end_walk(&self, id: &WalkId, at: crate::time::Moment) -> Result<Walk> {
        self.guard()?;
        at.validate("end time")?;
        let settings = self.settings();
        let places = self.neighbourhoods()?;
        let me = self.require_identity()?;
        self.write(|c| {
            let before = load_own_walk(&c.tx, id, &me)?;
            let mut walk = before.clone();
            require_active(&walk, "end")?;
            let floor = walk.pauses.last().map(|p| p.until.unwrap_or(p.from)).unwrap_or(walk.started);
            if at.utc_ms < floor.utc_ms {
                return Err(Error::invalid("end time", "before the walk started or last paused"));
            }
            if let Some(p) = walk.pauses.last_mut().filter(|p| p.until.is_none()) {
                p.until = Some(at);
            }
            walk.ended = Some(at);
            walk.status = WalkStatus::Ended;

            let (mut fixes, mut flagged) = (0u32, 0u32);
            let mut good = Vec::new();
            {
                let mut st =
                    c.tx.prepare_cached("SELECT at_ms, lat, lon, flags FROM fixes WHERE walk_id = ?1 ORDER BY at_ms")?;
                let mut rows = st.query([id])?;
                while let Some(r) = rows.next()? {
                    fixes += 1;
                    let (at_ms, fl): (i64, u8) = (r.get(0)?, r.get(3)?);
                    if fl != 0 || at_ms > at.utc_ms {
                        flagged += (fl != 0) as u32;
                        continue;
                    }
                    good.push(TrackPoint { at_ms, lat: r.get(1)?, lon: r.get(2)? });
                }
            }
            let mut buurten = BTreeSet::new();
            if let Some(n) = &places {
                let mut last: Option<&str> = None;
                for p in &good {
                    if let Some(place) = n.locate(p.lat, p.lon) {
                        if last != Some(place.buurt_code.as_str()) {
                            buurten.insert(place.buurt_code.clone());
                            last = Some(place.buurt_code.as_str());
                        }
                    }
                }
            }
            let (records, record_buurten) = {
                let mut st = c.tx.prepare_cached("SELECT buurt FROM records WHERE walk_id = ?1 AND deleted = 0")?;
                let rows: Vec<Option<String>> = st.query_map([id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                (rows.len() as u32, rows.into_iter().flatten().collect::<Vec<_>>())
            };
            buurten.extend(record_buurten);

            let intervals = walk.active_intervals(at.utc_ms);
            let walking_ms: i64 = intervals.iter().map(|(a, b)| b - a).sum();
            let mut outside = 0;
            for (a, b) in &intervals {
                outside += settings.office_hours.outside_ms(*a, *b)?;
            }
            let distance_m = walked_m(&good, &intervals);
            // A track the team can take: simplified harder until it fits the protocol's bound.
            let mut tolerance = settings.track.simplify_tolerance_m;
            let mut simplified = track::simplify(&good, tolerance);
            while simplified.len() > codec::MAX_TRACK_POINTS {
                tolerance *= 2.0;
                simplified = track::simplify(&good, tolerance);
            }
            walk.summary = Some(WalkSummary {
                distance_m,
                walking_ms,
                outside_office_hours_ms: outside,
                outside_office_hours_share: if walking_ms > 0 { outside as f64 / walking_ms as f64 } else { 0.0 },
                fixes,
                flagged_fixes: flagged,
                track_points: simplified.len() as u32,
                records,
            });
            walk.buurten = buurten.into_iter().collect();
            c.tx.prepare_cached("INSERT OR REPLACE INTO walk_tracks (walk_id, points) VALUES (?1, ?2)")?
                .execute((id, serde_json::to_string(&simplified)?))?;
            save_walk_state(c, &before, &walk, true)?;
            load_walk(&c.tx, id)
        })
    }

    /// Hands an ended walk in for review.
    pub fn submit_walk(&self, id: &WalkId) -> Result<Walk> {
        self.guard()?;
        let me = self.require_identity()?;
        self.write(|c| {
            let before = load_own_walk(&c.tx, id, &me)?;
            if before.status != WalkStatus::Ended {
                return Err(Error::WalkState { status: before.status.as_str(), action: "submit (end it first)" });
            }
            let walk = Walk { status: WalkStatus::Submitted, ..before.clone() };
            save_walk_state(c, &before, &walk, false)?;
            load_walk(&c.tx, id)
        })
    }

    pub fn walk(&self, id: &WalkId) -> Result<Walk> {
        self.guard()?;
        self.read(|c| load_walk(c, id))
    }

    /// The walk under way on this phone (the member's own), if any.
    pub fn active_walk(&self) -> Result<Option<Walk>> {
        self.guard()?;
        let Some(me) = self.identity() else { return Ok(None) };
        self.read(|c| {
            let sql = format!("SELECT {WALK_COLUMNS} FROM walks WHERE status = 'active' AND author_id = ?1 LIMIT 1");
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query([me.member.id])?;
            rows.next()?.map(walk_from_row).transpose()
        })
    }

    /// The simplified track of an ended walk, or the good fixes so far of an active one.
    pub fn walk_track(&self, id: &WalkId) -> Result<Vec<TrackPoint>> {
        self.guard()?;
        self.read(|c| {
            let stored: Option<String> = c
                .prepare_cached("SELECT points FROM walk_tracks WHERE walk_id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            if let Some(s) = stored {
                return Ok(serde_json::from_str(&s)?);
            }
            load_walk(c, id)?;
            let mut st =
                c.prepare_cached("SELECT at_ms, lat, lon FROM fixes WHERE walk_id = ?1 AND flags = 0 ORDER BY at_ms")?;
            let pts = st
                .query_map([id], |r| Ok(TrackPoint { at_ms: r.get(0)?, lat: r.get(1)?, lon: r.get(2)? }))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(pts)
        })
    }

    /// The distance walked so far (the walk screen's live figure); the summary's once ended.
    pub fn walk_distance_m(&self, id: &WalkId) -> Result<f64> {
        self.guard()?;
        let walk = self.walk(id)?;
        if let Some(s) = &walk.summary {
            return Ok(s.distance_m);
        }
        let good = self.walk_track(id)?;
        Ok(walked_m(&good, &walk.active_intervals(chrono::Utc::now().timestamp_millis())))
    }

    /// Where the walker was at `at_ms` ("what did we pass at ten past nine?").
    pub fn walk_position_at(&self, id: &WalkId, at_ms: i64) -> Result<Option<(f64, f64)>> {
        self.guard()?;
        Ok(track::position_at(&self.walk_track(id)?, at_ms))
    }
}
