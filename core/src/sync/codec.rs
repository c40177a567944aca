//! Walks and records as sync entities, and back. The store and the team server use the same
//! functions, so both sides read a field the same way and validate it by the same rules.
//!
//! [`validate_entity`] is the one gate for entities from elsewhere: it checks every field at
//! every depth (no unknown keys, every list and text bounded, every clock plausible) and
//! returns the entity *as validated*: its fields written again from the typed values, so what
//! is stored and forwarded is what was checked, never the bytes that were sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::location::RecordLocation;
use crate::record::{Record, RecordBody};
use crate::review::{Review, ReviewStep};
use crate::sync::wire::{Entity, EntityKind, MAX_ENTITY_BYTES, REVIEW_FIELDS};
use crate::taxonomy::Taxonomy;
use crate::time::Moment;
use crate::track::TrackPoint;
use crate::walk::{Debrief, Participant, Pause, Walk, WalkStatus, WalkSummary};

/// Most pauses one walk may have.
pub const MAX_PAUSES: usize = 200;
/// Most buurten one walk may cover.
pub const MAX_BUURTEN: usize = 500;
/// Most points of a walk's simplified track (a long evening at 10 m tolerance keeps a few
/// hundred; the phone simplifies harder when a track would have more).
pub const MAX_TRACK_POINTS: usize = 5_000;
/// Longest buurt or wijk code.
const MAX_CODE_CHARS: usize = 64;

/// A record's place as one sync field: the point and the buurt it was tagged with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlaceField {
    pub at: RecordLocation,
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub buurt: Option<String>,
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
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

/// The fields of a walk entity: exactly these, no others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WalkFields {
    #[cfg_attr(feature = "schema", schemars(length(max = 20)))]
    pub participants: Vec<Participant>,
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub purpose: String,
    /// Observation theme codes the walk pays attention to.
    #[cfg_attr(feature = "schema", schemars(length(max = 20), inner(length(min = 1, max = 64))))]
    pub focus: Vec<String>,
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub pauses: Vec<Pause>,
    pub status: WalkStatus,
    pub ended: Option<Moment>,
    pub summary: Option<WalkSummary>,
    /// CBS codes of the buurten covered, sorted.
    #[cfg_attr(feature = "schema", schemars(length(max = 500), inner(length(min = 1, max = 64))))]
    pub buurten: Vec<String>,
    /// The simplified track, once the walk ended.
    #[cfg_attr(feature = "schema", schemars(length(max = 5000)))]
    pub track: Option<Vec<TrackPoint>>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 4000)))]
    pub review_question: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 4000)))]
    pub review_answer: Option<String>,
    #[serde(default)]
    pub reviewed_ms: Option<i64>,
    /// Who decided what when: written by the team server only (since protocol 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(length(max = 50)))]
    pub review_log: Vec<ReviewStep>,
    /// The walker's look back, once the walk ended (since protocol 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debrief: Option<Debrief>,
}

impl WalkFields {
    pub fn review(&self) -> Review {
        Review {
            status: None,
            referral: None,
            question: self.review_question.clone(),
            answer: self.review_answer.clone(),
            log: self.review_log.clone(),
        }
    }
}

/// Every content field name of any record kind: what an error may name.
const CONTENT_FIELDS: &[&str] = &[
    "themes",
    "tone",
    "note",
    "roles",
    "people",
    "duration_min",
    "gist",
    "mood",
    "trust",
    "agreements",
    "immediate_help",
    "category",
    "severity",
    "description",
    "at_known_place",
    "follow_up",
    "suggested_referral",
];
const WALK_FIELD_NAMES: &[&str] = &[
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
    "review_log",
    "debrief",
];

/// A decoding error that names where, never what: serde's own messages quote the offending
/// value ("unknown variant `…`"), which may be anything a phone sent.
fn shape_error(
    err: &serde_path_to_error::Error<serde_json::Error>,
    known: &[&'static str],
    whole: &'static str,
) -> Error {
    let first = err.path().iter().next().and_then(|s| match s {
        serde_path_to_error::Segment::Map { key } => known.iter().find(|k| **k == key.as_str()).copied(),
        _ => None,
    });
    Error::invalid(first.unwrap_or(whole), "is missing, has an unknown key, or holds a value of the wrong kind")
}

fn review_fields(fields: &mut BTreeMap<String, Value>, review: &Review, reviewed_ms: Option<i64>, signal: bool) {
    if signal {
        fields.insert("review_status".into(), json!(review.status));
        fields.insert("review_referral".into(), json!(review.referral));
    }
    fields.insert("review_question".into(), json!(review.question));
    fields.insert("review_answer".into(), json!(review.answer));
    fields.insert("reviewed_ms".into(), json!(reviewed_ms));
    // Only once there is one: most records are never reviewed.
    if !review.log.is_empty() {
        fields.insert("review_log".into(), json!(review.log));
    }
}

fn field<T: serde::de::DeserializeOwned>(e: &Entity, name: &'static str) -> Result<T> {
    // Deserialise from the borrowed value: no copy of the field.
    T::deserialize(e.fields.get(name).unwrap_or(&Value::Null))
        .map_err(|_| Error::invalid(name, "is missing or holds a value of the wrong kind"))
}

fn review_of(e: &Entity) -> Result<(Review, Option<i64>)> {
    Ok((
        Review {
            status: field(e, "review_status")?,
            referral: field(e, "review_referral")?,
            question: field(e, "review_question")?,
            answer: field(e, "review_answer")?,
            log: field::<Option<Vec<ReviewStep>>>(e, "review_log")?.unwrap_or_default(),
        },
        field(e, "reviewed_ms")?,
    ))
}

/// The fields of a record from its parts (content, place, review).
fn fields_of_record(
    body: &RecordBody,
    place: &PlaceField,
    review: &Review,
    reviewed_ms: Option<i64>,
) -> Result<BTreeMap<String, Value>> {
    let mut fields = BTreeMap::new();
    if let Value::Object(body) = serde_json::to_value(body)? {
        fields.extend(body.into_iter().filter(|(k, _)| k != "kind"));
    }
    fields.insert("location".into(), serde_json::to_value(place)?);
    review_fields(&mut fields, review, reviewed_ms, matches!(body, RecordBody::Signal(_)));
    Ok(fields)
}

/// The fields of a record (content, place, review).
pub fn record_fields(r: &Record) -> Result<BTreeMap<String, Value>> {
    let place = PlaceField { at: r.location, buurt: r.buurt.clone(), wijk: r.wijk.clone() };
    fields_of_record(&r.body, &place, &r.review, r.reviewed_ms)
}

/// The fields of a walk, with its simplified track once it ended.
pub fn walk_fields(w: &Walk, track: Option<&[TrackPoint]>) -> Result<BTreeMap<String, Value>> {
    let f = WalkFields {
        participants: w.details.participants.clone(),
        purpose: w.details.purpose.clone(),
        focus: w.details.focus.clone(),
        pauses: w.pauses.clone(),
        status: w.status,
        ended: w.ended,
        summary: w.summary.clone(),
        buurten: w.buurten.clone(),
        track: track.map(<[TrackPoint]>::to_vec),
        review_question: w.review.question.clone(),
        review_answer: w.review.answer.clone(),
        reviewed_ms: w.reviewed_ms,
        review_log: w.review.log.clone(),
        debrief: w.debrief.clone(),
    };
    fields_of_walk(&f)
}

fn fields_of_walk(f: &WalkFields) -> Result<BTreeMap<String, Value>> {
    match serde_json::to_value(f)? {
        Value::Object(m) => Ok(m.into_iter().collect()),
        _ => Err(Error::invalid("walk", "fields are not an object")),
    }
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
    let body: RecordBody = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&body_json))
        .map_err(|err| shape_error(&err, CONTENT_FIELDS, "content"))?;
    if body.kind().as_str() != e.kind.as_str() {
        return Err(Error::invalid("entity", "content does not match its kind"));
    }
    let (review, reviewed_ms) = review_of(e)?;
    Ok(RecordParts { body, body_json, place: field(e, "location")?, review, reviewed_ms })
}

/// Decodes a walk entity's fields.
pub fn walk_parts(e: &Entity) -> Result<WalkFields> {
    let map =
        serde::de::value::MapDeserializer::<_, serde_json::Error>::new(e.fields.iter().map(|(k, v)| (k.as_str(), v)));
    serde_path_to_error::deserialize(map).map_err(|err| shape_error(&err, WALK_FIELD_NAMES, "walk"))
}

/// A walk entity as a [`Walk`] with its simplified track: how the team server reads what
/// phones synced, so its reports come from the same core code as the phone's.
pub fn walk_of(e: &Entity) -> Result<(Walk, Vec<TrackPoint>)> {
    if e.kind != EntityKind::Walk {
        return Err(Error::invalid("entity", "not a walk"));
    }
    let w = walk_parts(e)?;
    let review = w.review();
    let walk = Walk {
        id: e.id.parse()?,
        author_id: e.author_id.parse()?,
        details: crate::walk::WalkDetails { participants: w.participants, purpose: w.purpose, focus: w.focus },
        started: Moment { utc_ms: e.created_ms, offset_s: e.created_offset_s },
        pauses: w.pauses,
        ended: w.ended,
        status: w.status,
        buurten: w.buurten,
        summary: w.summary,
        hlc: e.hlc,
        reviewed_ms: w.reviewed_ms,
        review,
        debrief: w.debrief,
        pending_sync: false,
    };
    Ok((walk, w.track.unwrap_or_default()))
}

/// A record entity as a [`Record`] (see [`walk_of`]).
pub fn record_of(e: &Entity) -> Result<Record> {
    let walk_id = e.walk_id.as_deref().ok_or_else(|| Error::invalid("walk_id", "a record needs its walk"))?;
    let p = record_parts(e)?;
    Ok(Record {
        id: e.id.parse()?,
        walk_id: walk_id.parse()?,
        author_id: e.author_id.parse()?,
        body: p.body,
        created: Moment { utc_ms: e.created_ms, offset_s: e.created_offset_s },
        location: p.place.at,
        buurt: p.place.buurt,
        wijk: p.place.wijk,
        hlc: e.hlc,
        reviewed_ms: p.reviewed_ms,
        review: p.review,
        pending_sync: false,
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

/// The one gate for a photo's description from elsewhere (a phone's offer on the server, a
/// listing on a phone): ids in their one spelling, a hash in lowercase hex, sizes within
/// [`PhotoLimits`](crate::photo::PhotoLimits) and a place among a record's photos.
pub fn validate_photo_ref(p: &crate::sync::wire::PhotoRef) -> Result<()> {
    let limits = crate::photo::PhotoLimits::default();
    check_uuid(&p.id, "photo id")?;
    check_uuid(&p.record_id, "record id")?;
    if p.position >= crate::photo::MAX_PHOTOS_PER_RECORD {
        return Err(Error::invalid("photo position", "a record carries at most five photos"));
    }
    if p.sha256.len() != 64 || !p.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(Error::invalid("photo hash", "not 64 lowercase hexadecimal digits"));
    }
    if p.size == 0 || p.size > limits.max_bytes as u64 {
        return Err(Error::invalid("photo size", format!("lies within 1..={} bytes", limits.max_bytes)));
    }
    if p.width == 0 || p.height == 0 || p.width.max(p.height) > limits.max_long_edge {
        return Err(Error::invalid("photo dimensions", format!("a long edge of 1..={} pixels", limits.max_long_edge)));
    }
    Ok(())
}

/// A time a phone stamped (pause, end, fix, review): after 2000, at most two days ahead of
/// `now_ms` (a phone's clock may be a day off), offset within ±18 h.
fn check_moment(m: &Moment, field: &'static str, now_ms: i64) -> Result<()> {
    check_ms(m.utc_ms, field, now_ms)?;
    if !(-18 * 3600..=18 * 3600).contains(&m.offset_s) {
        return Err(Error::invalid(field, "UTC offset beyond ±18 hours"));
    }
    Ok(())
}

fn check_ms(ms: i64, field: &'static str, now_ms: i64) -> Result<()> {
    if ms < crate::time::EARLIEST_MS || ms > now_ms.saturating_add(2 * crate::time::MAX_FUTURE_MS) {
        return Err(Error::invalid(field, "outside the plausible range"));
    }
    Ok(())
}

/// A buurt or wijk code: 1..64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit (CBS
/// codes like `BU03440311` or a municipality's `0311`). Codes end up in links, exports and
/// spreadsheets: nothing that reads as text, markup or a formula.
fn check_code(field: &'static str, code: &str) -> Result<()> {
    crate::text::check_required(field, code, MAX_CODE_CHARS)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !code.chars().all(allowed) || !code.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            field,
            "a code has only letters, digits, '.', '_' and '-', and starts with a letter or digit",
        ));
    }
    Ok(())
}

fn check_code_list(field: &'static str, codes: &[String], max: usize) -> Result<()> {
    if codes.len() > max {
        return Err(Error::invalid(field, format!("more than {max}")));
    }
    for (i, c) in codes.iter().enumerate() {
        check_code(field, c)?;
        if codes[..i].contains(c) {
            return Err(Error::invalid(field, "a code appears twice"));
        }
    }
    Ok(())
}

/// A walk that could have happened: active exactly while it has no end; the end after the
/// start; pauses in order, each ending after it began, only the last one open (and only while
/// the walk is active); a summary and a track only once it ended.
fn check_walk_story(w: &WalkFields, started_ms: i64) -> Result<()> {
    let active = w.status == WalkStatus::Active;
    if active == w.ended.is_some() {
        return Err(Error::invalid("ended", "set exactly when the walk is no longer active"));
    }
    if active && (w.summary.is_some() || w.track.is_some()) {
        return Err(Error::invalid("summary", "a summary and a track come when the walk ends"));
    }
    if active && w.debrief.is_some() {
        return Err(Error::invalid("debrief", "a walk is looked back on once it ended"));
    }
    let end = w.ended.map(|m| m.utc_ms);
    if end.is_some_and(|e| e < started_ms) {
        return Err(Error::invalid("ended", "before the walk started"));
    }
    let mut floor = started_ms;
    for (i, p) in w.pauses.iter().enumerate() {
        let open = p.until.is_none();
        if p.from.utc_ms < floor
            || p.until.is_some_and(|u| u.utc_ms < p.from.utc_ms)
            || end.is_some_and(|e| p.from.utc_ms > e)
            || (open && (i + 1 < w.pauses.len() || !active))
        {
            return Err(Error::invalid(
                "pauses",
                "pauses follow each other within the walk; only an active walk's last may be open",
            ));
        }
        floor = p.until.map_or(p.from.utc_ms, |u| u.utc_ms);
    }
    Ok(())
}

fn check_walk(w: &WalkFields, taxonomy: &Taxonomy, now_ms: i64) -> Result<()> {
    crate::walk::WalkDetails {
        participants: w.participants.clone(),
        purpose: w.purpose.clone(),
        focus: w.focus.clone(),
    }
    .validate(taxonomy)?;
    w.review().validate(taxonomy)?;
    if w.pauses.len() > MAX_PAUSES {
        return Err(Error::invalid("pauses", format!("more than {MAX_PAUSES}")));
    }
    for p in &w.pauses {
        check_moment(&p.from, "pauses", now_ms)?;
        if let Some(u) = &p.until {
            check_moment(u, "pauses", now_ms)?;
        }
    }
    if let Some(m) = &w.ended {
        check_moment(m, "ended", now_ms)?;
    }
    if let Some(s) = &w.summary {
        s.validate()?;
    }
    if let Some(d) = &w.debrief {
        d.validate()?;
    }
    check_code_list("buurten", &w.buurten, MAX_BUURTEN)?;
    if let Some(track) = &w.track {
        if track.len() > MAX_TRACK_POINTS {
            return Err(Error::invalid("track", format!("more than {MAX_TRACK_POINTS} points")));
        }
        for p in track {
            crate::location::validate_point(p.lat, p.lon)?;
            check_ms(p.at_ms, "track", now_ms)?;
        }
    }
    if let Some(ms) = w.reviewed_ms {
        check_ms(ms, "reviewed", now_ms)?;
    }
    check_log(&w.review_log, now_ms)
}

fn check_log(log: &[ReviewStep], now_ms: i64) -> Result<()> {
    for step in log {
        check_ms(step.at_ms, "review log", now_ms)?;
    }
    Ok(())
}

fn check_record(kind: EntityKind, r: &RecordParts, taxonomy: &Taxonomy, now_ms: i64) -> Result<()> {
    r.body.validate(taxonomy)?;
    r.review.validate(taxonomy)?;
    if let Some(l) = r.place.at.point() {
        // The fix time is the phone's; a clock off by a day is no reason to refuse.
        l.validate_shape()?;
        check_ms(l.fix_ms, "fix time", now_ms)?;
    }
    for (field, code) in [("buurt", &r.place.buurt), ("wijk", &r.place.wijk)] {
        if let Some(c) = code {
            check_code(field, c)?;
        }
    }
    if r.review.status.is_some() && kind != EntityKind::Signal {
        return Err(Error::invalid("review status", "only signals have a status"));
    }
    if let Some(ms) = r.reviewed_ms {
        check_ms(ms, "reviewed", now_ms)?;
    }
    check_log(&r.review.log, now_ms)
}

/// Checks an entity from elsewhere by the same rules as local input — identity, times, clocks,
/// coordinates, texts, lists, category codes, review — and returns it as validated: fields
/// written again from their typed values (unknown keys refused at every depth), clocks only
/// for fields it has, `sensitive` as its category says (a tombstone keeps the flag it came
/// with), and within [`MAX_ENTITY_BYTES`]. `now_ms` is the receiver's clock. Messages name the
/// field and the rule, never the value.
pub fn validate_entity(e: &Entity, taxonomy: &Taxonomy, now_ms: i64) -> Result<Entity> {
    check_uuid(&e.id, "id")?;
    check_uuid(&e.author_id, "author id")?;
    // A phone whose clock runs a day ahead still syncs; beyond that a time is not plausible.
    check_ms(e.created_ms, "created", now_ms)?;
    if !(-18 * 3600..=18 * 3600).contains(&e.created_offset_s) {
        return Err(Error::invalid("created", "UTC offset beyond ±18 hours"));
    }
    match (e.kind, &e.walk_id) {
        (EntityKind::Walk, None) => {}
        (EntityKind::Walk, Some(_)) => return Err(Error::invalid("walk id", "a walk does not belong to a walk")),
        (_, Some(w)) => check_uuid(w, "walk id")?,
        (_, None) => return Err(Error::invalid("walk id", "a record needs its walk")),
    }
    if e.hlc == Hlc::ZERO || !e.hlc.is_plausible(now_ms) || e.clocks.values().any(|c| !c.is_plausible(now_ms)) {
        return Err(Error::invalid("clock", "before 2026 or more than two days ahead of the server"));
    }
    if e.clocks.values().any(|c| *c > e.hlc) {
        return Err(Error::invalid("version", "a field's clock is later than the entity's version"));
    }
    let mut out = Entity { fields: BTreeMap::new(), clocks: BTreeMap::new(), ..e.clone() };
    if e.deleted {
        // A phone deletes records, never a walk (it holds them, and what a lead said of it).
        if e.kind == EntityKind::Walk {
            return Err(Error::invalid("walk", "a walk is not deleted; its records are"));
        }
        if !e.fields.is_empty() || !e.clocks.is_empty() {
            return Err(Error::invalid("fields", "a deleted entity carries no content"));
        }
        return Ok(out);
    }
    if let Some(k) = e.clocks.keys().find(|k| !e.fields.contains_key(*k)) {
        let known = WALK_FIELD_NAMES.iter().chain(CONTENT_FIELDS).chain(REVIEW_FIELDS).chain(&["location"]);
        let name = known.into_iter().find(|n| **n == k.as_str()).copied().unwrap_or("clocks");
        return Err(Error::invalid(name, "has a clock but no value"));
    }
    if e.kind == EntityKind::Walk {
        let w = walk_parts(e)?;
        check_walk(&w, taxonomy, now_ms)?;
        check_walk_story(&w, e.created_ms)?;
        out.fields = fields_of_walk(&w)?;
        out.sensitive = false;
    } else {
        let r = record_parts(e)?;
        check_record(e.kind, &r, taxonomy, now_ms)?;
        // `{"kind": "none"}` has nothing else: serde lets a unit variant's extra keys pass.
        if r.place.at == RecordLocation::None && e.fields["location"]["at"].as_object().is_some_and(|at| at.len() != 1)
        {
            return Err(Error::invalid("location", "has an unknown key"));
        }
        out.fields = fields_of_record(&r.body, &r.place, &r.review, r.reviewed_ms)?;
        out.sensitive = r.body.is_sensitive(taxonomy);
    }
    // A field the kind does not have is refused; `null`, and an empty review log, mean absent.
    let absent = |k: &str| e.fields[k].is_null() || (k == "review_log" && e.fields[k] == json!([]));
    if let Some(k) = e.fields.keys().find(|k| !out.fields.contains_key(*k) && !absent(k)) {
        let name = REVIEW_FIELDS.iter().find(|n| **n == k.as_str()).copied().unwrap_or("fields");
        return Err(Error::invalid(name, "is not a field of this kind"));
    }
    out.clocks = e.clocks.iter().filter(|(k, _)| out.fields.contains_key(*k)).map(|(k, c)| (k.clone(), *c)).collect();
    if serde_json::to_vec(&out)?.len() > MAX_ENTITY_BYTES {
        return Err(Error::invalid("entity", format!("larger than {MAX_ENTITY_BYTES} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk_entity() -> Entity {
        let now = chrono::Utc::now().timestamp_millis();
        let fields: BTreeMap<String, Value> = serde_json::from_value(json!({
            "participants": [{"type": "guest", "role": "wijkagent"}], "purpose": "ronde", "focus": [],
            "pauses": [], "status": "active", "ended": null, "summary": null, "buurten": [], "track": null,
            "review_question": null, "review_answer": null, "reviewed_ms": null
        }))
        .unwrap();
        Entity {
            kind: EntityKind::Walk,
            id: uuid::Uuid::now_v7().to_string(),
            walk_id: None,
            author_id: uuid::Uuid::now_v7().to_string(),
            created_ms: now,
            created_offset_s: 3600,
            sensitive: false,
            deleted: false,
            hlc: Hlc { wall_ms: now as u64, counter: 0, node: 1 },
            fields,
            clocks: BTreeMap::new(),
        }
    }

    #[test]
    fn unknown_keys_are_refused_at_every_depth_without_repeating_them() {
        let t = Taxonomy::default_taxonomy();
        let now = chrono::Utc::now().timestamp_millis();
        assert!(validate_entity(&walk_entity(), &t, now).is_ok());
        type Change = Box<dyn Fn(&mut Entity)>;
        let cases: Vec<Change> = vec![
            Box::new(|e| e.fields.get_mut("participants").unwrap()[0]["GEHEIM"] = json!("x")),
            Box::new(|e| {
                e.fields.insert(
                    "pauses".into(),
                    json!([{"from": {"utc_ms": 1_795_539_600_000i64, "offset_s": 0, "GEHEIM": 1}, "until": null}]),
                );
            }),
            Box::new(|e| {
                e.fields.insert("GEHEIM".into(), json!(1));
            }),
            Box::new(|e| {
                e.fields.insert("status".into(), json!("GEHEIM"));
            }),
            Box::new(|e| {
                e.fields.insert("participants".into(), json!([{"type": "GEHEIM"}]));
            }),
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut e = walk_entity();
            change(&mut e);
            let err = validate_entity(&e, &t, now).expect_err(&format!("case {i}"));
            assert!(!err.to_string().contains("GEHEIM"), "case {i}: {err}");
        }
    }

    #[test]
    fn what_is_stored_is_what_was_validated() {
        let t = Taxonomy::default_taxonomy();
        let now = chrono::Utc::now().timestamp_millis();
        let mut e = walk_entity();
        // Missing review fields are written out; numbers take their typed form.
        e.fields.remove("review_answer");
        let v = validate_entity(&e, &t, now).unwrap();
        assert_eq!(v.fields["review_answer"], Value::Null);
        // Every field but the review log and the debrief, written only once there is one.
        assert_eq!(v.fields.len(), WALK_FIELD_NAMES.len() - 2);
        assert!(!v.fields.contains_key("review_log") && !v.fields.contains_key("debrief"));
    }

    #[test]
    fn clocks_are_bounded() {
        let t = Taxonomy::default_taxonomy();
        let now = chrono::Utc::now().timestamp_millis();
        let mut e = walk_entity();
        e.hlc = "ffffffffffff.ffff.ffffffffffffffff".parse().unwrap();
        assert!(validate_entity(&e, &t, now).is_err());
        let mut e = walk_entity();
        e.clocks.insert("purpose".into(), Hlc { wall_ms: 978_307_200_000, counter: 0, node: 1 });
        assert!(validate_entity(&e, &t, now).is_err());
        let mut e = walk_entity();
        e.hlc = Hlc::ZERO;
        assert!(validate_entity(&e, &t, now).is_err());
        let mut e = walk_entity();
        e.created_offset_s = i32::MIN;
        assert!(validate_entity(&e, &t, now).is_err());
    }
}
