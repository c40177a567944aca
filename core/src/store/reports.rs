//! Reports from what this phone holds: a walk's report and map, the street tactics of a period.

use rusqlite::Connection;

use super::records::{bytes_at, str_at};
use super::walks::{load_walk, WALK_COLUMNS};
use super::{PageRequest, Store};
use crate::error::Result;
use crate::id::WalkId;
use crate::record::RecordKind;
use crate::report::{Noted, NotedBody, StreetTactics, WalkReport};
use crate::review::Review;
use crate::time::Moment;
use crate::walk::Walk;

/// How close a signal must lie to something noted before to count as "at a place noted
/// before", in metres.
pub const NOTED_BEFORE_RADIUS_M: f64 = 50.0;

/// A walk's live records as a report reads them: only the columns it needs, the body decoded
/// by its stored kind from the row's bytes without its free texts, no sync metadata (a report of a walk with
/// thousands of records is mostly this read; `docs/benchmarks.md`).
fn walk_records(conn: &Connection, walk: &WalkId) -> Result<Vec<Noted>> {
    let mut st = conn.prepare_cached(
        "SELECT id, kind, created_ms, created_offset_s, location, lat, lon, buurt, body, reviewed_ms, review
         FROM records WHERE walk_id = ?1 AND deleted = 0 ORDER BY created_ms, id",
    )?;
    let mut rows = st.query([walk])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let kind = RecordKind::parse(str_at(r, 1)?)?;
        let body = NotedBody::from_stored_bytes(kind, bytes_at(r, 8)?)?;
        let review = match bytes_at(r, 10)? {
            b"{}" => Review::default(),
            other => serde_json::from_slice(other)?,
        };
        let point = match str_at(r, 4)? {
            "fix" | "inherited" => Some((r.get(5)?, r.get(6)?)),
            _ => None,
        };
        out.push(Noted {
            id: r.get(0)?,
            created: Moment { utc_ms: r.get(2)?, offset_s: r.get(3)? },
            body,
            point,
            buurt: r.get(7)?,
            review,
            reviewed_ms: r.get(9)?,
        });
    }
    Ok(out)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// The report of a walk, from what this phone holds of it.
    pub fn walk_report(&self, id: &WalkId) -> Result<WalkReport> {
        self.guard()?;
        let taxonomy = self.taxonomy();
        self.read(|c| {
            let walk = load_walk(c, id)?;
            Ok(WalkReport::of_noted(&walk, walk_records(c, id)?, &taxonomy, now_ms()))
        })
    }

    /// A walk on a map: its simplified track (the good fixes so far, while it is active) and
    /// its located records, as GeoJSON.
    pub fn walk_map(&self, id: &WalkId) -> Result<serde_json::Value> {
        self.guard()?;
        let report = self.walk_report(id)?;
        Ok(report.map_features(&self.walk_track(id)?))
    }

    /// The street tactics of the walks started in `[from_ms, to_ms]` that this phone holds. A
    /// signal counts as at a place noted before when something was noted within
    /// [`NOTED_BEFORE_RADIUS_M`] of it earlier.
    pub fn street_tactics(&self, from_ms: i64, to_ms: i64) -> Result<StreetTactics> {
        self.guard()?;
        let taxonomy = self.taxonomy();
        let reports = self.read(|c| {
            let sql =
                format!("SELECT {WALK_COLUMNS} FROM walks WHERE started_ms BETWEEN ?1 AND ?2 ORDER BY started_ms");
            let mut st = c.prepare(&sql)?;
            let mut rows = st.query([from_ms, to_ms])?;
            let mut walks: Vec<Walk> = Vec::new();
            while let Some(r) = rows.next()? {
                walks.push(super::walks::walk_from_row(r)?);
            }
            let now = now_ms();
            walks
                .iter()
                .map(|w| Ok(WalkReport::of_noted(w, walk_records(c, &w.id)?, &taxonomy, now)))
                .collect::<Result<Vec<_>>>()
        })?;
        let mut failed = None;
        let tactics = StreetTactics::of(&reports, |s| {
            let Some((lat, lon)) = s.point else { return false };
            let earlier = self.records_near(
                lat,
                lon,
                NOTED_BEFORE_RADIUS_M,
                crate::time::EARLIEST_MS,
                s.at.utc_ms - 1,
                &PageRequest::first(1),
            );
            match earlier {
                Ok(page) => !page.items.is_empty(),
                Err(e) => {
                    failed.get_or_insert(e);
                    false
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(tactics),
        }
    }
}
