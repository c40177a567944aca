//! The server's sync rules, written once for every storage backend: validate a push, judge
//! every change by who may make it, merge, sequence, and serve the need-to-know feed.
//!
//! The server trusts no phone. Each pushed entity is validated ([`validate_entity`]: shape,
//! bounds, plausible clocks), then merged with the stored version, and the *result* is judged
//! field by field: every field whose value or clock would change must be one the pusher may
//! change (docs/sync-protocol.md, "Rights"). A refused change leaves the field as stored and
//! is reported in `rejected`, with the team's version of the entity when the pusher may see it,
//! so the phone takes the team's value and its outbox moves on. The rest of the push applies.

use std::collections::{BTreeSet, HashSet};

use axum::http::StatusCode;
use wijkverkenner_core::review::SignalStatus;
use wijkverkenner_core::review::{ReviewStep, LOGGED_FIELDS, MAX_LOG_STEPS};
use wijkverkenner_core::sync::codec::validate_entity;
use wijkverkenner_core::sync::merge::{merge, same_identity};
use wijkverkenner_core::sync::wire::{
    Entity, EntityKind, Rejection, LEAD_FIELDS, MAX_ENTITY_BYTES, MAX_PULL, MAX_PUSH, SERVER_FIELDS,
};
use wijkverkenner_core::{Hlc, RecordLocation, Taxonomy};

use crate::error::{ApiError, Result};
use crate::storage::{Caller, FeedPage, HistoryEntry, Role, Storage, Stored, Tx, Viewer};

/// The team's version of refused entities goes back in one answer up to this many bytes; a
/// push with more refusals than that gets the reasons without the versions.
const MAX_CURRENT_BYTES: usize = 4 * 1024 * 1024;

/// A walk's details, which its author can no longer change once a lead reviewed the walk.
const WALK_DETAILS: &[&str] = &["participants", "purpose", "focus", "debrief"];

/// Checks a push as a whole before any entity is looked at: at most `MAX_PUSH` entities,
/// each named by a well-formed id, each at most once.
pub fn check_push(push: &[Entity]) -> Result<(), ApiError> {
    if push.len() > MAX_PUSH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_changes",
            format!("at most {MAX_PUSH} changes per request"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in push.iter().enumerate() {
        // A refusal names the entity by its id: an id that is not one cannot be named (nor
        // echoed), so it makes the whole request malformed. Ids are made by code, never typed.
        if uuid::Uuid::parse_str(&e.id).map_or(true, |u| u.hyphenated().to_string() != e.id) {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("change #{i}: the id is not a lowercase hyphenated UUID"),
            ));
        }
        if !seen.insert(e.id.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("change #{i}: the same entity twice in one push"),
            ));
        }
    }
    Ok(())
}

/// Why a change was refused: a stable code and a sentence, never a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: &'static str,
}

const NOT_AUTHOR: Refusal = Refusal { code: "not_author", reason: "only the author can make this change" };
const LEAD_ONLY: Refusal = Refusal { code: "lead_only", reason: "only a team lead decides on a review" };
const FROZEN: Refusal =
    Refusal { code: "frozen", reason: "a lead reviewed or referred this; only a lead can change it now" };
const STATUS: Refusal = Refusal {
    code: "status_transition",
    reason: "the status cannot go there from the team's current status (another change came first)",
};
const CLOCK_REUSED: Refusal =
    Refusal { code: "clock_reused", reason: "another value under a clock the team already holds for this field" };
const WALK_NOT_FOUND: Refusal = Refusal {
    code: "walk_not_found",
    reason: "a record belongs in an existing walk of its own author; send the walk first",
};
const NOT_A_MEMBER: Refusal =
    Refusal { code: "not_a_member", reason: "a participant given as a member (by id) is not a member of this team" };
const IDENTITY: Refusal = Refusal {
    code: "identity_conflict",
    reason: "an entity with this id exists with another kind, author, walk or creation time",
};
const QUARANTINED: Refusal = Refusal { code: "quarantined", reason: "an administrator took this entity out of sync" };
const UNREADABLE: Refusal = Refusal {
    code: "unreadable",
    reason: "the team's version of this entity cannot be read; an administrator must repair it",
};
const NOT_OWN_NAME: Refusal = Refusal { code: "not_author", reason: "only the author can create a walk or record" };
const SERVER_ONLY: Refusal = Refusal { code: "server_only", reason: "only the team server writes the review log" };

fn status_of(e: &Entity) -> SignalStatus {
    e.fields
        .get("review_status")
        .and_then(|v| serde_json::from_value::<Option<SignalStatus>>(v.clone()).ok().flatten())
        .unwrap_or(SignalStatus::New)
}

fn is_set(e: &Entity, field: &str) -> bool {
    e.fields.get(field).is_some_and(|v| !v.is_null())
}

/// Out of the author's hands: reviewed, or a referred signal ([`wijkverkenner_core::Review::freezes_content`]).
pub(crate) fn record_frozen(e: &Entity) -> bool {
    e.kind != EntityKind::Walk && (is_set(e, "reviewed_ms") || status_of(e) == SignalStatus::Referred)
}

fn walk_rank(e: &Entity) -> u8 {
    match e.fields.get("status").and_then(|v| v.as_str()) {
        Some("active") => 0,
        Some("ended") => 1,
        _ => 2,
    }
}

fn derived_sensitive(e: &Entity, taxonomy: &Taxonomy) -> bool {
    e.kind == EntityKind::Signal
        && e.fields
            .get("category")
            .and_then(|v| v.as_str())
            .is_none_or(|c| taxonomy.get(c).is_none_or(|cat| cat.sensitive))
}

/// May `caller` change `field` of `stored`? The rules of docs/sync-protocol.md, "Rights".
fn may_change(caller: &Caller, stored: &Entity, field: &str) -> Option<Refusal> {
    if SERVER_FIELDS.contains(&field) {
        return Some(SERVER_ONLY);
    }
    let author = stored.author_id == caller.member.id;
    let lead = caller.member.role == Role::Lead;
    if LEAD_FIELDS.contains(&field) {
        return (!lead).then_some(LEAD_ONLY);
    }
    if !author {
        return Some(NOT_AUTHOR);
    }
    if field == "review_answer" {
        return None;
    }
    let frozen = match stored.kind {
        EntityKind::Walk => WALK_DETAILS.contains(&field) && is_set(stored, "reviewed_ms"),
        _ => record_frozen(stored),
    };
    frozen.then_some(FROZEN)
}

/// A lead's new question replaces the last one, and its answer goes with it (the log keeps
/// both): the one change of the author's answer a lead makes.
fn clears_replaced_answer(caller: &Caller, stored: &Entity, merged: &Entity) -> bool {
    let question = |e: &Entity| e.fields.get("review_question").filter(|v| !v.is_null()).cloned();
    caller.member.role == Role::Lead
        && !is_set(merged, "review_answer")
        && question(merged).is_some()
        && question(merged) != question(stored)
}

/// What a push does to one entity: the version to store (`None`: nothing to store) and the
/// fields refused.
#[derive(Debug, PartialEq)]
pub struct Judgement {
    pub result: Option<Entity>,
    pub refused: Vec<(String, Refusal)>,
}

impl Judgement {
    fn refuse(field: &str, r: Refusal) -> Self {
        Judgement { result: None, refused: vec![(field.to_string(), r)] }
    }
}

/// A new entity: only in the pusher's own name; a record only in an existing walk of its own;
/// review decisions only by a lead; a signal's status must be reachable from `new`.
pub fn judge_new(caller: &Caller, pushed: &Entity, walk: Option<&Entity>, taxonomy: &Taxonomy) -> Judgement {
    let lead = caller.member.role == Role::Lead;
    if pushed.author_id != caller.member.id {
        return Judgement::refuse("", NOT_OWN_NAME);
    }
    if pushed.kind != EntityKind::Walk
        && !walk.is_some_and(|w| w.kind == EntityKind::Walk && !w.deleted && w.author_id == caller.member.id)
    {
        return Judgement::refuse("", WALK_NOT_FOUND);
    }
    if !pushed.deleted {
        if let Some(f) = LEAD_FIELDS.iter().find(|f| is_set(pushed, f)).filter(|_| !lead) {
            return Judgement::refuse(f, LEAD_ONLY);
        }
        if pushed.kind == EntityKind::Signal && !SignalStatus::New.can_become(status_of(pushed)) {
            return Judgement::refuse("review_status", STATUS);
        }
    }
    let mut e = pushed.clone();
    let mut refused = vec![];
    if !e.deleted {
        e.sensitive = derived_sensitive(&e, taxonomy);
    }
    for f in SERVER_FIELDS {
        if e.fields.remove(*f).is_some_and(|v| !v.is_null() && v != serde_json::json!([])) {
            refused.push((f.to_string(), SERVER_ONLY));
        }
        e.clocks.remove(*f);
    }
    Judgement { result: Some(e), refused }
}

/// A new version of a stored entity: merged field by field, then every field whose value or
/// clock would change is judged; refused fields keep their stored value and clock.
pub fn judge_update(caller: &Caller, stored: &Entity, pushed: &Entity, taxonomy: &Taxonomy, now_ms: i64) -> Judgement {
    if !same_identity(stored, pushed) {
        return Judgement::refuse("", IDENTITY);
    }
    if stored.deleted {
        // Deleted stays deleted: nothing to judge, and the pusher gets the tombstone back.
        return Judgement { result: Some(stored.clone()), refused: vec![] };
    }
    if pushed.deleted {
        return match may_change(caller, stored, "deleted") {
            Some(r) => Judgement { result: Some(stored.clone()), refused: vec![("deleted".into(), r)] },
            None => Judgement { result: merge(stored, pushed).ok(), refused: vec![] },
        };
    }
    let Ok(mut merged) = merge(stored, pushed) else { return Judgement::refuse("", IDENTITY) };
    let mut refused = Vec::new();
    let names: BTreeSet<String> = merged.fields.keys().chain(stored.fields.keys()).cloned().collect();
    for f in names {
        let (sv, sc) = (stored.fields.get(&f), stored.clock(&f));
        let (pv, pc) = (pushed.fields.get(&f), pushed.clock(&f));
        // One clock names one value: a different value under the stored clock is never an
        // honest change (with no clock at all, it would rewrite what was created).
        let reused = pc == sc && pv.is_some() && pv != sv;
        let changed = merged.fields.get(&f) != sv || merged.clock(&f) != sc;
        let refusal = if reused {
            Some(CLOCK_REUSED)
        } else if changed && f == "review_answer" && clears_replaced_answer(caller, stored, &merged) {
            None
        } else if changed {
            may_change(caller, stored, &f)
        } else {
            None
        };
        if let Some(r) = refusal {
            restore(&mut merged, stored, &f);
            refused.push((f, r));
        }
    }
    if merged.kind == EntityKind::Signal && !status_of(stored).can_become(status_of(&merged)) {
        for f in ["review_status", "review_referral"] {
            restore(&mut merged, stored, f);
        }
        refused.push(("review_status".into(), STATUS));
    }
    if merged.kind == EntityKind::Walk && walk_rank(&merged) < walk_rank(stored) {
        restore(&mut merged, stored, "status");
        refused.push(("status".into(), STATUS));
    }
    merged.sensitive = stored.sensitive || derived_sensitive(&merged, taxonomy);
    merged.hlc = stored.hlc.max(merged.max_clock());
    // Allowed fields from two valid versions can still make an invalid whole: a status
    // `referred` whose referral another change cleared. Then the status and referral stay as
    // stored and the rest applies; if the whole is still invalid, nothing of it applies.
    if validate_entity(&merged, taxonomy, now_ms).is_err() {
        const COMBINED: Refusal =
            Refusal { code: "invalid", reason: "together with the team's version, the change breaks a rule" };
        let review = ["review_status", "review_referral"];
        if merged.kind == EntityKind::Signal {
            for f in review {
                restore(&mut merged, stored, f);
            }
            merged.hlc = stored.hlc.max(merged.max_clock());
        }
        if merged.kind != EntityKind::Signal || validate_entity(&merged, taxonomy, now_ms).is_err() {
            return Judgement { result: Some(stored.clone()), refused: vec![(String::new(), COMBINED)] };
        }
        refused.retain(|(f, _)| !review.contains(&f.as_str()));
        refused.push(("review_status".into(), COMBINED));
    }
    Judgement { result: Some(merged), refused }
}

fn restore(merged: &mut Entity, stored: &Entity, field: &str) {
    match stored.fields.get(field) {
        Some(v) => merged.fields.insert(field.to_string(), v.clone()),
        None => merged.fields.remove(field),
    };
    match stored.clocks.get(field) {
        Some(c) => merged.clocks.insert(field.to_string(), *c),
        None => merged.clocks.remove(field),
    };
}

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pushed {
    /// Entities whose stored version changed.
    pub changed: u32,
    pub rejected: Vec<Rejection>,
    /// The team's version of entities the push left unchanged but the pusher holds less of:
    /// sent back in this answer's pull, not through the feed.
    pub echo: Vec<Entity>,
}

/// May the caller see this entity in its feed?
pub(crate) fn visible_to(caller: &Caller, e: &Entity) -> bool {
    !e.sensitive || e.author_id == caller.member.id || caller.member.role == Role::Lead
}

/// The team's categories a push is judged by, and the settings version they were read at.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    pub taxonomy: &'a Taxonomy,
    pub settings_version: i64,
}

impl<'a> From<&'a crate::settings::TeamConfig> for Rules<'a> {
    fn from(c: &'a crate::settings::TeamConfig) -> Rules<'a> {
        Rules { taxonomy: &c.taxonomy, settings_version: c.version }
    }
}

/// Applies a push for `caller` in one transaction: each entity is validated, judged and
/// merged; what is refused is reported. Walks go first, so a record and its new walk may come
/// in one push in any order. The push is judged by the team's categories as they are when its
/// transaction runs: if an administrator changed them since `rules` were read (a category
/// marked sensitive while phones push into it), they are read again inside the transaction.
pub fn apply_push(storage: &dyn Storage, caller: &Caller, push: &[Entity], rules: Rules) -> Result<Pushed> {
    apply_push_commented(storage, caller, push, rules, None)
}

/// Each entity of a push validated (walks first), with the refusal and its reason if not.
type Validated<'a> = Vec<(&'a Entity, Result<Entity, Refusal>, String)>;

fn validate_push<'a>(push: &'a [Entity], taxonomy: &Taxonomy, now: i64) -> Validated<'a> {
    let mut order: Vec<&Entity> = push.iter().collect();
    order.sort_by_key(|e| e.kind != EntityKind::Walk);
    order
        .into_iter()
        .map(|e| match validate_entity(e, taxonomy, now) {
            Ok(v) => (e, Ok(v), String::new()),
            Err(err) => {
                let code = match &err {
                    wijkverkenner_core::Error::Invalid { field: "clock", .. } => "clock_out_of_range",
                    _ => "invalid",
                };
                (e, Err(Refusal { code, reason: "" }), format!("the change breaks a rule: {err}"))
            }
        })
        .collect()
}

/// [`apply_push`] with a lead's comment for the review history (a decision in the browser).
pub fn apply_push_commented(
    storage: &dyn Storage,
    caller: &Caller,
    push: &[Entity],
    rules: Rules,
    comment: Option<&str>,
) -> Result<Pushed> {
    check_push(push)?;
    let now = chrono::Utc::now().timestamp_millis();
    let team = caller.team.id.clone();
    // Validation needs no storage: done before the transaction (again inside it, if the
    // team's categories changed meanwhile).
    let validated_before = validate_push(push, rules.taxonomy, now);
    // Walk participants given as members must be members of this team who walk (never an
    // administrator or a partner organisation's viewer).
    let members: HashSet<String> =
        storage.members(&caller.team.id)?.into_iter().filter(|m| m.role.syncs()).map(|m| m.id).collect();
    let mut out = Pushed::default();
    storage.transaction(&mut |tx| {
        out = Pushed::default();
        // The feed lock first: a change of the team's settings takes it too, so from here the
        // categories cannot change under this push.
        let mut seq = tx.lock_feed(&team)?;
        let fresh;
        let (taxonomy, validated) = if tx.settings_version(&team)? == rules.settings_version {
            (rules.taxonomy, None)
        } else {
            let row = tx.settings(&team)?;
            fresh = match row.and_then(|r| r.taxonomy) {
                Some(json) => Taxonomy::from_json(&json)?,
                None => Taxonomy::default_taxonomy(),
            };
            (&fresh, Some(validate_push(push, &fresh, now)))
        };
        let validated = validated.as_ref().unwrap_or(&validated_before);
        let mut budget = MAX_CURRENT_BYTES;
        // The team's version of an entity, for the pusher, if it may see it and the answer has
        // room for it.
        let mut shown = |e: Option<&Entity>| -> Result<Option<Entity>> {
            let Some(e) = e.filter(|e| visible_to(caller, e)) else { return Ok(None) };
            let size = serde_json::to_vec(e)?.len();
            if size > budget {
                return Ok(None);
            }
            budget -= size;
            Ok(Some(e.clone()))
        };
        for (sent, v, why) in validated {
            let stored = match tx.get_row(&team, &sent.id)? {
                None => None,
                Some(row) if row.quarantined => {
                    out.rejected.push(rejection(sent, "", QUARANTINED, None));
                    continue;
                }
                Some(row) => match row.parse() {
                    Ok(s) => Some(s),
                    Err(e) => {
                        // Stored before the server bounded what it stores; only an operator can
                        // repair it (`entity-delete`, `entity-quarantine`).
                        tracing::error!(error = %e, team = %team, entity = %sent.id, "a stored entity cannot be read");
                        out.rejected.push(rejection(sent, "", UNREADABLE, None));
                        continue;
                    }
                },
            };
            let stored = stored.map(|s| s.entity);
            let pushed = match v {
                Ok(e) => e,
                Err(r) => {
                    let current = shown(stored.as_ref().filter(|s| same_identity(s, sent)))?;
                    out.rejected.push(Rejection { reason: why.clone(), ..rejection(sent, "", *r, current) });
                    continue;
                }
            };
            let mut judged = match &stored {
                Some(s) => judge_update(caller, s, pushed, taxonomy, now),
                None => {
                    let walk = match &pushed.walk_id {
                        Some(w) => tx.get_row(&team, w)?.filter(|w| !w.quarantined).and_then(|w| w.parse().ok()),
                        None => None,
                    };
                    judge_new(caller, pushed, walk.map(|w| w.entity).as_ref(), taxonomy)
                }
            };
            if let Some(result) = judged.result.as_mut() {
                judged.refused.extend(check_participants(result, stored.as_ref(), &members));
            }
            if !judged.refused.is_empty() {
                let current = shown(judged.result.as_ref().or(stored.as_ref()))?;
                for (field, r) in &judged.refused {
                    out.rejected.push(rejection(sent, field, *r, current.clone()));
                }
            }
            let Some(result) = judged.result else { continue };
            // The pusher holds the result already (the flag it sent included)?
            let pusher_current = result == *pushed && result.sensitive == sent.sensitive;
            if stored.as_ref() == Some(&result) {
                // Nothing changed for the team: nothing goes into the feed (a repeated, stale or
                // refused push costs the other phones nothing). A pusher lacking part of the
                // team's version gets it in this answer.
                if !pusher_current && judged.refused.is_empty() {
                    out.echo.extend(shown(Some(&result))?);
                }
                continue;
            }
            let history = history_of(stored.as_ref(), &result, caller, now, comment);
            for h in &history {
                tx.add_history(&team, h)?;
            }
            let mut result = result;
            if !history.is_empty() {
                append_log(&mut result, &history, &caller.member.display_name)?;
            }
            // The pusher lacks the steps just logged: it gets them through the feed.
            let pusher_current = pusher_current && history.is_empty();
            seq += 1;
            out.changed += 1;
            let last_device = if pusher_current { caller.device.id.clone() } else { String::new() };
            tx.put(&team, &Stored { entity: result, seq, last_device, quarantined: false })?;
        }
        tx.set_feed(&team, seq)
    })?;
    Ok(out)
}

/// A walk's participants may name members of the team who walk only (by id; the names are the
/// walker's words). A list naming anyone else stays as the team had it (empty for a new walk).
fn check_participants(
    result: &mut Entity,
    stored: Option<&Entity>,
    members: &HashSet<String>,
) -> Option<(String, Refusal)> {
    const FIELD: &str = "participants";
    if result.kind != EntityKind::Walk || stored.and_then(|s| s.fields.get(FIELD)) == result.fields.get(FIELD) {
        return None;
    }
    let list = result.fields.get(FIELD).and_then(|v| v.as_array());
    let foreign = list.is_some_and(|l| {
        l.iter().any(|p| p["type"] == "member" && !p["member_id"].as_str().is_some_and(|id| members.contains(id)))
    });
    if !foreign {
        return None;
    }
    match stored {
        Some(s) => {
            restore(result, s, FIELD);
            result.hlc = s.hlc.max(result.max_clock());
        }
        None => {
            result.fields.insert(FIELD.into(), serde_json::Value::Array(vec![]));
        }
    }
    Some((FIELD.into(), NOT_A_MEMBER))
}

/// Adds the steps of an accepted change to the entity's review log (the copy phones get; the
/// history table keeps every step): the newest [`MAX_LOG_STEPS`], fewer if the entity would
/// outgrow its size budget, under the clock of the change.
fn append_log(result: &mut Entity, history: &[HistoryEntry], name: &str) -> Result<()> {
    let mut log: Vec<ReviewStep> =
        result.fields.get("review_log").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    // A name as a log step may carry it: printable, within the limit.
    let by_name: String = name.chars().filter(|c| !c.is_control()).take(wijkverkenner_core::text::SHORT).collect();
    let by_name = if by_name.trim().is_empty() { "?".to_string() } else { by_name };
    let text_of = |field: &str| result.fields.get(field).and_then(|v| v.as_str()).map(str::to_string);
    log.extend(history.iter().map(|h| ReviewStep {
        at_ms: h.at_ms,
        by: h.member_id.clone(),
        by_name: by_name.clone(),
        field: h.field.clone(),
        value: h.value.clone(),
        comment: h.comment.clone(),
        text: match (h.field.as_str(), h.value.as_str()) {
            ("review_question", "asked") => text_of("review_question"),
            ("review_answer", "answered") => text_of("review_answer"),
            _ => None,
        },
    }));
    if log.len() > MAX_LOG_STEPS {
        log.drain(..log.len() - MAX_LOG_STEPS);
    }
    // A new log needs a clock later than the log it replaces, or a phone holding that log
    // keeps it (one clock names one value): the steps of a lead's change made before the
    // author's answer arrived would never reach the author.
    let before = result.clock("review_log");
    let clock = result.max_clock().max(result.hlc);
    let clock = if clock > before { clock } else { before.tick(0, before.node) };
    result.clocks.insert("review_log".into(), clock);
    result.hlc = result.hlc.max(clock);
    loop {
        result.fields.insert("review_log".into(), serde_json::to_value(&log)?);
        if log.is_empty() || serde_json::to_vec(result)?.len() <= MAX_ENTITY_BYTES {
            return Ok(());
        }
        log.remove(0);
    }
}

/// The review history entries of one accepted change: one per review field whose value
/// changed, as a short code (never the text of a question or answer).
fn history_of(
    stored: Option<&Entity>,
    result: &Entity,
    caller: &Caller,
    now_ms: i64,
    comment: Option<&str>,
) -> Vec<HistoryEntry> {
    let mut out = Vec::new();
    let value = |e: Option<&Entity>, f: &str| e.and_then(|e| e.fields.get(f)).filter(|v| !v.is_null()).cloned();
    let new_question = value(Some(result), "review_question").is_some()
        && value(Some(result), "review_question") != value(stored, "review_question");
    for f in LOGGED_FIELDS {
        let before = stored.and_then(|s| s.fields.get(*f)).filter(|v| !v.is_null());
        let after = result.fields.get(*f).filter(|v| !v.is_null());
        if before == after {
            continue;
        }
        // The answer of a replaced question: its "asked" step says it.
        if *f == "review_answer" && after.is_none() && new_question {
            continue;
        }
        let value = match (*f, after) {
            (_, None) => "cleared".to_string(),
            ("review_question", Some(_)) => "asked".into(),
            ("review_answer", Some(_)) => "answered".into(),
            ("reviewed_ms", Some(_)) => "reviewed".into(),
            (_, Some(v)) => v.as_str().unwrap_or_default().chars().take(64).collect(),
        };
        out.push(HistoryEntry {
            entity_id: result.id.clone(),
            at_ms: now_ms,
            member_id: caller.member.id.clone(),
            field: f.to_string(),
            value,
            comment: None,
        });
    }
    // The comment goes with the decision it explains: the last entry of the change.
    if let (Some(last), Some(c)) = (out.last_mut(), comment) {
        last.comment = Some(c.to_string());
    }
    out
}

fn rejection(e: &Entity, field: &str, r: Refusal, current: Option<Entity>) -> Rejection {
    Rejection { id: e.id.clone(), field: field.into(), code: r.code.into(), reason: r.reason.into(), current }
}

/// The caller's page of the team feed after `cursor`.
fn viewer_of(caller: &Caller, protocol: u32) -> Viewer {
    Viewer {
        team_id: caller.team.id.clone(),
        member_id: caller.member.id.clone(),
        device_id: caller.device.id.clone(),
        sees_sensitive: caller.member.role == Role::Lead,
        withdrawals: protocol >= 2,
    }
}

/// An entity the server sends outside the feed (the team's version in a push's answer) made
/// what `caller` may see of it, as [`pull`] does.
pub fn share(storage: &dyn Storage, caller: &Caller, protocol: u32, cell_m: f64, e: &mut Entity) -> Result<()> {
    if let Some(seen) = as_seen_by(storage, &viewer_of(caller, protocol), cell_m, &serde_json::to_string(e)?)? {
        *e = serde_json::from_str(&seen)?;
    }
    Ok(())
}

/// `cell_m`: the team's grid for shared places ([`SHARED_CELL_M`] unless the team set one:
/// `TeamConfig::shared_cell_m`).
pub fn pull(
    storage: &dyn Storage,
    caller: &Caller,
    protocol: u32,
    cursor: i64,
    limit: u32,
    cell_m: f64,
) -> Result<FeedPage> {
    let viewer = viewer_of(caller, protocol);
    let mut page = storage.feed(&viewer, cursor.max(0), limit.clamp(1, MAX_PULL as u32))?;
    for doc in &mut page.docs {
        if let Some(seen) = as_seen_by(storage, &viewer, cell_m, doc)? {
            *doc = seen;
        }
    }
    Ok(page)
}

/// Places shared with the team are snapped to the centre of a grid cell this wide, in metres
/// (`wijkverkenner_core::location::coarsen`), unless the team set its own grid
/// (`wijkverkenner-server location-grid`, [`MIN_CELL_M`]..=[`MAX_CELL_M`]).
pub const SHARED_CELL_M: f64 = 100.0;
/// Sets the team's grid for shared places, `MIN_CELL_M..=MAX_CELL_M` metres. Applies to what is
/// shared from now on (a phone keeps the places it already received).
pub fn set_location_grid(storage: &dyn Storage, team_id: &str, metres: u32, now_ms: i64) -> Result<()> {
    if !(MIN_CELL_M..=MAX_CELL_M).contains(&metres) {
        return Err(crate::error::ApiError::bad_request(
            "invalid_grid",
            format!("the grid lies within {MIN_CELL_M}..{MAX_CELL_M} metres"),
        )
        .into());
    }
    storage.set_location_cell(team_id, metres, now_ms)
}

/// The team's grid for shared places, in metres ([`SHARED_CELL_M`] unless it set one).
pub fn location_grid(storage: &dyn Storage, team_id: &str) -> Result<f64> {
    Ok(storage.location_cell(team_id)?.map_or(SHARED_CELL_M, f64::from))
}

/// The finest grid a team may set: below it a cell tells the house.
pub const MIN_CELL_M: u32 = 50;
/// The coarsest: a few buurten.
pub const MAX_CELL_M: u32 = 2_000;

/// An entity as `viewer` may see it, when that differs from what is stored; `None` when not.
/// The author always gets the precise version (the server keeps it). For everyone else:
/// - a conversation's place is coarsened to the team's grid (`cell_m`, [`SHARED_CELL_M`] by default) — leads included: whom
///   a walker talked with, and exactly where, is nobody else's business;
/// - a signal's place is precise for the leads (they follow it up), coarsened for colleagues;
/// - an observation (of public space: a vacant shop, dumped waste) stays precise;
/// - a colleague's walk, for those who are not leads: its route coarsened to the grid (it would
///   give away where a conversation took place, by its time), its summary counting only the
///   records the viewer may see and its buurten leaving out those only hidden records were in.
fn as_seen_by(storage: &dyn Storage, viewer: &Viewer, cell_m: f64, doc: &str) -> Result<Option<String>> {
    // Every document of every pull passes here: the few fields that decide are read first,
    // without building the whole document (an observation, the author's own, is done then).
    #[derive(serde::Deserialize)]
    struct Head {
        kind: EntityKind,
        author_id: String,
        #[serde(default)]
        deleted: bool,
    }
    // A stored document that cannot be read (from before today's rules: `suspects` lists it)
    // goes out as it is, for the phone to refuse alone: it must not stop the team's feed.
    let Ok(head) = serde_json::from_str::<Head>(doc) else { return Ok(None) };
    if head.author_id == viewer.member_id || head.deleted {
        return Ok(None);
    }
    match head.kind {
        EntityKind::Conversation => {}
        EntityKind::Signal if !viewer.sees_sensitive => {}
        EntityKind::Walk if !viewer.sees_sensitive => {
            let Ok(walk) = serde_json::from_str(doc) else { return Ok(None) };
            return walk_as_seen_by(storage, viewer, cell_m, walk);
        }
        _ => return Ok(None),
    }
    let Ok(mut entity) = serde_json::from_str::<serde_json::Value>(doc) else { return Ok(None) };
    let Some(at) = entity.pointer_mut("/fields/location/at") else { return Ok(None) };
    let Ok(place) = serde_json::from_value::<RecordLocation>(at.clone()) else { return Ok(None) };
    *at = serde_json::to_value(place.coarsened(cell_m))?;
    Ok(Some(serde_json::to_string(&entity)?))
}

fn walk_as_seen_by(
    storage: &dyn Storage,
    viewer: &Viewer,
    cell_m: f64,
    mut walk: serde_json::Value,
) -> Result<Option<String>> {
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    if let Some(serde_json::Value::Array(track)) = walk.pointer_mut("/fields/track") {
        // Each point to its cell's centre; a run of points in one cell is one point.
        let mut last: Option<(f64, f64)> = None;
        track.retain_mut(|p| {
            let (Some(lat), Some(lon)) = (p.get("lat").and_then(|v| v.as_f64()), p.get("lon").and_then(|v| v.as_f64()))
            else {
                return true;
            };
            let cell = wijkverkenner_core::location::coarsen(lat, lon, cell_m);
            if last == Some(cell) {
                return false;
            }
            last = Some(cell);
            p["lat"] = cell.0.into();
            p["lon"] = cell.1.into();
            true
        });
    }
    let walk_id = text(&walk, "id");
    let mut hidden = 0u64;
    let (mut hidden_buurten, mut shown_buurten) = (BTreeSet::new(), BTreeSet::new());
    for row in storage.walk_records(&viewer.team_id, &walk_id)? {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&row.doc) else { continue };
        if record.get("deleted").and_then(|d| d.as_bool()).unwrap_or(false) {
            continue;
        }
        let secret = record.get("sensitive").and_then(|d| d.as_bool()).unwrap_or(false)
            && text(&record, "author_id") != viewer.member_id;
        let buurt = record.pointer("/fields/location/buurt").and_then(|b| b.as_str()).map(str::to_string);
        if secret {
            hidden += 1;
            hidden_buurten.extend(buurt);
        } else {
            shown_buurten.extend(buurt);
        }
    }
    if hidden > 0 {
        if let Some(n) = walk.pointer_mut("/fields/summary/records") {
            *n = serde_json::Value::from(n.as_u64().unwrap_or(0).saturating_sub(hidden));
        }
        if let Some(serde_json::Value::Array(buurten)) = walk.pointer_mut("/fields/buurten") {
            buurten.retain(|b| b.as_str().is_none_or(|b| !hidden_buurten.contains(b) || shown_buurten.contains(b)));
        }
    }
    Ok(Some(serde_json::to_string(&walk)?))
}

/// An operator's repair of one stored entity (`wijkverkenner-server entity-delete`): it
/// becomes a tombstone stamped by the server, which every phone takes whatever the clocks of
/// its copy (deletion wins). For a team whose data was poisoned before the server bounded
/// clocks and sizes. Works on a document that can no longer be read whole.
pub fn delete_entity(storage: &dyn Storage, team_id: &str, id: &str) -> Result<bool> {
    let mut found = false;
    storage.transaction(&mut |tx: &mut dyn Tx| {
        found = false;
        let Some(row) = tx.get_row(team_id, id)? else { return Ok(()) };
        let doc: serde_json::Value = serde_json::from_str(&row.doc)?;
        let text = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let kind = text("kind")
            .and_then(|k| EntityKind::parse(&k))
            .ok_or_else(|| crate::Error::Other("the stored document has no kind".into()))?;
        let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
        let hlc = text("hlc").and_then(|h| h.parse::<Hlc>().ok()).unwrap_or(Hlc::ZERO).tick(now, 0);
        let tombstone = Entity {
            kind,
            id: id.to_string(),
            walk_id: text("walk_id"),
            author_id: text("author_id").unwrap_or_default(),
            created_ms: doc.get("created_ms").and_then(|v| v.as_i64()).unwrap_or(0),
            created_offset_s: doc.get("created_offset_s").and_then(|v| v.as_i64()).unwrap_or(0) as i32,
            sensitive: doc.get("sensitive").and_then(|v| v.as_bool()).unwrap_or(true),
            deleted: true,
            hlc,
            fields: Default::default(),
            clocks: Default::default(),
        };
        let seq = tx.lock_feed(team_id)? + 1;
        tx.put(team_id, &Stored { entity: tombstone, seq, last_device: String::new(), quarantined: false })?;
        tx.set_feed(team_id, seq)?;
        found = true;
        Ok(())
    })?;
    if found {
        // Its photos' bytes go with it (the retention sweep catches a crash between the two).
        storage.delete_photos(team_id, id)?;
    }
    Ok(found)
}

/// An operator takes one stored entity out of sync (`wijkverkenner-server entity-quarantine`):
/// it is no longer served, every phone that may hold it is told to delete its copy (the
/// author's own phones keep theirs), and pushes on it are refused. Works on a document that
/// can no longer be read whole.
pub fn quarantine_entity(storage: &dyn Storage, team_id: &str, id: &str) -> Result<bool> {
    let mut found = false;
    storage.transaction(&mut |tx: &mut dyn Tx| {
        found = false;
        let seq = tx.lock_feed(team_id)? + 1;
        found = tx.set_quarantined(team_id, id, seq)?;
        if found {
            tx.set_feed(team_id, seq)?;
        }
        Ok(())
    })?;
    Ok(found)
}

/// The team's stored entities that today's rules would refuse — clocks beyond belief, over the
/// size budget, unreadable — with the rule each breaks (never a value). For an operator
/// repairing a team whose data was poisoned before the server bounded what it stores.
pub fn suspects(storage: &dyn Storage, team_id: &str) -> Result<Vec<(String, String)>> {
    let viewer = Viewer {
        team_id: team_id.to_string(),
        member_id: String::new(),
        // No device: every row, whichever device last changed it.
        device_id: "-".into(),
        sees_sensitive: true,
        withdrawals: false,
    };
    let taxonomy = Taxonomy::default_taxonomy();
    let now = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let page = storage.feed(&viewer, cursor, MAX_PULL as u32)?;
        for doc in &page.docs {
            let id = serde_json::from_str::<serde_json::Value>(doc)
                .ok()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
                .unwrap_or_else(|| "?".into());
            match serde_json::from_str::<Entity>(doc) {
                Err(_) => out.push((id, "unreadable".to_string())),
                Ok(e) => {
                    if let Err(err) = validate_entity(&e, &taxonomy, now) {
                        out.push((id, err.to_string()));
                    }
                }
            }
        }
        cursor = page.cursor;
        if !page.more {
            return Ok(out);
        }
    }
}
