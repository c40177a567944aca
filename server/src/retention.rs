//! Retention: records are kept as long as the team's terms say, then purged.
//!
//! A purge turns an expired walk or record into a tombstone stamped by the server (the same as
//! `entity-delete`): its content and place are gone from the server at once, and every phone
//! that holds it deletes its copy at its next sync (deletion wins over any clock). The review
//! history of a purged entity goes too (it holds the leads' comments); the deletion log keeps
//! which entity, of what kind, when and why — never its content; the database's files are then
//! compacted so the bytes are not left in free pages.
//!
//! The terms are the core's [`Retention`] (phones purge by the same rules and take the terms
//! with the team's settings). Per team (`wijkverkenner-server retention`), counted from when
//! the record was made — for a closed signal from when it was closed:
//! - conversations: 365 days (whom a walker talked with is the most personal thing noted);
//! - observations: 730 days;
//! - closed signals: 1,825 days (the municipality sets this: its covenant's term); open ones
//!   are kept while they are open;
//! - walks: 730 days, and only once none of their records is kept;
//! - on phones only: raw GPS fixes 30 days after a lead reviewed the walk, and a phone that has
//!   not synced for 30 days locks its data until it syncs.

use crate::error::Result;
use crate::storage::{Deletion, Storage};
use wijkverkenner_core::team::Kept;
pub use wijkverkenner_core::team::Retention;

/// The team's terms (the defaults until an administrator sets them).
pub fn terms(storage: &dyn Storage, team_id: &str) -> Result<Retention> {
    Ok(match storage.retention(team_id)? {
        Some(json) => serde_json::from_str(&json)?,
        None => Retention::default(),
    })
}

/// Sets the team's terms; they reach every phone with the team's settings (the settings'
/// version counts up in the same transaction).
pub fn set_terms(storage: &dyn Storage, team_id: &str, terms: &Retention, now_ms: i64) -> Result<()> {
    terms.check().map_err(|e| crate::error::ApiError::bad_request("invalid_retention", e.to_string()))?;
    storage.set_retention(team_id, &serde_json::to_string(terms)?, now_ms)
}

/// Purges what the team's terms let expire by `now_ms`; returns the deletion log entries it
/// wrote. Safe to run again: a tombstone is not purged twice.
pub fn purge(storage: &dyn Storage, team_id: &str, now_ms: i64) -> Result<Vec<Deletion>> {
    let terms = terms(storage, team_id)?;
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let mut live = Vec::new();
    for row in storage.entities_after(team_id, 0)? {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(&row.doc) else { continue };
        if doc.get("deleted").and_then(|d| d.as_bool()) == Some(true) {
            continue;
        }
        live.push(doc);
    }
    let mut expired: Vec<(String, String, String)> = Vec::new();
    let mut kept_walks = std::collections::BTreeSet::new();
    for doc in &live {
        let (id, kind) = (text(doc, "id"), text(doc, "kind"));
        let created = doc.get("created_ms").and_then(|v| v.as_i64()).unwrap_or(now_ms);
        let why = match kind.as_str() {
            "conversation" => terms.expired(Kept::Conversation { created_ms: created }, now_ms),
            "observation" => terms.expired(Kept::Observation { created_ms: created }, now_ms),
            "signal" if doc.pointer("/fields/review_status").and_then(|s| s.as_str()) == Some("closed") => {
                let closed_ms = closed_at(storage, team_id, &id)?.unwrap_or(created);
                terms.expired(Kept::Signal { created_ms: created, closed_ms: Some(closed_ms) }, now_ms)
            }
            _ => None,
        };
        match why {
            Some(reason) => expired.push((id, kind, reason)),
            None if kind != "walk" => {
                kept_walks.insert(text(doc, "walk_id"));
            }
            None => {}
        }
    }
    for doc in &live {
        let (id, kind) = (text(doc, "id"), text(doc, "kind"));
        let created = doc.get("created_ms").and_then(|v| v.as_i64()).unwrap_or(now_ms);
        if kind == "walk" && !kept_walks.contains(&id) {
            if let Some(reason) = terms.walk_expired(created, now_ms) {
                expired.push((id, kind, reason));
            }
        }
    }
    let mut log = Vec::new();
    for (id, kind, reason) in expired {
        if crate::sync::delete_entity(storage, team_id, &id)? {
            storage.forget_history(team_id, &id)?;
            let d = Deletion { team_id: team_id.to_string(), at_ms: now_ms, entity_id: id, kind, reason };
            storage.log_deletion(&d)?;
            log.push(d);
        }
    }
    let photos_gone = crate::photos::sweep(storage, team_id, now_ms)?;
    if !log.is_empty() || photos_gone > 0 {
        storage.compact()?;
        tracing::info!(team = %team_id, purged = log.len(), "retention purge");
    }
    Ok(log)
}

/// When a signal was last closed, by its review history.
fn closed_at(storage: &dyn Storage, team_id: &str, id: &str) -> Result<Option<i64>> {
    Ok(storage
        .history(team_id, id)?
        .into_iter()
        .filter(|h| h.field == "review_status" && h.value == "closed")
        .map(|h| h.at_ms)
        .max())
}

/// How long the audit trail is kept, by default (`serve --audit-days`): two years.
pub const AUDIT_DAYS: u32 = 730;
/// The shortest and longest terms an operator may set for it.
pub const AUDIT_DAYS_RANGE: std::ops::RangeInclusive<u32> = 180..=3650;

/// Deletes the audit trail's entries older than `days` (the trail's own term); the purge is
/// itself an entry of the trail (server-wide: team ``), with how many went and before when.
pub fn purge_audit(storage: &dyn Storage, now_ms: i64, days: u32) -> Result<u64> {
    if !AUDIT_DAYS_RANGE.contains(&days) {
        return Err(crate::error::ApiError::bad_request(
            "invalid_audit_days",
            format!("the audit trail is kept {}..{} days", AUDIT_DAYS_RANGE.start(), AUDIT_DAYS_RANGE.end()),
        )
        .into());
    }
    let before = now_ms - i64::from(days) * 86_400_000;
    let n = storage.purge_audit(before)?;
    if n > 0 {
        let event = crate::storage::AuditEvent {
            team_id: String::new(),
            at_ms: now_ms,
            actor: "server".into(),
            action: "purge".into(),
            object: format!("audit trail older than {days} days"),
            result: format!("{n} entries deleted"),
            origin: "server".into(),
        };
        crate::web::record_audit(storage, &event)?;
    }
    Ok(n)
}

/// Every team's purge, for the server's daily run.
pub fn purge_all(storage: &dyn Storage, now_ms: i64) -> Result<usize> {
    let mut n = 0;
    for team in storage.team_ids()? {
        n += purge(storage, &team, now_ms)?.len();
    }
    Ok(n)
}
