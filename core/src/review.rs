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
