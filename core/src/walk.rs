//! The walk (*wijkverkenning*, *ronde*): who walked, why, when, and what it covered.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::{MemberId, WalkId};
use crate::review::Review;
use crate::taxonomy::{CategoryKind, Taxonomy};
use crate::text;
use crate::time::Moment;

/// At most this many people on one walk.
pub const MAX_PARTICIPANTS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WalkStatus {
    /// Under way (possibly paused).
    Active,
    /// Finished on the phone; its summary is computed.
    Ended,
    /// Handed in by the walker for review.
    Submitted,
}

impl WalkStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            WalkStatus::Active => "active",
            WalkStatus::Ended => "ended",
            WalkStatus::Submitted => "submitted",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(Self::Active),
            "ended" => Ok(Self::Ended),
            "submitted" => Ok(Self::Submitted),
            _ => Err(Error::invalid("walk status", "unknown value in store")),
        }
    }
}

/// Someone on the walk: a team member, or a guest known only by role (e.g. a *wijkagent*).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Participant {
    Member {
        member_id: MemberId,
        #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 200)))]
        display_name: String,
        #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
        organisation: String,
    },
    Guest {
        #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 200)))]
        role: String,
        /// A resident or other lay person, rather than a professional (a *wijkagent*, a
        /// housing officer): for the street tactics.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        lay_person: bool,
    },
}

/// What the walker says when starting a walk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewWalk {
    /// Others on the walk; the author is always a participant and need not be listed.
    pub participants: Vec<Participant>,
    pub purpose: String,
    /// Observation themes the walk pays attention to.
    pub focus: Vec<String>,
    pub started: Moment,
}

/// The editable details of a walk (sync merges them field by field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkDetails {
    pub participants: Vec<Participant>,
    pub purpose: String,
    pub focus: Vec<String>,
}

impl WalkDetails {
    /// The themes of the walk's focus, for [`Taxonomy::check_added`].
    pub fn codes(&self) -> Vec<(CategoryKind, &str, &'static str)> {
        self.focus.iter().map(|c| (CategoryKind::ObservationTheme, c.as_str(), "focus")).collect()
    }

    pub fn validate(&self, taxonomy: &Taxonomy) -> Result<()> {
        if self.participants.len() > MAX_PARTICIPANTS {
            return Err(Error::invalid("participants", format!("more than {MAX_PARTICIPANTS}")));
        }
        for p in &self.participants {
            match p {
                Participant::Member { display_name, organisation, .. } => {
                    text::check_required("participant name", display_name, text::SHORT)?;
                    text::check("participant organisation", organisation, text::SHORT)?;
                }
                Participant::Guest { role, .. } => text::check_required("guest role", role, text::SHORT)?,
            }
        }
        text::check("purpose", &self.purpose, text::LONG)?;
        if self.focus.len() > text::MAX_CODES {
            return Err(Error::invalid("focus", format!("more than {} themes", text::MAX_CODES)));
        }
        for code in &self.focus {
            taxonomy.check(CategoryKind::ObservationTheme, code, "focus")?;
        }
        Ok(())
    }
}

/// A pause in a walk (coffee, a long talk indoors). Open while `until` is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub from: Moment,
    pub until: Option<Moment>,
}

/// What a walk report shows about the walk as a whole, computed when it ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WalkSummary {
    /// Along good fixes, pauses left out.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 10000000.0)))]
    pub distance_m: f64,
    /// From start to end, pauses left out.
    pub walking_ms: i64,
    /// Walking time outside the team's office hours (street tactic: go out outside office hours).
    pub outside_office_hours_ms: i64,
    /// `outside_office_hours_ms / walking_ms`, 0 for a walk of no length.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub outside_office_hours_share: f64,
    pub fixes: u32,
    pub flagged_fixes: u32,
    /// Points kept in the simplified track.
    pub track_points: u32,
    pub records: u32,
}

impl WalkSummary {
    /// Numbers a walk can have: finite, not negative, a share within 0..1, no walk longer than
    /// 10,000 km or a year.
    pub fn validate(&self) -> Result<()> {
        let year_ms = 366 * 24 * 3600 * 1000;
        if !self.distance_m.is_finite() || !(0.0..=1e7).contains(&self.distance_m) {
            return Err(Error::invalid("summary", "distance must lie within 0..10,000 km"));
        }
        if !(0..=year_ms).contains(&self.walking_ms) || !(0..=year_ms).contains(&self.outside_office_hours_ms) {
            return Err(Error::invalid("summary", "walking times must lie within 0 and a year"));
        }
        if !self.outside_office_hours_share.is_finite() || !(0.0..=1.0).contains(&self.outside_office_hours_share) {
            return Err(Error::invalid("summary", "the share outside office hours must lie within 0..1"));
        }
        Ok(())
    }
}

/// The four logics a professional balances on a walk (the practice guide this product was made
/// from, Divosa §3.2): rules and accountability against what is really needed here, goals and
/// means against how people deal with each other and whether they trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Logic {
    /// Rules, procedures, accountability.
    Institutional,
    /// What is really needed here, now.
    Situational,
    /// Goals and the means to reach them.
    Instrumental,
    /// How people deal with each other; trust.
    Cultural,
}

impl Logic {
    pub const ALL: [Logic; 4] = [Logic::Institutional, Logic::Situational, Logic::Instrumental, Logic::Cultural];
}

/// The walker's look back at a walk, after it ended: which logic dominated, and a note. Kept
/// with the walk, synced, part of its report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Debrief {
    pub dominant: Option<Logic>,
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub note: String,
}

impl Debrief {
    pub fn validate(&self) -> Result<()> {
        text::check("debrief note", &self.note, text::LONG)
    }
}

/// A walk as stored on the phone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Walk {
    pub id: WalkId,
    pub author_id: MemberId,
    pub details: WalkDetails,
    pub started: Moment,
    pub pauses: Vec<Pause>,
    pub ended: Option<Moment>,
    pub status: WalkStatus,
    /// CBS codes of the buurten the walk passed through or noted something in, sorted.
    pub buurten: Vec<String>,
    pub summary: Option<WalkSummary>,
    pub hlc: Hlc,
    pub reviewed_ms: Option<i64>,
    /// A lead's question about the walk and the author's answer.
    pub review: Review,
    /// The walker's look back, once the walk ended.
    pub debrief: Option<Debrief>,
    /// Changed on the phone since the team last acknowledged it.
    pub pending_sync: bool,
}

impl Walk {
    pub fn is_paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.until.is_none())
    }

    /// The stretches of walking time: start to end (or `now_ms`) minus the pauses.
    pub fn active_intervals(&self, now_ms: i64) -> Vec<(i64, i64)> {
        let end = self.ended.map(|m| m.utc_ms).unwrap_or(now_ms);
        let mut out = Vec::new();
        let mut from = self.started.utc_ms;
        for p in &self.pauses {
            out.push((from, p.from.utc_ms.min(end)));
            from = p.until.map(|u| u.utc_ms).unwrap_or(end);
        }
        out.push((from, end));
        out.retain(|(a, b)| b > a);
        out
    }

    /// Whether `at_ms` falls in a pause.
    pub fn paused_at(&self, at_ms: i64) -> bool {
        self.pauses.iter().any(|p| at_ms >= p.from.utc_ms && p.until.is_none_or(|u| at_ms < u.utc_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_intervals_leave_out_pauses() {
        let m = |ms| Moment { utc_ms: ms, offset_s: 0 };
        let w = Walk {
            id: WalkId::new(),
            author_id: MemberId::new(),
            details: WalkDetails { participants: vec![], purpose: String::new(), focus: vec![] },
            started: m(1_000),
            pauses: vec![Pause { from: m(2_000), until: Some(m(3_000)) }, Pause { from: m(4_000), until: None }],
            ended: None,
            status: WalkStatus::Active,
            buurten: vec![],
            summary: None,
            hlc: Hlc::ZERO,
            reviewed_ms: None,
            review: Review::default(),
            debrief: None,
            pending_sync: true,
        };
        assert_eq!(w.active_intervals(5_000), vec![(1_000, 2_000), (3_000, 4_000)]);
        assert!(w.is_paused());
        assert!(w.paused_at(2_500) && w.paused_at(4_500) && !w.paused_at(3_500));
    }
}
