//! Walks and records as sync entities, and back. The store and the team server use the same
//! functions, so both sides read a field the same way and validate it by the same rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::location::RecordLocation;
use crate::record::{Record, RecordBody};
use crate::review::Review;
use crate::sync::wire::{Entity, EntityKind, REVIEW_FIELDS};
use crate::taxonomy::Taxonomy;
use crate::time::Moment;
use crate::track::TrackPoint;
use crate::walk::{Pause, Walk, WalkDetails, WalkStatus, WalkSummary};

/// A record's place as one sync field: the point and the buurt it was tagged with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceField {
    pub at: RecordLocation,
    pub buurt: Option<String>,
    pub wijk: Option<String>,
}

/// The content of a record entity, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordParts {
    pub body: RecordBody,
    /// `body` as JSON, ready to store.
    pub body_json: String,
    pub place: PlaceField,
    pub review: Review,
    pub reviewed_ms: Option<i64>,
}

/// The content of a walk entity, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkParts {
    pub details: WalkDetails,
    pub pauses: Vec<Pause>,
    pub status: WalkStatus,
    pub ended: Option<Moment>,
    pub summary: Option<WalkSummary>,
    pub buurten: Vec<String>,
    pub track: Option<Vec<TrackPoint>>,
    pub review: Review,
    pub reviewed_ms: Option<i64>,
}

const WALK_FIELDS: &[&str] = &[
    "participants",
    "purpose",
    "focus",
    "pauses",
    "status",
    "ended",
    "summary",
    "buurten",
    "track",
    "review_question",
    "review_answer",
    "reviewed_ms",
];

fn review_fields(fields: &mut BTreeMap<String, Value>, review: &Review, reviewed_ms: Option<i64>, signal: bool) {
    if signal {
        fields.insert("review_status".into(), json!(review.status));
        fields.insert("review_referral".into(), json!(review.referral));
    }
    fields.insert("review_question".into(), json!(review.question));
    fields.insert("review_answer".into(), json!(review.answer));
    fields.insert("reviewed_ms".into(), json!(reviewed_ms));
}

fn field<T: serde::de::DeserializeOwned>(e: &Entity, name: &str) -> Result<T> {
    // Deserialise from the borrowed value: no copy of the field.
    Ok(T::deserialize(e.fields.get(name).unwrap_or(&Value::Null))?)
}

fn review_of(e: &Entity) -> Result<(Review, Option<i64>)> {
    Ok((
        Review {
            status: field(e, "review_status")?,
            referral: field(e, "review_referral")?,
            question: field(e, "review_question")?,
            answer: field(e, "review_answer")?,
        },
        field(e, "reviewed_ms")?,
    ))
}

/// The fields of a record (content, place, review).
pub fn record_fields(r: &Record) -> Result<BTreeMap<String, Value>> {
    let mut fields = BTreeMap::new();
    if let Value::Object(body) = serde_json::to_value(&r.body)? {
        fields.extend(body.into_iter().filter(|(k, _)| k != "kind"));
    }
    let place = PlaceField { at: r.location, buurt: r.buurt.clone(), wijk: r.wijk.clone() };
    fields.insert("location".into(), serde_json::to_value(place)?);
    review_fields(&mut fields, &r.review, r.reviewed_ms, matches!(r.body, RecordBody::Signal(_)));
    Ok(fields)
}

/// The fields of a walk, with its simplified track once it ended.
pub fn walk_fields(w: &Walk, track: Option<&[TrackPoint]>) -> Result<BTreeMap<String, Value>> {
    let mut f = BTreeMap::new();
    f.insert("participants".into(), serde_json::to_value(&w.details.participants)?);
    f.insert("purpose".into(), json!(w.details.purpose));
    f.insert("focus".into(), json!(w.details.focus));
    f.insert("pauses".into(), serde_json::to_value(&w.pauses)?);
    f.insert("status".into(), serde_json::to_value(w.status)?);
    f.insert("ended".into(), serde_json::to_value(w.ended)?);
    f.insert("summary".into(), serde_json::to_value(&w.summary)?);
    f.insert("buurten".into(), json!(w.buurten));
    f.insert("track".into(), serde_json::to_value(track)?);
    review_fields(&mut f, &w.review, w.reviewed_ms, false);
    Ok(f)
}

/// Decodes a record entity's fields.
pub fn record_parts(e: &Entity) -> Result<RecordParts> {
    // The content fields, borrowed, with the kind tag: written once as JSON, then read back
    // into the typed body, which is the check that the content is valid.
    let kind = Value::String(e.kind.as_str().into());
    let mut content: BTreeMap<&str, &Value> = BTreeMap::new();
    content.insert("kind", &kind);
    for (k, v) in &e.fields {
        if k != "location" && !REVIEW_FIELDS.contains(&k.as_str()) {
            content.insert(k, v);
        }
    }
    let body_json = serde_json::to_string(&content)?;
    let body: RecordBody = serde_json::from_str(&body_json)?;
    if body.kind().as_str() != e.kind.as_str() {
        return Err(Error::invalid("entity", "content does not match its kind"));
    }
    let (review, reviewed_ms) = review_of(e)?;
    Ok(RecordParts { body, body_json, place: field(e, "location")?, review, reviewed_ms })
}

/// Decodes a walk entity's fields.
pub fn walk_parts(e: &Entity) -> Result<WalkParts> {
    if let Some(k) = e.fields.keys().find(|k| !WALK_FIELDS.contains(&k.as_str())) {
        return Err(Error::invalid("walk", format!("unknown field {k}")));
    }
    let (review, reviewed_ms) = review_of(e)?;
    Ok(WalkParts {
        details: WalkDetails {
            participants: field(e, "participants")?,
            purpose: field(e, "purpose")?,
            focus: field(e, "focus")?,
        },
        pauses: field(e, "pauses")?,
        status: field(e, "status")?,
        ended: field(e, "ended")?,
        summary: field(e, "summary")?,
        buurten: field(e, "buurten")?,
        track: field(e, "track")?,
        review,
        reviewed_ms,
    })
}

/// Ids travel in one spelling only, lowercase and hyphenated, so one id is one entity
/// everywhere (phones store the 16 bytes and give back exactly this text).
fn check_uuid(s: &str, field: &'static str) -> Result<()> {
    match uuid::Uuid::parse_str(s) {
        Ok(u) if u.hyphenated().to_string() == s => Ok(()),
        _ => Err(Error::invalid(field, "not a lowercase hyphenated UUID")),
    }
}

/// Checks an entity from elsewhere by the same rules as local input: identity, times,
/// coordinates, texts, category codes, review. Messages name the field, never the value.
pub fn check_entity(e: &Entity, taxonomy: &Taxonomy) -> Result<()> {
    check_uuid(&e.id, "id")?;
    check_uuid(&e.author_id, "author id")?;
    // A phone whose clock runs a day ahead still syncs; beyond that a time is not plausible.
    if e.created_ms < crate::time::EARLIEST_MS
        || e.created_ms > chrono::Utc::now().timestamp_millis() + 2 * crate::time::MAX_FUTURE_MS
    {
        return Err(Error::invalid("created", "outside the plausible range"));
    }
    if e.created_offset_s.abs() > 18 * 3600 {
        return Err(Error::invalid("created", "UTC offset beyond ±18 hours"));
    }
    match (e.kind, &e.walk_id) {
        (EntityKind::Walk, None) => {}
        (EntityKind::Walk, Some(_)) => return Err(Error::invalid("walk id", "a walk does not belong to a walk")),
        (_, Some(w)) => check_uuid(w, "walk id")?,
        (_, None) => return Err(Error::invalid("walk id", "a record needs its walk")),
    }
    if e.deleted {
        if !e.fields.is_empty() {
            return Err(Error::invalid("fields", "a deleted entity carries no content"));
        }
        return Ok(());
    }
    if let Some(k) = e.clocks.keys().find(|k| !e.fields.contains_key(*k)) {
        return Err(Error::invalid("clocks", format!("clock for a field that is absent: {k}")));
    }
    if e.kind == EntityKind::Walk {
        let w = walk_parts(e)?;
        w.details.validate(taxonomy)?;
        w.review.validate(taxonomy)?;
        for b in &w.buurten {
            crate::text::check("buurt", b, 64)?;
        }
        for p in w.track.iter().flatten() {
            crate::location::validate_point(p.lat, p.lon)?;
        }
    } else {
        let r = record_parts(e)?;
        r.body.validate(taxonomy)?;
        r.review.validate(taxonomy)?;
        if let Some(l) = r.place.at.point() {
            // The fix time is the phone's; a clock off by a day is no reason to refuse.
            l.validate_shape()?;
        }
        if r.review.status.is_some() && e.kind != EntityKind::Signal {
            return Err(Error::invalid("review status", "only signals have a status"));
        }
        if e.sensitive != r.body.is_sensitive(taxonomy) && !e.sensitive {
            return Err(Error::invalid("sensitive", "a signal in a sensitive category must be marked sensitive"));
        }
    }
    Ok(())
}
