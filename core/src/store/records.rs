//! Observations, conversations and signals: create, edit, delete (tombstone), review.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Connection, Row, Statement};

use super::walks::{last_fixes, load_walk};
use super::Store;
use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::{MemberId, RecordId, WalkId};
use crate::location::{Location, LocationSource, RecordLocation};
use crate::neighbourhood::Neighbourhoods;
use crate::record::{NewRecord, Record, RecordBody, RecordKind};
use crate::review::Review;
use crate::taxonomy::Taxonomy;
use crate::track::Fix;
use crate::walk::WalkStatus;

/// Most records in one batch call.
pub const MAX_RECORD_BATCH: usize = 100_000;

pub(crate) const RECORD_COLUMNS: &str = "id, walk_id, kind, author_id, created_ms, created_offset_s, location, \
     lat, lon, accuracy_m, fix_ms, source, buurt, wijk, body, hlc, reviewed_ms, pending, review";

/// A text column borrowed from the row (no copy).
pub(crate) fn str_at<'a>(r: &'a Row, i: usize) -> rusqlite::Result<&'a str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// A text column's bytes borrowed from the row, for a parser that checks the UTF-8 itself.
pub(crate) fn bytes_at<'a>(r: &'a Row, i: usize) -> rusqlite::Result<&'a [u8]> {
    r.get_ref(i)?
        .as_bytes()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// A record from a row of [`RECORD_COLUMNS`]. Reports read thousands at once, so the texts
/// are borrowed, not copied, and the body is decoded by its stored kind (see
/// [`RecordBody::from_stored_json`]).
pub(crate) fn record_from_row(r: &Row) -> Result<Record> {
    let kind = RecordKind::parse(str_at(r, 2)?)?;
    let point = || -> Result<Location> {
        Ok(Location {
            lat: r.get(7)?,
            lon: r.get(8)?,
            accuracy_m: r.get(9)?,
            fix_ms: r.get(10)?,
            source: LocationSource::parse(str_at(r, 11)?)
                .ok_or_else(|| Error::invalid("location source", "unknown value in store"))?,
        })
    };
    let location = match str_at(r, 6)? {
        "fix" => RecordLocation::Fix(point()?),
        "inherited" => RecordLocation::Inherited(point()?),
        _ => RecordLocation::None,
    };
    let body = RecordBody::from_stored_json(kind, str_at(r, 14)?)?;
    if body.kind() != kind {
        return Err(Error::invalid("record kind", "body does not match the stored kind"));
    }
    let review = match str_at(r, 18)? {
        "{}" => Review::default(),
        other => serde_json::from_str(other)?,
    };
    Ok(Record {
        id: r.get(0)?,
        walk_id: r.get(1)?,
        author_id: r.get(3)?,
        body,
        created: crate::time::Moment { utc_ms: r.get(4)?, offset_s: r.get(5)? },
        location,
        buurt: r.get(12)?,
        wijk: r.get(13)?,
        hlc: str_at(r, 15)?.parse()?,
        reviewed_ms: r.get(16)?,
        pending_sync: r.get(17)?,
        review,
    })
}

pub(crate) fn load_record(conn: &Connection, id: &RecordId) -> Result<Record> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE id = ?1 AND deleted = 0");
    let mut st = conn.prepare_cached(&sql)?;
    let mut rows = st.query([id])?;
    match rows.next()? {
        Some(r) => record_from_row(r),
        None => Err(Error::NotFound("record")),
    }
}

fn validate_new(r: &NewRecord, taxonomy: &Taxonomy) -> Result<()> {
    r.created.validate("record time")?;
    if let Some(l) = &r.location {
        l.validate()?;
    }
    r.body.validate(taxonomy)?;
    taxonomy.check_added(r.body.codes(), &[])
}

/// Fills in the location (the walk's last good fix indoors) and the buurt.
fn place_record(
    location: Option<Location>,
    inherited: Option<&Fix>,
    places: Option<&Neighbourhoods>,
) -> (RecordLocation, Option<String>, Option<String>) {
    let loc = match (location, inherited) {
        (Some(l), _) => RecordLocation::Fix(l),
        (None, Some(f)) => RecordLocation::Inherited(Location {
            lat: f.lat,
            lon: f.lon,
            accuracy_m: f.accuracy_m,
            fix_ms: f.at_ms,
            source: f.source,
        }),
        (None, None) => RecordLocation::None,
    };
    let place = loc.point().and_then(|p| places.and_then(|n| n.locate(p.lat, p.lon)));
    (loc, place.map(|p| p.buurt_code.clone()), place.and_then(|p| p.wijk_code.clone()))
}

struct Insert<'a> {
    id: RecordId,
    new: &'a NewRecord,
    author: MemberId,
    location: RecordLocation,
    buurt: Option<String>,
    wijk: Option<String>,
    sensitive: bool,
    hlc: Hlc,
}

const INSERT_SQL: &str = "INSERT INTO records (id, walk_id, kind, author_id, created_ms, created_offset_s, location,
         lat, lon, accuracy_m, fix_ms, source, buurt, wijk, sensitive, body, hlc)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

fn insert(st: &mut Statement, i: &Insert) -> Result<()> {
    let p = i.location.point();
    let loc_kind = match i.location {
        RecordLocation::Fix(_) => "fix",
        RecordLocation::Inherited(_) => "inherited",
        RecordLocation::None => "none",
    };
    st.execute(params![
        i.id,
        i.new.walk_id,
        i.new.body.kind().as_str(),
        i.author,
        i.new.created.utc_ms,
        i.new.created.offset_s,
        loc_kind,
        p.map(|l| l.lat),
        p.map(|l| l.lon),
        p.map(|l| l.accuracy_m),
        p.map(|l| l.fix_ms),
        p.map(|l| l.source.as_str()),
        i.buurt,
        i.wijk,
        i.sensitive,
        serde_json::to_string(&i.new.body)?,
        i.hlc.to_string(),
    ])?;
    Ok(())
}

/// Top-level fields of two bodies of the same kind that differ, by name.
fn changed_fields(old: &RecordBody, new: &RecordBody) -> Result<Vec<String>> {
    let (a, b) = (serde_json::to_value(old)?, serde_json::to_value(new)?);
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Ok(vec!["body".into()]);
    };
    Ok(b.iter().filter(|(k, v)| a.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect())
}

impl Store {
    /// Notes one observation, conversation or signal on an active walk, as one transaction.
    pub fn add_record(&self, new: NewRecord) -> Result<Record> {
        self.guard()?;
        let ids = self.add_records(std::slice::from_ref(&new))?;
        self.read(|c| load_record(c, &ids[0]))
    }

    /// Notes many records in one transaction: all are stored, or none (the error names the
    /// first bad one by position). For imports and the bindings' batch calls.
    pub fn add_records(&self, batch: &[NewRecord]) -> Result<Vec<RecordId>> {
        self.guard()?;
        if batch.len() > MAX_RECORD_BATCH {
            return Err(Error::invalid("records", format!("more than {MAX_RECORD_BATCH} in one batch")));
        }
        let me = self.require_identity()?;
        let taxonomy = self.taxonomy();
        for (i, r) in batch.iter().enumerate() {
            validate_new(r, &taxonomy).map_err(|e| match e {
                Error::Invalid { field, rule } if batch.len() > 1 => {
                    Error::invalid("record", format!("#{i}: {field} {rule}"))
                }
                other => other,
            })?;
        }
        let places = self.neighbourhoods()?;
        self.write(|c| {
            // Walk checks and indoor fallback fixes, once per walk in the batch.
            let mut walks: HashMap<WalkId, Option<Fix>> = HashMap::new();
            let mut ids = Vec::with_capacity(batch.len());
            // Clock values first: the prepared statement borrows the transaction below.
            let hlcs: Vec<Hlc> = batch.iter().map(|_| c.tick()).collect();
            let mut st = c.tx.prepare_cached(INSERT_SQL)?;
            for (new, hlc) in batch.iter().zip(hlcs) {
                let fallback = match walks.entry(new.walk_id) {
                    Entry::Occupied(e) => *e.get(),
                    Entry::Vacant(e) => {
                        let walk = load_walk(&c.tx, &new.walk_id)?;
                        if walk.status != WalkStatus::Active {
                            return Err(Error::WalkState { status: walk.status.as_str(), action: "add records" });
                        }
                        if walk.author_id != me.member.id {
                            return Err(Error::NotAuthor);
                        }
                        let indoors = batch.iter().any(|r| r.walk_id == new.walk_id && r.location.is_none());
                        *e.insert(if indoors { last_fixes(&c.tx, &new.walk_id)?.0 } else { None })
                    }
                };
                let (location, buurt, wijk) = place_record(new.location, fallback.as_ref(), places.as_deref());
                let id = RecordId::new();
                let sensitive = new.body.is_sensitive(&taxonomy);
                insert(&mut st, &Insert { id, new, author: me.member.id, location, buurt, wijk, sensitive, hlc })?;
                ids.push(id);
            }
            Ok(ids)
        })
    }

    /// Changes a record's content and optionally its location. Only the author may, and only
    /// until a lead reviewed it. Fields that changed get the new clock value (for sync's
    /// per-field merge); an edit that changes nothing changes nothing.
    pub fn edit_record(&self, id: &RecordId, body: RecordBody, location: Option<Location>) -> Result<Record> {
        self.guard()?;
        let me = self.require_identity()?;
        let taxonomy = self.taxonomy();
        body.validate(&taxonomy)?;
        if let Some(l) = &location {
            l.validate()?;
        }
        let places = self.neighbourhoods()?;
        self.write(|c| {
            let old = load_record(&c.tx, id)?;
            taxonomy.check_added(body.codes(), &old.body.codes())?;
            if old.author_id != me.member.id {
                return Err(Error::NotAuthor);
            }
            if old.review.freezes_content(old.reviewed_ms) {
                return Err(Error::Reviewed);
            }
            if old.body.kind() != body.kind() {
                return Err(Error::invalid("record kind", "an edit cannot change the kind of record"));
            }
            let mut fields = changed_fields(&old.body, &body)?;
            let new_location = location.filter(|l| old.location.point() != Some(l));
            if new_location.is_some() {
                fields.push("location".into());
            }
            if fields.is_empty() {
                return Ok(old);
            }
            let hlc = c.tick();
            let mut clocks: BTreeMap<String, Hlc> =
                c.tx.prepare_cached("SELECT field_clocks FROM records WHERE id = ?1")?
                    .query_row([id], |r| r.get::<_, String>(0))
                    .map(|s| serde_json::from_str(&s).unwrap_or_default())?;
            for f in fields {
                clocks.insert(f, hlc);
            }
            c.tx.prepare_cached(
                "UPDATE records SET body = ?2, hlc = ?3, field_clocks = ?4, sensitive = ?5, pending = 1 WHERE id = ?1",
            )?
            .execute(params![
                id,
                serde_json::to_string(&body)?,
                hlc.to_string(),
                serde_json::to_string(&clocks)?,
                body.is_sensitive(&taxonomy)
            ])?;
            if let Some(l) = new_location {
                let (_, buurt, wijk) = place_record(Some(l), None, places.as_deref());
                c.tx.prepare_cached(
                    "UPDATE records SET location = 'fix', lat = ?2, lon = ?3, accuracy_m = ?4, fix_ms = ?5, source = ?6,
                         buurt = ?7, wijk = ?8 WHERE id = ?1",
                )?
                .execute(params![id, l.lat, l.lon, l.accuracy_m, l.fix_ms, l.source.as_str(), buurt, wijk])?;
            }
            load_record(&c.tx, id)
        })
    }

    /// Deletes a record, leaving a tombstone for sync: its content and location are erased,
    /// only the id, kind, walk, author and time remain.
    pub fn delete_record(&self, id: &RecordId) -> Result<()> {
        self.guard()?;
        let me = self.require_identity()?;
        self.write(|c| {
            let old = load_record(&c.tx, id)?;
            if old.author_id != me.member.id {
                return Err(Error::NotAuthor);
            }
            if old.review.freezes_content(old.reviewed_ms) {
                return Err(Error::Reviewed);
            }
            let hlc = c.tick();
            c.tx.prepare_cached(
                "UPDATE records SET deleted = 1, body = NULL, location = 'none', lat = NULL, lon = NULL,
                     accuracy_m = NULL, fix_ms = NULL, source = NULL, buurt = NULL, wijk = NULL,
                     hlc = ?2, field_clocks = '{}', pending = 1 WHERE id = ?1",
            )?
            .execute((id, hlc.to_string()))?;
            Ok(())
        })
    }

    pub fn record(&self, id: &RecordId) -> Result<Record> {
        self.guard()?;
        self.read(|c| load_record(c, id))
    }

    /// How many records (not deleted) and tombstones the store holds.
    pub fn record_counts(&self) -> Result<(u64, u64)> {
        self.guard()?;
        self.read(|c| {
            Ok(c.query_row("SELECT count(*) - total(deleted), total(deleted) FROM records", [], |r| {
                Ok((r.get::<_, f64>(0)? as u64, r.get::<_, f64>(1)? as u64))
            })?)
        })
    }
}
