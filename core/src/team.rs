//! A team's settings: what the team's administrator decides for every phone of the team — the
//! categories (the taxonomy), the office hours, the buurt boundaries and the retention terms. The team server keeps
//! them; a phone takes them at sync when the sync answer names a version it does not hold
//! (docs/sync-protocol.md, "Team settings"), so every phone of a team tags, validates and
//! reports alike.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::neighbourhood::Neighbourhoods;
use crate::taxonomy::Taxonomy;
use crate::track::OfficeHours;

/// Largest settings document (boundaries included), as JSON: well within what a phone takes
/// in one answer ([`crate::sync::wire::MAX_BODY_BYTES`]). A municipality's buurten are a few
/// MB at most.
pub const MAX_SETTINGS_BYTES: usize = 32 * 1024 * 1024;

/// A team's settings as the server sends them (`POST /v1/settings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// Names this version of the settings; the sync answer's `settings` carries the same tag.
    /// Opaque: a phone compares it for equality only.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub tag: String,
    pub taxonomy: Taxonomy,
    pub office_hours: OfficeHours,
    /// The team's buurten as a GeoJSON FeatureCollection (`code`, `name`, `wijk_code`,
    /// `wijk_name` in each feature's properties); `None`: the team has no boundaries, and
    /// records are not tagged with a buurt.
    #[serde(default)]
    pub buurten: Option<serde_json::Value>,
    /// The team's active members who walk (not its administrators), so a walker can name the
    /// colleagues along. Names as the team knows them; nothing else about them.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 2000)))]
    pub members: Vec<Colleague>,
    /// How long the team keeps what it records, and when an unsynced phone locks (protocol 5;
    /// a phone that has none keeps everything, unlocked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// A team's retention terms, the same on the team server (its purge) and on every phone (its
/// own purge and lock). Counted from when the record was made; for a closed signal from when
/// it was closed; open signals are kept while they are open; a walk only once none of its
/// records is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 10980)))]
    pub conversation_days: u32,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 10980)))]
    pub observation_days: u32,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 10980)))]
    pub closed_signal_days: u32,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 10980)))]
    pub walk_days: u32,
    /// A walk's raw GPS fixes stay on the walker's phone this many days after a lead reviewed
    /// the walk (its summary and simplified route stay with the walk); 0: at the review.
    #[serde(default = "Retention::default_raw_fixes")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 10980)))]
    pub raw_fixes_after_review_days: u32,
    /// A phone that has not synced for this many days locks its data until it syncs again (a
    /// lost phone's notes go dark before anyone revokes it); 0: never.
    #[serde(default = "Retention::default_lock")]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 10980)))]
    pub lock_after_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            conversation_days: 365,
            observation_days: 730,
            closed_signal_days: 1_825,
            walk_days: 730,
            raw_fixes_after_review_days: Self::default_raw_fixes(),
            lock_after_days: Self::default_lock(),
        }
    }
}

/// What a retention check looks at of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    Conversation {
        created_ms: i64,
    },
    Observation {
        created_ms: i64,
    },
    /// `closed_ms`: when it was last closed, if it is closed now.
    Signal {
        created_ms: i64,
        closed_ms: Option<i64>,
    },
}

impl Retention {
    fn default_raw_fixes() -> u32 {
        30
    }
    fn default_lock() -> u32 {
        30
    }

    /// Terms a team may set: 1 day to 30 years (raw fixes and the lock from 0).
    pub fn check(&self) -> Result<()> {
        let max = 30 * 366;
        for (name, d, min) in [
            ("conversation_days", self.conversation_days, 1),
            ("observation_days", self.observation_days, 1),
            ("closed_signal_days", self.closed_signal_days, 1),
            ("walk_days", self.walk_days, 1),
            ("raw_fixes_after_review_days", self.raw_fixes_after_review_days, 0),
            ("lock_after_days", self.lock_after_days, 0),
        ] {
            if !(min..=max).contains(&d) {
                return Err(Error::invalid("retention", format!("{name} lies within {min}..{max}")));
            }
        }
        Ok(())
    }

    /// Why a record is past its term at `now_ms` (for the deletion log), or `None` when it is
    /// kept.
    pub fn expired(&self, record: Kept, now_ms: i64) -> Option<String> {
        let older = |days: u32, from: i64| now_ms - from > i64::from(days) * DAY_MS;
        match record {
            Kept::Conversation { created_ms } if older(self.conversation_days, created_ms) => {
                Some(format!("conversation older than {} days", self.conversation_days))
            }
            Kept::Observation { created_ms } if older(self.observation_days, created_ms) => {
                Some(format!("observation older than {} days", self.observation_days))
            }
            // Closed no earlier than made, whatever a skewed clock wrote (server and phones
            // alike; a phone's purge looks only at records older than the shortest term).
            Kept::Signal { created_ms, closed_ms: Some(closed) }
                if older(self.closed_signal_days, closed.max(created_ms)) =>
            {
                Some(format!("signal closed more than {} days ago", self.closed_signal_days))
            }
            _ => None,
        }
    }

    /// Whether a walk made at `started_ms`, none of whose records is kept, is past its term.
    pub fn walk_expired(&self, started_ms: i64, now_ms: i64) -> Option<String> {
        (now_ms - started_ms > i64::from(self.walk_days) * DAY_MS)
            .then(|| format!("walk older than {} days, none of its records kept", self.walk_days))
    }

    /// When a phone whose last sync succeeded at `last_sync_ms` locks (`None`: never).
    pub fn locks_at(&self, last_sync_ms: i64) -> Option<i64> {
        (self.lock_after_days > 0).then(|| last_sync_ms.saturating_add(i64::from(self.lock_after_days) * DAY_MS))
    }

    /// Raw fixes of a walk a lead reviewed at `reviewed_ms` are dropped after this moment.
    pub fn raw_fixes_until(&self, reviewed_ms: i64) -> i64 {
        reviewed_ms.saturating_add(i64::from(self.raw_fixes_after_review_days) * DAY_MS)
    }
}

/// A member of the team as a colleague's phone knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Colleague {
    #[cfg_attr(feature = "schema", schemars(length(min = 36, max = 36)))]
    pub id: String,
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 200)))]
    pub name: String,
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub organisation: String,
}

impl TeamSettings {
    /// Parses a settings document and checks all of it: the taxonomy, the office hours and the
    /// boundaries (returned parsed, ready for lookups).
    pub fn from_json(json: &[u8]) -> Result<(TeamSettings, Option<Neighbourhoods>)> {
        if json.len() > MAX_SETTINGS_BYTES {
            return Err(Error::invalid("team settings", format!("larger than {MAX_SETTINGS_BYTES} bytes")));
        }
        let s: TeamSettings = serde_json::from_slice(json)
            .map_err(|e| Error::invalid("team settings", format!("not a settings document: {e}")))?;
        let places = s.check()?;
        Ok((s, places))
    }

    /// Checks what parsing alone does not: a tag, office hours that can be computed with, and
    /// boundaries that load.
    pub fn check(&self) -> Result<Option<Neighbourhoods>> {
        let tag_ok = (1..=100).contains(&self.tag.len()) && self.tag.chars().all(|c| c.is_ascii_graphic());
        if !tag_ok {
            return Err(Error::invalid("settings tag", "1..100 printable ASCII characters"));
        }
        self.office_hours.validate()?;
        if let Some(r) = &self.retention {
            r.check()?;
        }
        if self.members.len() > 2000 {
            return Err(Error::invalid("team members", "more than 2,000"));
        }
        for m in &self.members {
            if m.id.parse::<crate::id::MemberId>().is_err() {
                return Err(Error::invalid("team members", "a member is named by id"));
            }
            crate::text::check_label("team member", &m.name, crate::text::SHORT)?;
            if !m.organisation.is_empty() {
                crate::text::check_label("team member", &m.organisation, crate::text::SHORT)?;
            }
        }
        match &self.buurten {
            Some(doc) => Ok(Some(Neighbourhoods::from_geojson(&doc.to_string(), None)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utrecht() -> Neighbourhoods {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/utrecht");
        let b = std::fs::read_to_string(format!("{dir}/buurt.geojson")).unwrap();
        let w = std::fs::read_to_string(format!("{dir}/wijk.geojson")).unwrap();
        Neighbourhoods::from_geojson(&b, Some(&w)).unwrap()
    }

    #[test]
    fn settings_travel_whole() {
        let n = utrecht();
        let s = TeamSettings {
            tag: "v3".into(),
            taxonomy: Taxonomy::default_taxonomy(),
            office_hours: OfficeHours { start: "09:00".into(), ..Default::default() },
            buurten: Some(n.to_geojson()),
            members: vec![Colleague {
                id: crate::id::MemberId::new().to_string(),
                name: "Sanne".into(),
                organisation: "JoU".into(),
            }],
            retention: Some(Retention { lock_after_days: 14, ..Retention::default() }),
        };
        let (back, places) = TeamSettings::from_json(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let places = places.unwrap();
        // The normalised boundaries read back with the wijk of every buurt, without a wijk file.
        assert_eq!(places.places().collect::<Vec<_>>(), n.places().collect::<Vec<_>>());
        assert!(places.places().all(|p| p.wijk_name.as_deref().is_some_and(|w| !w.is_empty())));
        // The taxonomy came back indexed.
        assert_eq!(back.taxonomy.get("role.resident").unwrap().en, "Resident");
    }

    #[test]
    fn bad_documents_are_refused_with_the_rule() {
        let good = TeamSettings {
            tag: "v1".into(),
            taxonomy: Taxonomy::default_taxonomy(),
            office_hours: OfficeHours::default(),
            buurten: None,
            members: vec![],
            retention: None,
        };
        let mut doc = serde_json::to_value(&good).unwrap();
        doc["office_hours"]["days"] = serde_json::json!([1, 1]);
        let err = TeamSettings::from_json(doc.to_string().as_bytes()).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
        let mut doc = serde_json::to_value(&good).unwrap();
        doc["buurten"] = serde_json::json!({"type": "FeatureCollection", "features": []});
        assert!(matches!(TeamSettings::from_json(doc.to_string().as_bytes()), Err(Error::Boundaries(_))));
        let mut doc = serde_json::to_value(&good).unwrap();
        doc["taxonomy"]["categories"] = serde_json::json!([]);
        assert!(TeamSettings::from_json(doc.to_string().as_bytes()).is_err());
        let mut doc = serde_json::to_value(&good).unwrap();
        doc["members"] = serde_json::json!([{"id": "nope", "name": "x", "organisation": ""}]);
        assert!(TeamSettings::from_json(doc.to_string().as_bytes()).is_err());
        let mut doc = serde_json::to_value(&good).unwrap();
        doc["tag"] = serde_json::json!("a\nb");
        assert!(TeamSettings::from_json(doc.to_string().as_bytes()).is_err());
        assert!(TeamSettings::from_json(b"[]").is_err());
    }
}
