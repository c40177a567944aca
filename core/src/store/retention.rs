//! The team's retention terms on the phone: the phone's own purge, and the lock of a phone
//! that has not synced for too long.
//!
//! The team server purges by the same terms ([`crate::team::Retention`]) and sends tombstones;
//! the phone does not wait for them (it may be offline for weeks): it forgets what expired by
//! itself — the rows deleted, nothing pushed (the server decides the team's copy), the file
//! vacuumed so the bytes are not left in free pages. What the team has not received yet
//! (pending) is kept until it is synced: the server's purge then takes it. Raw GPS fixes go a
//! set number of days after a lead reviewed the walk; the walk keeps its summary and
//! simplified route. Each purge leaves lines in the phone's own deletion log (what kind, which
//! id, when, why — never content).
//!
//! A phone that has not synced for the team's `lock_after_days` refuses every read and write
//! of its data ([`Error::Locked`]) until a sync succeeds: a lost phone's notes go dark even
//! before anyone revokes it. Sync itself, the status and the settings stay open.

use rusqlite::params;

use super::{read_meta, Store};
use crate::error::{Error, Result};
use crate::review::{Review, SignalStatus};
use crate::team::{Kept, Retention};

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub records: u32,
    pub walks: u32,
    /// Raw GPS fixes dropped from reviewed walks.
    pub fixes: u32,
}

/// One line of the phone's deletion log: what was forgotten, when and why — never content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PurgeEntry {
    pub at_ms: i64,
    /// `conversation`, `observation`, `signal`, `walk` or `fixes`.
    pub kind: String,
    /// The walk's or record's id (for fixes: the walk's).
    pub id: String,
    pub reason: String,
}

/// How many lines the phone's deletion log keeps (the oldest go first).
const PURGE_LOG_LINES: usize = 1_000;

impl Store {
    /// The team's retention terms as this phone last took them (`None`: none yet — everything
    /// is kept and the phone does not lock).
    pub fn retention(&self) -> Result<Option<Retention>> {
        self.read(|c| read_meta(c, "retention"))
    }

    /// The phone's deletion log, oldest first (at most the last thousand lines).
    pub fn purge_log(&self) -> Result<Vec<PurgeEntry>> {
        Ok(self.read(|c| read_meta(c, "purge_log"))?.unwrap_or_default())
    }

    /// When this phone locks unless it syncs first (`None`: it does not).
    pub fn locks_at(&self) -> Option<i64> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).locks_at
    }

    /// The phone's clock, as its stamps use it (tests may move it).
    pub(crate) fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.clock_skew_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the data is locked now.
    pub fn is_locked(&self) -> bool {
        self.locks_at().is_some_and(|at| self.now_ms() >= at)
    }

    /// Refuses while the data is locked: called first by every read and write of walks and
    /// records.
    pub(crate) fn guard(&self) -> Result<()> {
        if self.is_locked() {
            return Err(Error::Locked);
        }
        Ok(())
    }

    /// Recomputes the lock from the stored terms and the last successful sync (after a sync,
    /// after new settings, at open).
    pub(crate) fn refresh_lock(&self) -> Result<()> {
        let (terms, status): (Option<Retention>, Option<crate::sync::SyncStatus>) =
            self.read(|c| Ok((read_meta(c, "retention")?, read_meta(c, "sync_status")?)))?;
        let last = status.and_then(|s| s.last_success_ms);
        let at = match (terms, last) {
            (Some(t), Some(last)) => t.locks_at(last),
            // Terms but no recorded success (they came with a sync that is finishing now).
            (Some(t), None) => t.locks_at(self.now_ms()),
            (None, _) => None,
        };
        self.state.write().unwrap_or_else(|p| p.into_inner()).locks_at = at;
        Ok(())
    }

    /// [`Store::purge_expired`] by the phone's clock.
    pub fn purge_expired_now(&self) -> Result<Purged> {
        self.purge_expired(self.now_ms())
    }

    /// Forgets what the team's terms let expire by `now_ms`: records, walks none of whose
    /// records is kept, raw fixes of reviewed walks. Nothing is pushed; nothing the team has
    /// not received yet is touched. Safe to run at any time (the shell runs it after each
    /// sync and at start); a locked phone purges too.
    pub fn purge_expired(&self, now_ms: i64) -> Result<Purged> {
        let Some(terms) = self.retention()? else { return Ok(Purged::default()) };
        let purged = self.write(|c| {
            let mut purged = Purged::default();
            let mut log: Vec<PurgeEntry> = Vec::new();
            let line = |kind: &str, id: &[u8], reason: String| PurgeEntry {
                at_ms: now_ms,
                kind: kind.to_string(),
                id: uuid::Uuid::from_slice(id).map(|u| u.to_string()).unwrap_or_default(),
                reason,
            };
            // Only records older than the shortest term can have expired (a signal is closed
            // after it was made): a range of the time index, not every record at every sync.
            let shortest = terms.conversation_days.min(terms.observation_days).min(terms.closed_signal_days);
            let candidates_before = now_ms.saturating_sub(i64::from(shortest) * crate::team::DAY_MS);
            let expired: Vec<(Vec<u8>, String, String)> = {
                let mut st = c.tx.prepare(
                    "SELECT id, kind, created_ms, review FROM records
                     WHERE created_ms < ?1 AND deleted = 0 AND pending = 0",
                )?;
                let rows = st.query_map([candidates_before], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, kind, created_ms, review) = row?;
                    let kept = match kind.as_str() {
                        "conversation" => Kept::Conversation { created_ms },
                        "observation" => Kept::Observation { created_ms },
                        _ => Kept::Signal { created_ms, closed_ms: closed_ms(&review, created_ms) },
                    };
                    if let Some(reason) = terms.expired(kept, now_ms) {
                        out.push((id, kind, reason));
                    }
                }
                out
            };
            for (id, kind, reason) in expired {
                if c.tx.execute("DELETE FROM records WHERE id = ?1", [&id])? == 1 {
                    purged.records += 1;
                    log.push(line(&kind, &id, reason));
                }
            }
            // Walks none of whose records is kept (tombstones of its records go with it).
            let walks: Vec<(Vec<u8>, i64)> = {
                let mut st = c.tx.prepare(
                    "SELECT id, started_ms FROM walks w WHERE status <> 'active' AND pending = 0
                       AND NOT EXISTS (SELECT 1 FROM records r WHERE r.walk_id = w.id AND (r.deleted = 0 OR r.pending = 1))",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (id, started_ms) in walks {
                if let Some(reason) = terms.walk_expired(started_ms, now_ms) {
                    c.tx.execute("DELETE FROM records WHERE walk_id = ?1", [&id])?;
                    if c.tx.execute("DELETE FROM walks WHERE id = ?1", [&id])? == 1 {
                        purged.walks += 1;
                        log.push(line("walk", &id, reason));
                    }
                }
            }
            let after = i64::from(terms.raw_fixes_after_review_days) * 86_400_000;
            let reviewed: Vec<(Vec<u8>, i64)> = {
                let mut st = c.tx.prepare(
                    "SELECT w.id, count(*) FROM walks w JOIN fixes f ON f.walk_id = w.id
                     WHERE w.reviewed_ms IS NOT NULL AND w.reviewed_ms + ?1 < ?2 GROUP BY w.id",
                )?;
                let rows = st.query_map(params![after, now_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for (id, n) in reviewed {
                purged.fixes += c.tx.execute("DELETE FROM fixes WHERE walk_id = ?1", [&id])? as u32;
                let reason = format!(
                    "{n} raw fixes, {} days after the walk was reviewed",
                    terms.raw_fixes_after_review_days
                );
                log.push(line("fixes", &id, reason));
            }
            if !log.is_empty() {
                let mut all: Vec<PurgeEntry> = read_meta(&c.tx, "purge_log")?.unwrap_or_default();
                all.extend(log);
                let extra = all.len().saturating_sub(PURGE_LOG_LINES);
                all.drain(..extra);
                super::write_meta(&c.tx, "purge_log", &all)?;
            }
            Ok(purged)
        })?;
        if purged != Purged::default() {
            // The rows' bytes out of free pages and the WAL (the file is encrypted too).
            let w = super::lock(&self.writer);
            w.conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        }
        Ok(purged)
    }
}

/// When a closed signal was closed, by its review log (the moment it was made when the log
/// does not say); `None` while it is not closed.
fn closed_ms(review: &str, created_ms: i64) -> Option<i64> {
    let review: Review = serde_json::from_str(review).unwrap_or_default();
    (review.status == Some(SignalStatus::Closed)).then(|| {
        review
            .log
            .iter()
            .filter(|s| s.field == "review_status" && s.value == "closed")
            .map(|s| s.at_ms)
            .max()
            .unwrap_or(created_ms)
    })
}
