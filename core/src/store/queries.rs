//! The paged queries the shells need: recent walks, a walk's timeline, latest records,
//! records near a point within a time window, records by buurt.
//!
//! Paging is by keyset (time, id), not by offset: a page stays correct while new records
//! arrive, and page 100 costs what page 1 costs.

use rusqlite::{types::Value, Connection};

use super::records::{record_from_row, RECORD_COLUMNS};
use super::walks::{walk_from_row, WALK_COLUMNS};
use super::Store;
use crate::error::{Error, Result};
use crate::id::WalkId;
use crate::location::{metres_per_degree, validate_point};
use crate::record::Record;
use crate::walk::Walk;

/// Largest page a query returns.
pub const MAX_PAGE: u32 = 500;

/// Which page: at most `limit` items after the `cursor` of the previous page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// `Page::next` of the previous page; `None` for the first.
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self { limit, cursor: None }
    }
}

/// One page of results and the cursor of the next, if there is one.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

struct Cursor {
    ms: i64,
    id: uuid::Uuid,
}

fn parse_cursor(page: &PageRequest) -> Result<Option<Cursor>> {
    if page.limit == 0 || page.limit > MAX_PAGE {
        return Err(Error::invalid("page size", format!("must be 1..{MAX_PAGE}")));
    }
    let Some(c) = &page.cursor else {
        return Ok(None);
    };
    let bad = || Error::invalid("cursor", "not a cursor from a previous page");
    let (ms, id) = c.split_once('/').ok_or_else(bad)?;
    let ms = ms.parse().map_err(|_| bad())?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok(Some(Cursor { ms, id }))
}

/// Records within a radius: the latitude bands (`records_by_band`) narrow the search, then
/// the equirectangular distance decides — exact enough within 50 km. (`+created_ms` keeps the
/// planner off the time index: a place is narrower than "all time".)
const NEAR_FILTER: &str = "CAST(lat * 100 AS INTEGER) BETWEEN ?1 AND ?2 AND lat IS NOT NULL
     AND lat BETWEEN ?3 AND ?4 AND deleted = 0 AND +created_ms BETWEEN ?5 AND ?6
     AND ((lat - ?7) * ?8) * ((lat - ?7) * ?8) + ((lon - ?9) * ?10) * ((lon - ?9) * ?10) <= ?11";

/// Descending or ascending order in time.
#[derive(Clone, Copy)]
enum Order {
    Newest,
    Oldest,
}

/// A listing: `SELECT .. WHERE ..`, paged by a time column and the id (the keyset).
struct Query {
    select: String,
    args: Vec<Value>,
    time_col: &'static str,
    order: Order,
}

impl Query {
    fn records(filter: &str, args: Vec<Value>, order: Order) -> Self {
        Query {
            select: format!("SELECT {RECORD_COLUMNS} FROM records WHERE {filter}"),
            args,
            time_col: "created_ms",
            order,
        }
    }

    /// One page: the rows after the cursor, plus one more to learn whether a next page exists.
    fn page<T>(
        mut self,
        conn: &Connection,
        page: &PageRequest,
        map: impl Fn(&rusqlite::Row) -> Result<T>,
        key: impl Fn(&T) -> (i64, String),
    ) -> Result<Page<T>> {
        let cursor = parse_cursor(page)?;
        let (cmp, dir) = match self.order {
            Order::Newest => ("<", "DESC"),
            Order::Oldest => (">", "ASC"),
        };
        let time_col = self.time_col;
        let mut sql = self.select;
        if let Some(c) = cursor {
            let n = self.args.len();
            sql.push_str(&format!(" AND ({time_col}, id) {cmp} (?{}, ?{})", n + 1, n + 2));
            self.args.push(Value::Integer(c.ms));
            self.args.push(Value::Blob(c.id.as_bytes().to_vec()));
        }
        sql.push_str(&format!(" ORDER BY {time_col} {dir}, id {dir} LIMIT {}", page.limit + 1));
        let mut st = conn.prepare_cached(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(self.args))?;
        let mut items = Vec::new();
        while let Some(r) = rows.next()? {
            items.push(map(r)?);
        }
        let next = if items.len() > page.limit as usize {
            items.truncate(page.limit as usize);
            items.last().map(|last| {
                let (ms, id) = key(last);
                format!("{ms}/{id}")
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn record_page(self, conn: &Connection, page: &PageRequest) -> Result<Page<Record>> {
        self.page(conn, page, record_from_row, record_key)
    }
}

fn record_key(r: &Record) -> (i64, String) {
    (r.created.utc_ms, r.id.to_string())
}

impl Store {
    /// Walks on this phone, newest first.
    pub fn recent_walks(&self, page: &PageRequest) -> Result<Page<Walk>> {
        self.guard()?;
        let q = Query {
            select: format!("SELECT {WALK_COLUMNS} FROM walks WHERE 1"),
            args: vec![],
            time_col: "started_ms",
            order: Order::Newest,
        };
        self.read(|c| q.page(c, page, walk_from_row, |w| (w.started.utc_ms, w.id.to_string())))
    }

    /// A walk's records in the order they were made.
    pub fn walk_timeline(&self, walk: &WalkId, page: &PageRequest) -> Result<Page<Record>> {
        self.guard()?;
        let q = Query::records(
            "walk_id = ?1 AND deleted = 0",
            vec![Value::Blob(walk.as_uuid().as_bytes().to_vec())],
            Order::Oldest,
        );
        self.read(|c| q.record_page(c, page))
    }

    /// The latest records of every walk on this phone, newest first.
    pub fn latest_records(&self, page: &PageRequest) -> Result<Page<Record>> {
        self.guard()?;
        let q = Query::records("deleted = 0", vec![], Order::Newest);
        self.read(|c| q.record_page(c, page))
    }

    /// Records in a buurt (by CBS code), newest first.
    pub fn records_in_buurt(&self, buurt_code: &str, page: &PageRequest) -> Result<Page<Record>> {
        self.guard()?;
        crate::text::check("buurt code", buurt_code, 64)?;
        let q = Query::records("buurt = ?1 AND deleted = 0", vec![Value::Text(buurt_code.to_string())], Order::Newest);
        self.read(|c| q.record_page(c, page))
    }

    /// "What did my team note here before?": records within `radius_m` of a point, made in
    /// `[from_ms, to_ms]`, newest first.
    pub fn records_near(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        from_ms: i64,
        to_ms: i64,
        page: &PageRequest,
    ) -> Result<Page<Record>> {
        self.guard()?;
        validate_point(lat, lon)?;
        if !radius_m.is_finite() || !(0.0..=50_000.0).contains(&radius_m) {
            return Err(Error::invalid("radius", "must be 0..50000 metres"));
        }
        if from_ms > to_ms {
            return Err(Error::invalid("time window", "starts after it ends"));
        }
        let (my, mx) = metres_per_degree(lat);
        let dlat = radius_m / my;
        let band = |l: f64| (l * 100.0) as i64; // as SQLite's CAST: towards zero, monotonic
        let args = vec![
            Value::Integer(band(lat - dlat)),
            Value::Integer(band(lat + dlat)),
            Value::Real(lat - dlat),
            Value::Real(lat + dlat),
            Value::Integer(from_ms),
            Value::Integer(to_ms),
            Value::Real(lat),
            Value::Real(my),
            Value::Real(lon),
            Value::Real(mx),
            Value::Real(radius_m * radius_m),
        ];
        let q = Query::records(NEAR_FILTER, args, Order::Newest);
        self.read(|c| q.record_page(c, page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_near_searches_the_latitude_bands() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db"), crate::store::Encryption::PlaintextForTestsOnly).unwrap();
        let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM records WHERE {NEAR_FILTER} ORDER BY created_ms DESC");
        let plan: Vec<String> = store
            .read(|c| {
                let mut st = c.prepare(&sql)?;
                let args = [0.0f64; 11];
                let rows = st.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .unwrap();
        assert!(plan.iter().any(|p| p.contains("records_by_band")), "{plan:?}");
    }
}
