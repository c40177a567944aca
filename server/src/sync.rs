//! The server's sync rules, written once for every storage backend: validate a push, check
//! who may change what, merge, sequence, and serve the need-to-know feed.

use axum::http::StatusCode;
use wijkverkenner_core::hlc::Hlc;
use wijkverkenner_core::review::SignalStatus;
use wijkverkenner_core::sync::codec::{check_entity, record_parts};
use wijkverkenner_core::sync::merge::merge;
use wijkverkenner_core::sync::wire::{Entity, EntityKind, Rejection, LEAD_FIELDS, MAX_PULL, MAX_PUSH};
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
        // A deleted entity stays deleted whatever is pushed: nothing to check.
        Some(s) if s.deleted => {}
        Some(_) => {
            if e.deleted && e.author_id != me.id {
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
        }
    }
    if e.kind == EntityKind::Signal && !e.deleted {
        // A new or changed status must be a valid one for the record as merged.
        record_parts(e).map_err(|err| ApiError::bad_request("invalid_change", format!("change #{i}: {err}")))?;
    }
    Ok(())
}

/// The server's own node in clock values it stamps.
const SERVER_NODE: u64 = 0;

/// A signal status change that does not follow the transitions from the stored status (another
/// lead changed it first) is not applied: the stored status and referral are kept, stamped with
/// a clock after the refused one so every replica converges on them.
fn resolve_status(stored: &Entity, e: &mut Entity) -> Option<Rejection> {
    if e.kind != EntityKind::Signal || e.clock("review_status") <= stored.clock("review_status") {
        return None;
    }
    let (from, to) = (status_of(stored), status_of(e));
    if from.can_become(to) {
        return None;
    }
    let after = e.clock("review_status").max(stored.clock("review_status")).max(e.clock("review_referral"));
    let stamp = after.tick(0, SERVER_NODE);
    for f in ["review_status", "review_referral"] {
        e.fields.insert(f.into(), stored.fields.get(f).cloned().unwrap_or(serde_json::Value::Null));
        e.clocks.insert(f.into(), stamp);
    }
    e.hlc = e.hlc.max(stamp);
    Some(Rejection {
        id: e.id.clone(),
        field: "review_status".into(),
        reason: format!("a signal's status could not go from {from:?} to {to:?}: another lead changed it first"),
    })
}

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Entities whose stored version changed.
    pub changed: u32,
    pub rejected: Vec<Rejection>,
}

/// Applies a validated push for `caller` in one transaction.
pub fn apply_push(storage: &dyn Storage, caller: &Caller, push: &[Entity]) -> Result<Pushed> {
    let team = caller.team.id.clone();
    let mut out = Pushed::default();
    storage.transaction(&mut |tx| {
        out = Pushed::default();
        let mut seq = tx.lock_feed(&team)?;
        for (i, pushed) in push.iter().enumerate() {
            let stored = tx.get(&team, &pushed.id)?;
            check_rights(caller, stored.as_ref().map(|s| &s.entity), pushed, i)?;
            let mut e = pushed.clone();
            if let Some(r) = stored.as_ref().and_then(|s| resolve_status(&s.entity, &mut e)) {
                out.rejected.push(r);
            }
            let e = &e;
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
            let unchanged = stored.as_ref().is_some_and(|s| s.entity == merged);
            // The pusher lacks part of the merged version: it must come back in its feed.
            let pusher_current = merged == *pushed;
            if unchanged && pusher_current {
                continue; // Already known: a repeated push changes nothing.
            }
            seq += 1;
            out.changed += !unchanged as u32;
            let last_device = if pusher_current { caller.device.id.clone() } else { String::new() };
            tx.put(&team, &Stored { entity: merged, seq, last_device })?;
        }
        tx.set_feed(&team, seq)
    })?;
    Ok(out)
}

/// The caller's page of the team feed after `cursor`.
pub fn pull(storage: &dyn Storage, caller: &Caller, protocol: u32, cursor: i64, limit: u32) -> Result<FeedPage> {
    let viewer = Viewer {
        team_id: caller.team.id.clone(),
        member_id: caller.member.id.clone(),
        device_id: caller.device.id.clone(),
        sees_sensitive: caller.member.role == Role::Lead,
        withdrawals: protocol >= 2,
    };
    storage.feed(&viewer, cursor.max(0), limit.clamp(1, MAX_PULL as u32))
}
