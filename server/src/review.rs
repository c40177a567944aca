//! A lead's decisions from the browser: review a walk or record, ask its author a question,
//! move a signal through triage. Each becomes a change to the entity, stamped with a clock by
//! the server, and goes through the same rules as a phone's push (`sync::apply_push`): the
//! lead's rights, the signal's allowed transitions, validation of the result. So it reaches
//! the phones by the ordinary sync, and the review history records it with the comment.

use serde_json::Value;
use wijkverkenner_core::review::SignalStatus;
use wijkverkenner_core::sync::wire::Entity;
use wijkverkenner_core::{text, CategoryKind, Hlc};

use crate::error::Result;
use crate::storage::{Caller, Device, Member, Role, Storage, Team};
use crate::sync::{apply_push_commented, Rules};

/// What a lead decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A signal's triage step; `referral` (a referral-target code) with `Referred`.
    Status { status: SignalStatus, referral: Option<String> },
    /// A question to the author, answered on the phone.
    Ask(String),
    /// Seen and done: the author's content is frozen from now on.
    Reviewed,
}

/// Why a decision did not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No such walk or record in the team (or the lead may not see it).
    NotFound,
    /// Only leads decide.
    NotALead,
    /// The rules refused it: the code of the refusal (`status`, `invalid`, `not_allowed`, …).
    Rule(String),
}

/// The clock of a change made on the server: later than every clock the entity carries, and
/// at least the server's time. Its node is derived from the lead's member id, so two leads'
/// decisions in the same millisecond still order.
fn server_clock(stored: &Entity, member_id: &str, now_ms: i64) -> Hlc {
    let node = uuid::Uuid::parse_str(member_id).map(|u| u.as_u64_pair().1).unwrap_or(0);
    stored.hlc.max(stored.max_clock()).tick(now_ms.max(0) as u64, node)
}

/// Applies `decision` by `lead` on the walk or record `entity_id`, with an optional comment for
/// the history (trimmed; at most [`text::LONG`] characters).
pub fn decide(
    storage: &dyn Storage,
    rules: Rules,
    lead: &Member,
    team: &Team,
    entity_id: &str,
    decision: &Decision,
    comment: Option<&str>,
) -> Result<std::result::Result<(), Refused>> {
    if lead.role != Role::Lead || lead.team_id != team.id || lead.disabled_ms.is_some() {
        return Ok(Err(Refused::NotALead));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = comment {
        if text::check_required("comment", c, text::LONG).is_err() {
            return Ok(Err(Refused::Rule("invalid".into())));
        }
    }
    let mut stored = None;
    storage.transaction(&mut |tx| {
        stored = tx.get(&team.id, entity_id)?;
        Ok(())
    })?;
    let Some(stored) = stored.filter(|s| !s.quarantined && !s.entity.deleted).map(|s| s.entity) else {
        return Ok(Err(Refused::NotFound));
    };
    let now = chrono::Utc::now().timestamp_millis();
    let clock = server_clock(&stored, &lead.id, now);
    let mut changed = stored.clone();
    let mut set = |field: &str, value: Value| {
        changed.fields.insert(field.into(), value);
        changed.clocks.insert(field.into(), clock);
    };
    match decision {
        Decision::Status { status, referral } => {
            // A retired referral target stays on the signals referred to it, but no new
            // referral goes there (the page offers only the team's current targets).
            let before = stored.fields.get("review_referral").and_then(|v| v.as_str());
            if let Some(r) = referral.as_deref().filter(|r| Some(*r) != before) {
                if rules.taxonomy.check_offered(CategoryKind::ReferralTarget, r, "referral").is_err() {
                    return Ok(Err(Refused::Rule("invalid".into())));
                }
            }
            set("review_status", serde_json::to_value(status)?);
            if let Some(r) = referral {
                set("review_referral", Value::String(r.clone()));
            }
        }
        Decision::Ask(q) => {
            // A new question replaces the last one; its answer goes with it (the log keeps both).
            let q = q.trim().to_string();
            let replaced = stored.fields.get("review_question").and_then(|v| v.as_str()) != Some(q.as_str());
            if replaced && stored.fields.get("review_answer").is_some_and(|v| !v.is_null()) {
                set("review_answer", Value::Null);
            }
            set("review_question", Value::String(q));
        }
        Decision::Reviewed => set("reviewed_ms", Value::from(now)),
    }
    changed.hlc = clock;
    // The browser is no device: a caller whose device id no phone has, so the change goes to
    // every phone (its own included) through the feed.
    let caller = Caller {
        device: Device {
            id: format!("web:{}", lead.id),
            member_id: lead.id.clone(),
            name: "browser".into(),
            credential_hash: String::new(),
            created_ms: now,
            last_seen_ms: None,
            revoked_ms: None,
        },
        member: lead.clone(),
        team: team.clone(),
    };
    let mut push = vec![changed];
    // A walk reviewed is a walk reviewed with its records, as on a lead's phone.
    if *decision == Decision::Reviewed && stored.kind == wijkverkenner_core::sync::wire::EntityKind::Walk {
        for row in storage.walk_records(&team.id, entity_id)? {
            let Ok(r) = row.parse() else { continue };
            let mut r = r.entity;
            if r.deleted || r.fields.get("reviewed_ms").is_some_and(|v| !v.is_null()) {
                continue;
            }
            let clock = server_clock(&r, &lead.id, now);
            r.fields.insert("reviewed_ms".into(), Value::from(now));
            r.clocks.insert("reviewed_ms".into(), clock);
            r.hlc = clock;
            push.push(r);
        }
    }
    // The walk first, with its comment; its records after it, a push's worth at a time.
    let mut refused = None;
    for (i, chunk) in push.chunks(wijkverkenner_core::sync::wire::MAX_PUSH).enumerate() {
        let pushed = apply_push_commented(storage, &caller, chunk, rules, if i == 0 { comment } else { None })?;
        if let Some(r) = pushed.rejected.into_iter().find(|r| r.id == entity_id) {
            refused = Some(r.code);
        }
    }
    Ok(match refused {
        Some(code) => Err(Refused::Rule(code)),
        None => Ok(()),
    })
}
