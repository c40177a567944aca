//! What is noted on a walk: observations, conversations and signals.
//!
//! No field holds a resident's name, by design: a conversation is with a *role*, a signal
//! describes a situation. Free text can still contain personal data; that is for the
//! privacy checks, not for the schema.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::{MemberId, RecordId, WalkId};
use crate::location::{Location, RecordLocation};
use crate::review::Review;
use crate::taxonomy::{CategoryKind, Taxonomy};
use crate::text;
use crate::time::Moment;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Observation,
    Conversation,
    Signal,
}

impl RecordKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RecordKind::Observation => "observation",
            RecordKind::Conversation => "conversation",
            RecordKind::Signal => "signal",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "observation" => Ok(Self::Observation),
            "conversation" => Ok(Self::Conversation),
            "signal" => Ok(Self::Signal),
            _ => Err(Error::invalid("record kind", "unknown value in store")),
        }
    }
}

/// How what was seen feels: a pleasant square is worth noting too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Positive,
    Neutral,
    Concern,
}

/// What the walker sees (*waarneming*).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Observation theme codes, at least one.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 20), inner(length(min = 1, max = 64))))]
    pub themes: Vec<String>,
    pub tone: Tone,
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mood {
    Hostile,
    Tense,
    Neutral,
    Open,
    Warm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    Low,
    Medium,
    High,
}

/// A talk with people in the street (*gesprek*): with whom by role, never by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    /// Counterpart role codes, at least one.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 20), inner(length(min = 1, max = 64))))]
    pub roles: Vec<String>,
    /// How many people took part besides the walkers.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub people: u8,
    #[cfg_attr(feature = "schema", schemars(range(max = 1440)))]
    pub duration_min: u16,
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub gist: String,
    pub mood: Mood,
    pub trust: Trust,
    /// What was agreed: a follow-up, a promise, a referral.
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub agreements: String,
    /// Practical help was given on the spot (street tactic: mean something immediately).
    pub immediate_help: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    /// Someone is in danger now: act before the walk ends.
    Acute,
}

/// A signal (*signaal*) of organised crime or of a victim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// Signal category code.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub category: String,
    pub severity: Severity,
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub description: String,
    /// Seen at a known place where victims are found (*vindplaats*).
    pub at_known_place: bool,
    /// The walker's proposed next step.
    #[cfg_attr(feature = "schema", schemars(length(max = 4000)))]
    pub follow_up: String,
    /// Referral target code the walker suggests, if any; the lead decides.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub suggested_referral: Option<String>,
}

/// The kind-specific content of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecordBody {
    Observation(Observation),
    Conversation(Conversation),
    Signal(Signal),
}

const MAX_PEOPLE: u8 = 100;
const MAX_DURATION_MIN: u16 = 24 * 60;

fn check_codes(taxonomy: &Taxonomy, kind: CategoryKind, codes: &[String], field: &'static str) -> Result<()> {
    if codes.is_empty() {
        return Err(Error::invalid(field, "choose at least one"));
    }
    if codes.len() > text::MAX_CODES {
        return Err(Error::invalid(field, format!("more than {}", text::MAX_CODES)));
    }
    for (i, c) in codes.iter().enumerate() {
        taxonomy.check(kind, c, field)?;
        if codes[..i].contains(c) {
            return Err(Error::invalid(field, "a code appears twice"));
        }
    }
    Ok(())
}

impl RecordBody {
    /// Decodes a body as the store writes it — `{"kind":"…",` first, then the variant's fields
    /// — straight into its variant: serde's internally tagged decoding buffers every body
    /// before choosing, which dominated reading a walk of thousands of records. Anything not
    /// in that shape is decoded the general way.
    pub fn from_stored_json(kind: RecordKind, json: &str) -> serde_json::Result<RecordBody> {
        Self::from_stored_bytes(kind, json.as_bytes(), &mut Vec::new())
    }

    /// [`RecordBody::from_stored_json`] from the row's bytes, with a buffer the caller keeps
    /// across rows (no allocation per record; the JSON parser checks the UTF-8 it reads).
    pub fn from_stored_bytes(kind: RecordKind, json: &[u8], buf: &mut Vec<u8>) -> serde_json::Result<RecordBody> {
        let prefix: &[u8] = match kind {
            RecordKind::Observation => br#"{"kind":"observation","#,
            RecordKind::Conversation => br#"{"kind":"conversation","#,
            RecordKind::Signal => br#"{"kind":"signal","#,
        };
        let Some(rest) = json.strip_prefix(prefix) else { return serde_json::from_slice(json) };
        buf.clear();
        buf.push(b'{');
        buf.extend_from_slice(rest);
        match kind {
            RecordKind::Observation => serde_json::from_slice(buf).map(RecordBody::Observation),
            RecordKind::Conversation => serde_json::from_slice(buf).map(RecordBody::Conversation),
            RecordKind::Signal => serde_json::from_slice(buf).map(RecordBody::Signal),
        }
    }

    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::Observation(_) => RecordKind::Observation,
            RecordBody::Conversation(_) => RecordKind::Conversation,
            RecordBody::Signal(_) => RecordKind::Signal,
        }
    }

    /// The category codes this body uses, with their kind and field (for
    /// [`Taxonomy::check_added`]).
    pub fn codes(&self) -> Vec<(CategoryKind, &str, &'static str)> {
        match self {
            RecordBody::Observation(o) => {
                o.themes.iter().map(|c| (CategoryKind::ObservationTheme, c.as_str(), "themes")).collect()
            }
            RecordBody::Conversation(c) => {
                c.roles.iter().map(|r| (CategoryKind::CounterpartRole, r.as_str(), "roles")).collect()
            }
            RecordBody::Signal(s) => std::iter::once((CategoryKind::SignalCategory, s.category.as_str(), "category"))
                .chain(
                    s.suggested_referral
                        .iter()
                        .map(|r| (CategoryKind::ReferralTarget, r.as_str(), "suggested referral")),
                )
                .collect(),
        }
    }

    /// Checks every field against the rules and the team's taxonomy (retired codes included:
    /// a record may date from before its code was retired; new uses are checked where they are
    /// made, with [`Taxonomy::check_added`]).
    pub fn validate(&self, taxonomy: &Taxonomy) -> Result<()> {
        match self {
            RecordBody::Observation(o) => {
                check_codes(taxonomy, CategoryKind::ObservationTheme, &o.themes, "themes")?;
                text::check("note", &o.note, text::LONG)
            }
            RecordBody::Conversation(c) => {
                check_codes(taxonomy, CategoryKind::CounterpartRole, &c.roles, "roles")?;
                if c.people == 0 || c.people > MAX_PEOPLE {
                    return Err(Error::invalid("people", format!("must be 1..{MAX_PEOPLE}")));
                }
                if c.duration_min > MAX_DURATION_MIN {
                    return Err(Error::invalid("duration", "longer than a day"));
                }
                text::check("gist", &c.gist, text::LONG)?;
                text::check("agreements", &c.agreements, text::LONG)
            }
            RecordBody::Signal(s) => {
                taxonomy.check(CategoryKind::SignalCategory, &s.category, "category")?;
                text::check("description", &s.description, text::LONG)?;
                text::check("follow-up", &s.follow_up, text::LONG)?;
                if let Some(r) = &s.suggested_referral {
                    taxonomy.check(CategoryKind::ReferralTarget, r, "suggested referral")?;
                }
                Ok(())
            }
        }
    }

    /// Whether this record is shared on a need-to-know basis only (sensitive signal category).
    pub fn is_sensitive(&self, taxonomy: &Taxonomy) -> bool {
        match self {
            RecordBody::Signal(s) => taxonomy.get(&s.category).is_none_or(|c| c.sensitive),
            _ => false,
        }
    }
}

/// A new record as the shell hands it in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewRecord {
    pub walk_id: WalkId,
    pub body: RecordBody,
    pub created: Moment,
    /// The fix for this record; `None` indoors, when the walk's last good fix is used.
    pub location: Option<Location>,
}

/// A record as stored on the phone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    pub walk_id: WalkId,
    pub author_id: MemberId,
    pub body: RecordBody,
    pub created: Moment,
    pub location: RecordLocation,
    /// CBS code of the buurt the location lies in, if any.
    pub buurt: Option<String>,
    pub wijk: Option<String>,
    pub hlc: Hlc,
    pub reviewed_ms: Option<i64>,
    /// A lead's decisions and the author's answer.
    pub review: Review,
    pub pending_sync: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_decoding_of_stored_bodies_agrees_with_serde() {
        let bodies = [
            RecordBody::Observation(Observation {
                themes: vec!["obs.vacancy".into()],
                tone: Tone::Concern,
                note: "a \"b\", c".into(),
            }),
            RecordBody::Signal(Signal {
                category: "sig.other".into(),
                severity: Severity::Acute,
                description: "{\"kind\":\"x\"}".into(),
                at_known_place: true,
                follow_up: String::new(),
                suggested_referral: None,
            }),
        ];
        for b in bodies {
            let json = serde_json::to_string(&b).unwrap();
            assert_eq!(RecordBody::from_stored_json(b.kind(), &json).unwrap(), b);
        }
        // Another key order still decodes (the general way); unknown keys are still refused.
        let odd = r#"{"themes":["obs.vacancy"],"tone":"concern","note":"x","kind":"observation"}"#;
        assert!(matches!(RecordBody::from_stored_json(RecordKind::Observation, odd), Ok(RecordBody::Observation(_))));
        assert!(RecordBody::from_stored_json(RecordKind::Observation, r#"{"kind":"observation","bogus":1}"#).is_err());
    }
}
