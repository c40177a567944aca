//! A team's settings: what the team's administrator decides for every phone of the team — the
//! categories (the taxonomy), the office hours and the buurt boundaries. The team server keeps
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
