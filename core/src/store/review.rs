//! The review loop on the phone: a lead's decisions and the author's answers, each a field
//! with its own clock so sync can merge a decision and an answer made at the same time.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use serde_json::json;
use uuid::Uuid;

use super::{Change, Store};
use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::{MemberId, RecordId, WalkId};
use crate::member::MemberRole;
use crate::review::{Review, SignalStatus};

/// One row's review state, as stored.
struct ReviewRow {
    author_id: MemberId,
    review: Review,
    reviewed_ms: Option<i64>,
    clocks: BTreeMap<String, Hlc>,
    is_signal: bool,
}

/// `id` is a record's or a walk's id, as stored (16 bytes).
fn load(c: &Change, table: &str, id: Uuid) -> Result<ReviewRow> {
    let kind_col = if table == "records" { "kind" } else { "'walk'" };
    let deleted = if table == "records" { "AND deleted = 0" } else { "" };
    let row: Option<(MemberId, String, Option<i64>, String, String)> =
        c.tx.prepare_cached(&format!(
            "SELECT author_id, review, reviewed_ms, field_clocks, {kind_col} FROM {table} WHERE id = ?1 {deleted}"
        ))?
        .query_row([&id.as_bytes()[..]], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    let (author_id, review, reviewed_ms, clocks, kind) =
        row.ok_or(Error::NotFound(if table == "records" { "record" } else { "walk" }))?;
    Ok(ReviewRow {
        author_id,
        review: serde_json::from_str(&review)?,
        reviewed_ms,
        clocks: serde_json::from_str(&clocks)?,
        is_signal: kind == "signal",
    })
}

fn save(c: &mut Change, table: &str, id: Uuid, row: &mut ReviewRow, changed: &[&str]) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let hlc = c.tick();
    for f in changed {
        row.clocks.insert((*f).to_string(), hlc);
    }
    c.tx.prepare_cached(&format!(
        "UPDATE {table} SET review = ?2, reviewed_ms = ?3, field_clocks = ?4, hlc = ?5, pending = 1 WHERE id = ?1"
    ))?
    .execute(rusqlite::params![
        &id.as_bytes()[..],
        serde_json::to_string(&row.review)?,
        row.reviewed_ms,
        serde_json::to_string(&row.clocks)?,
        hlc.to_string()
    ])?;
    Ok(())
}

/// A new question replaces the last one: its answer goes with it (the log keeps both).
fn clear_answer_of_replaced_question(old: &Review, next: &mut Review) {
    if next.question.is_some() && next.question != old.question {
        next.answer = None;
    }
}

fn field_changes(old: &Review, new: &Review) -> Vec<&'static str> {
    let mut v = Vec::new();
    if old.answer != new.answer {
        v.push("review_answer");
    }
    if json!(old.status) != json!(new.status) {
        v.push("review_status");
    }
    if old.referral != new.referral {
        v.push("review_referral");
    }
    if old.question != new.question {
        v.push("review_question");
    }
    v
}

impl Store {
    fn require_lead(&self) -> Result<()> {
        match self.require_identity()?.member.role {
            MemberRole::Lead => Ok(()),
            MemberRole::FieldWorker => Err(Error::NotAuthor),
        }
    }

    /// A lead's decision on a record: a signal's status and referral, a question to the
    /// author. The author's answer is kept. Sent to the author on the next sync.
    pub fn review_record(&self, id: &RecordId, decision: Review) -> Result<()> {
        self.guard()?;
        self.require_lead()?;
        let taxonomy = self.taxonomy();
        self.write(|c| {
            let mut row = load(c, "records", id.as_uuid())?;
            // The author's answer and the server's log stay as they are.
            let mut next = Review { answer: row.review.answer.clone(), log: row.review.log.clone(), ..decision };
            clear_answer_of_replaced_question(&row.review, &mut next);
            next.validate(&taxonomy)?;
            taxonomy.check_added(next.codes(), &row.review.codes())?;
            if next.status.is_some() && !row.is_signal {
                return Err(Error::invalid("status", "only signals have a status"));
            }
            let from = row.review.status.unwrap_or(SignalStatus::New);
            if let Some(to) = next.status {
                if !from.can_become(to) {
                    return Err(Error::invalid("status", format!("a signal cannot go from {from:?} to {to:?}")));
                }
            }
            let changed = field_changes(&row.review, &next);
            row.review = next;
            save(c, "records", id.as_uuid(), &mut row, &changed)
        })
    }

    /// A lead marks a record reviewed: the author can no longer change it.
    pub fn mark_record_reviewed(&self, id: &RecordId) -> Result<()> {
        self.guard()?;
        self.require_lead()?;
        self.write(|c| {
            let mut row = load(c, "records", id.as_uuid())?;
            if row.reviewed_ms.is_some() {
                return Ok(());
            }
            row.reviewed_ms = Some(chrono::Utc::now().timestamp_millis());
            save(c, "records", id.as_uuid(), &mut row, &["reviewed_ms"])
        })
    }

    /// A lead's question about a walk, and whether the walk (with all its records) is reviewed.
    pub fn review_walk(&self, id: &WalkId, question: Option<String>, reviewed: bool) -> Result<()> {
        self.guard()?;
        self.require_lead()?;
        let taxonomy = self.taxonomy();
        self.write(|c| {
            let mut row = load(c, "walks", id.as_uuid())?;
            let mut next = Review { question, ..row.review.clone() };
            clear_answer_of_replaced_question(&row.review, &mut next);
            next.validate(&taxonomy)?;
            let mut changed = field_changes(&row.review, &next);
            row.review = next;
            if reviewed && row.reviewed_ms.is_none() {
                row.reviewed_ms = Some(chrono::Utc::now().timestamp_millis());
                changed.push("reviewed_ms");
            }
            save(c, "walks", id.as_uuid(), &mut row, &changed)?;
            if reviewed {
                let ids: Vec<RecordId> =
                    c.tx.prepare_cached(
                        "SELECT id FROM records WHERE walk_id = ?1 AND deleted = 0 AND reviewed_ms IS NULL",
                    )?
                    .query_map([id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for rid in ids {
                    let mut r = load(c, "records", rid.as_uuid())?;
                    r.reviewed_ms = row.reviewed_ms;
                    save(c, "records", rid.as_uuid(), &mut r, &["reviewed_ms"])?;
                }
            }
            Ok(())
        })
    }

    /// The author answers a lead's question about a record.
    pub fn answer_review(&self, id: &RecordId, answer: &str) -> Result<()> {
        self.guard()?;
        self.answer("records", id.as_uuid(), answer)
    }

    /// The author answers a lead's question about a walk.
    pub fn answer_walk_question(&self, id: &WalkId, answer: &str) -> Result<()> {
        self.guard()?;
        self.answer("walks", id.as_uuid(), answer)
    }

    fn answer(&self, table: &'static str, id: Uuid, answer: &str) -> Result<()> {
        crate::text::check_required("answer", answer, crate::text::LONG)?;
        let me = self.require_identity()?;
        self.write(|c| {
            let mut row = load(c, table, id)?;
            if row.author_id != me.member.id {
                return Err(Error::NotAuthor);
            }
            if row.review.answer.as_deref() == Some(answer) {
                return Ok(());
            }
            row.review.answer = Some(answer.to_string());
            save(c, table, id, &mut row, &["review_answer"])
        })
    }
}
