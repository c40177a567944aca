//! Reports from what this phone holds: a walk's report and map, the street tactics of a period.

use rusqlite::Connection;

use super::records::{record_from_row, RECORD_COLUMNS};
use super::walks::{load_walk, WALK_COLUMNS};
use super::{PageRequest, Store};
use crate::error::Result;
use crate::id::WalkId;
use crate::record::Record;
use crate::report::{StreetTactics, WalkReport};
use crate::walk::Walk;

/// How close a signal must lie to something noted before to count as "at a place noted
/// before", in metres.
pub const NOTED_BEFORE_RADIUS_M: f64 = 50.0;

fn walk_records(conn: &Connection, walk: &WalkId) -> Result<Vec<Record>> {
    let sql =
        format!("SELECT {RECORD_COLUMNS} FROM records WHERE walk_id = ?1 AND deleted = 0 ORDER BY created_ms, id");
    let mut st = conn.prepare_cached(&sql)?;
    let mut rows = st.query([walk])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(record_from_row(r)?);
    }
    Ok(out)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// The report of a walk, from what this phone holds of it.
    pub fn walk_report(&self, id: &WalkId) -> Result<WalkReport> {
        let taxonomy = self.taxonomy();
        self.read(|c| {
            let walk = load_walk(c, id)?;
            Ok(WalkReport::of(&walk, &walk_records(c, id)?, &taxonomy, now_ms()))
        })
    }

    /// A walk on a map: its simplified track (the good fixes so far, while it is active) and
    /// its located records, as GeoJSON.
    pub fn walk_map(&self, id: &WalkId) -> Result<serde_json::Value> {
        let report = self.walk_report(id)?;
        Ok(report.map_features(&self.walk_track(id)?))
    }

    /// The street tactics of the walks started in `[from_ms, to_ms]` that this phone holds. A
    /// signal counts as at a place noted before when something was noted within
    /// [`NOTED_BEFORE_RADIUS_M`] of it earlier.
    pub fn street_tactics(&self, from_ms: i64, to_ms: i64) -> Result<StreetTactics> {
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
                .map(|w| Ok(WalkReport::of(w, &walk_records(c, &w.id)?, &taxonomy, now)))
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
