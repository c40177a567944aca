//! The server's sync rules, written once for every storage backend: validate a push, check
//! who may change what, merge, sequence, and serve the need-to-know feed.

use axum::http::StatusCode;
use wijkverkenner_core::hlc::Hlc;
use wijkverkenner_core::review::SignalStatus;
use wijkverkenner_core::sync::codec::{check_entity, record_parts};
use wijkverkenner_core::sync::merge::merge;
use wijkverkenner_core::sync::wire::{Entity, EntityKind, LEAD_FIELDS, MAX_PULL, MAX_PUSH};
use wijkverkenner_core::Taxonomy;

use crate::error::{ApiError, Error, Result};
use crate::storage::{Caller, FeedPage, Role, Storage, Stored, Viewer};

/// Checks every pushed entity before anything is stored: a push is applied whole or not at all.
pub fn validate_push(push: &[Entity], taxonomy: &Taxonomy) -> Result<(), ApiError> {
    if push.len() > MAX_PUSH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_changes",
            format!("at most {MAX_PUSH} changes per request"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in push.iter().enumerate() {
        check_entity(e, taxonomy)
            .map_err(|err| ApiError::bad_request("invalid_change", format!("change #{i}: {err}")))?;
        if !seen.insert(e.id.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_change",
                format!("change #{i}: the same entity twice in one push"),
            ));
        }
    }
    Ok(())
}

fn status_of(e: &Entity) -> SignalStatus {
    e.fields
        .get("review_status")
        .and_then(|v| serde_json::from_value::<Option<SignalStatus>>(v.clone()).ok().flatten())
        .unwrap_or(SignalStatus::New)
}

/// May `caller` push this version over `stored`? Fields whose clock moves forward count as
/// changed by the pusher: content only by the author, review decisions only by a lead.
fn check_rights(caller: &Caller, stored: Option<&Entity>, e: &Entity, i: usize) -> Result<(), ApiError> {
    let me = &caller.member;
    let lead = me.role == Role::Lead;
    let deny = |what: &str| Err(ApiError::forbidden(format!("change #{i}: {what}")));
    let changed: Vec<&String> =
        e.fields.keys().filter(|f| e.clock(f) > stored.map_or(Hlc::ZERO, |s| s.clock(f))).collect();
    match stored {
        None => {
            if e.author_id != me.id {
                return deny("only the author can create a walk or record");
            }
            if !lead && LEAD_FIELDS.iter().any(|f| e.fields.get(*f).is_some_and(|v| !v.is_null())) {
                return deny("only a team lead can review");
            }
        }
        Some(s) => {
            if e.deleted && !s.deleted && e.author_id != me.id {
                return deny("only the author can delete");
            }
            for f in &changed {
                let lead_field = LEAD_FIELDS.contains(&f.as_str());
                if lead_field && !lead {
                    return deny("only a team lead can review");
                }
                if !lead_field && e.author_id != me.id {
                    return deny("only the author can change the content");
                }
            }
            if e.kind == EntityKind::Signal && changed.iter().any(|f| *f == "review_status") {
                let (from, to) = (status_of(s), status_of(e));
                if !from.can_become(to) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "status_transition",
                        format!("change #{i}: a signal cannot go from {from:?} to {to:?}"),
                    ));
                }
            }
        }
    }
    if e.kind == EntityKind::Signal && !e.deleted {
        // A new or changed status must be a valid one for the record as merged.
        record_parts(e).map_err(|err| ApiError::bad_request("invalid_change", format!("change #{i}: {err}")))?;
    }
    Ok(())
}

/// Applies a validated push for `caller` in one transaction; returns how many entities changed.
pub fn apply_push(storage: &dyn Storage, caller: &Caller, push: &[Entity]) -> Result<u32> {
    let team = caller.team.id.clone();
    let mut changed = 0u32;
    storage.transaction(&mut |tx| {
        changed = 0;
        let mut seq = tx.lock_feed(&team)?;
        for (i, e) in push.iter().enumerate() {
            let stored = tx.get(&team, &e.id)?;
            check_rights(caller, stored.as_ref().map(|s| &s.entity), e, i)?;
            let merged = match &stored {
                Some(s) => merge(&s.entity, e).map_err(|_| {
                    Error::from(ApiError::new(
                        StatusCode::CONFLICT,
                        "identity_conflict",
                        format!("change #{i}: an entity with this id exists with other identity fields"),
                    ))
                })?,
                None => e.clone(),
            };
            if stored.as_ref().is_some_and(|s| s.entity == merged) {
                continue; // Already known: a repeated push changes nothing.
            }
            seq += 1;
            changed += 1;
            tx.put(&team, &Stored { entity: merged, seq, last_device: caller.device.id.clone() })?;
        }
        tx.set_feed(&team, seq)
    })?;
    Ok(changed)
}

/// The caller's page of the team feed after `cursor`.
pub fn pull(storage: &dyn Storage, caller: &Caller, cursor: i64, limit: u32) -> Result<FeedPage> {
    let viewer = Viewer {
        team_id: caller.team.id.clone(),
        member_id: caller.member.id.clone(),
        device_id: caller.device.id.clone(),
        sees_sensitive: caller.member.role == Role::Lead,
    };
    storage.feed(&viewer, cursor.max(0), limit.clamp(1, MAX_PULL as u32))
}
