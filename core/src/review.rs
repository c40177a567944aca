//! The review loop: a team lead's decisions on a walk or record, and the author's answer.
//!
//! Leads decide (a signal's status and referral, a question, "reviewed"); the author answers.
//! Both travel by sync; each field carries its own clock so a lead's decision and an author's
//! answer made at the same time both survive.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::taxonomy::{CategoryKind, Taxonomy};
use crate::text;

/// Where a signal is in its follow-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignalStatus {
    /// Noted in the field, not yet looked at by a lead.
    New,
    /// A lead is looking into it.
    InReview,
    /// Handed to police, RIEC, municipality, care or Veilig Thuis (see `referral`).
    Referred,
    /// Nothing (more) to do.
    Closed,
}

impl SignalStatus {
    /// The allowed transitions. Reopening a closed or referred signal goes through review.
    pub fn can_become(self, next: SignalStatus) -> bool {
        use SignalStatus::*;
        matches!(
            (self, next),
            (New, InReview)
                | (New, Referred)
                | (New, Closed)
                | (InReview, Referred)
                | (InReview, Closed)
                | (Referred, Closed)
                | (Referred, InReview)
                | (Closed, InReview)
        ) || self == next
    }
}

/// Review state of a walk or record. All fields optional: most records are never questioned.
///
/// One question is open at a time: a lead's new question replaces the last one and clears its
/// answer (the log keeps both, see [`ReviewStep::text`]), so an answer always belongs to the
/// question shown with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Signals only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SignalStatus>,
    /// Referral target code; required when the status is `Referred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<String>,
    /// The lead's question to the author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The author's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Who decided what when, as the team server recorded it (newest last). Written by the
    /// server only: a decision made here leaves it as it is, and sync brings the new step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<ReviewStep>,
}

/// Most steps of a review log an entity carries (the newest; the team server keeps them all).
pub const MAX_LOG_STEPS: usize = 50;

/// The review fields a log step can name.
pub const LOGGED_FIELDS: &[&str] =
    &["review_status", "review_referral", "review_question", "review_answer", "reviewed_ms"];

/// One step in the review of a walk or record: who changed which review field to what, when,
/// with the lead's comment. The team server writes these when it accepts a change (from a
/// phone or the review pages) and sends them with the entity, so phone and pages show the same
/// history. Never the text of a question or answer: `value` is a short code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviewStep {
    /// When the server accepted the change (UTC ms).
    pub at_ms: i64,
    /// The member who made it: a lead, or the author answering.
    #[cfg_attr(feature = "schema", schemars(length(min = 36, max = 36)))]
    pub by: String,
    /// That member's display name then.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 200)))]
    pub by_name: String,
    /// Which review field changed (one of [`LOGGED_FIELDS`]).
    pub field: String,
    /// The new value as a short code: a status (`referred`), a referral target (`ref.police`),
    /// `asked`, `answered`, `reviewed`, or `cleared`.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub value: String,
    /// The lead's comment on the step, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 4000)))]
    pub comment: Option<String>,
    /// For `asked` and `answered`: the question or answer itself, so that earlier questions and
    /// their answers stay readable when a lead asks again (the same need-to-know as the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 4000)))]
    pub text: Option<String>,
}

impl ReviewStep {
    pub fn validate(&self) -> Result<()> {
        crate::text::check_required("review log", &self.by_name, text::SHORT)?;
        if uuid::Uuid::parse_str(&self.by).map_or(true, |u| u.hyphenated().to_string() != self.by) {
            return Err(Error::invalid("review log", "a step names its member by id"));
        }
        if !LOGGED_FIELDS.contains(&self.field.as_str()) {
            return Err(Error::invalid("review log", "a step names a review field"));
        }
        let code = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if self.value.is_empty() || self.value.len() > 64 || !self.value.chars().all(code) {
            return Err(Error::invalid("review log", "a step's value is a short code"));
        }
        for t in [&self.comment, &self.text].into_iter().flatten() {
            text::check_required("review log", t, text::LONG)?;
        }
        Ok(())
    }
}

impl Review {
    /// Whether the record is out of its author's hands: a lead reviewed it, or referred the
    /// signal to another organisation (what was referred must stay what was referred). The
    /// author can still answer a question; a lead can still decide. The phone and the team
    /// server apply the same rule.
    pub fn freezes_content(&self, reviewed_ms: Option<i64>) -> bool {
        reviewed_ms.is_some() || self.status == Some(SignalStatus::Referred)
    }

    /// The referral target, for [`Taxonomy::check_added`].
    pub fn codes(&self) -> Vec<(CategoryKind, &str, &'static str)> {
        self.referral.iter().map(|r| (CategoryKind::ReferralTarget, r.as_str(), "referral")).collect()
    }

    pub fn validate(&self, taxonomy: &Taxonomy) -> Result<()> {
        if let Some(r) = &self.referral {
            taxonomy.check(CategoryKind::ReferralTarget, r, "referral")?;
        }
        if self.status == Some(SignalStatus::Referred) && self.referral.is_none() {
            return Err(Error::invalid("referral", "a referred signal needs a referral target"));
        }
        for (field, t) in [("question", &self.question), ("answer", &self.answer)] {
            if let Some(t) = t {
                text::check_required(field, t, text::LONG)?;
            }
        }
        if self.log.len() > MAX_LOG_STEPS {
            return Err(Error::invalid("review log", format!("more than {MAX_LOG_STEPS} steps")));
        }
        for step in &self.log {
            step.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SignalStatus::*;

    #[test]
    fn transitions() {
        assert!(New.can_become(Referred));
        assert!(Closed.can_become(InReview));
        assert!(!Closed.can_become(Referred));
        assert!(!Referred.can_become(New));
        assert!(!InReview.can_become(New));
    }
}
