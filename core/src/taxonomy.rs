//! Categories with stable codes and Dutch and English labels.
//!
//! Records store codes, never labels, so a label can be reworded without touching data. A
//! default taxonomy ships with the core (`core/taxonomy/default.json`); a team can replace it.
//! A code that a team's new taxonomy no longer offers must be kept with `retired: true`, so
//! old records still resolve to a label while new records cannot use it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a category classifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// Themes of an observation (*waarneming*).
    ObservationTheme,
    /// The role of whom a conversation was with (never a name).
    CounterpartRole,
    /// Categories of a signal, mostly of *ondermijning* and of victims.
    SignalCategory,
    /// Where a signal can be referred (police, RIEC, municipality, care, Veilig Thuis).
    ReferralTarget,
}

impl CategoryKind {
    pub const ALL: [CategoryKind; 4] = [
        CategoryKind::ObservationTheme,
        CategoryKind::CounterpartRole,
        CategoryKind::SignalCategory,
        CategoryKind::ReferralTarget,
    ];
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub kind: CategoryKind,
    /// Stable code, e.g. `sig.stash_house`.
    pub code: String,
    pub nl: String,
    pub en: String,
    /// Signals in a sensitive category are shared only with their author and the team's leads.
    #[serde(default)]
    pub sensitive: bool,
    /// Kept for old records; not offered for new ones.
    #[serde(default)]
    pub retired: bool,
    /// A counterpart role of professionals (as opposed to residents and other lay people), for
    /// the street tactics: "value the knowledge of lay people", "seek out professionals".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub professional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub version: String,
    pub categories: Vec<Category>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

const DEFAULT_JSON: &str = include_str!("../taxonomy/default.json");
const MAX_CATEGORIES: usize = 2_000;

impl Taxonomy {
    /// The taxonomy that ships with the core.
    pub fn default_taxonomy() -> Taxonomy {
        Taxonomy::from_json(DEFAULT_JSON).expect("the shipped taxonomy is valid (tested)")
    }

    /// Parses and validates a taxonomy document.
    pub fn from_json(json: &str) -> Result<Taxonomy> {
        let mut t: Taxonomy =
            serde_json::from_str(json).map_err(|e| Error::Taxonomy(format!("not a taxonomy document: {e}")))?;
        t.validate()?;
        t.index = t.categories.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
        Ok(t)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a taxonomy always serialises")
    }

    fn validate(&self) -> Result<()> {
        if self.version.trim().is_empty() || self.version.len() > 100 {
            return Err(Error::Taxonomy("version must be 1..100 characters".into()));
        }
        if self.categories.len() > MAX_CATEGORIES {
            return Err(Error::Taxonomy(format!("more than {MAX_CATEGORIES} categories")));
        }
        let mut seen = HashSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            let code_ok = !c.code.is_empty()
                && c.code.len() <= 64
                && c.code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch));
            if !code_ok {
                return Err(Error::Taxonomy(format!("category {i}: code must be 1..64 of a-z 0-9 . _ -")));
            }
            if !seen.insert(c.code.as_str()) {
                return Err(Error::Taxonomy(format!("category {i}: code {} appears twice", c.code)));
            }
            for label in [&c.nl, &c.en] {
                if label.trim().is_empty() || label.chars().count() > 200 {
                    return Err(Error::Taxonomy(format!("category {}: labels must be 1..200 characters", c.code)));
                }
            }
        }
        for kind in [CategoryKind::ObservationTheme, CategoryKind::CounterpartRole, CategoryKind::SignalCategory] {
            if !self.categories.iter().any(|c| c.kind == kind && !c.retired) {
                return Err(Error::Taxonomy(format!("no active category of kind {kind:?}")));
            }
        }
        Ok(())
    }

    /// A category by code, retired ones included (old records still need their label).
    pub fn get(&self, code: &str) -> Option<&Category> {
        self.index.get(code).map(|&i| &self.categories[i])
    }

    /// The categories a new record may use, of one kind.
    pub fn active(&self, kind: CategoryKind) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(move |c| c.kind == kind && !c.retired)
    }

    /// Checks that `code` is an active category of `kind`, for a new or edited record.
    pub fn check(&self, kind: CategoryKind, code: &str, field: &'static str) -> Result<&Category> {
        match self.get(code) {
            Some(c) if c.kind == kind && !c.retired => Ok(c),
            Some(c) if c.kind == kind => Err(Error::invalid(field, "category is retired")),
            _ => Err(Error::invalid(field, "unknown category code")),
        }
    }

    /// A replacement must keep every code of `self` (retired if need be): records refer to them.
    pub fn check_replacement(&self, next: &Taxonomy) -> Result<()> {
        for c in &self.categories {
            match next.get(&c.code) {
                Some(n) if n.kind == c.kind => {}
                Some(_) => return Err(Error::Taxonomy(format!("code {} changed its kind", c.code))),
                None => return Err(Error::Taxonomy(format!("code {} is missing; keep it with retired: true", c.code))),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_taxonomy_is_valid_and_complete() {
        let t = Taxonomy::default_taxonomy();
        for kind in CategoryKind::ALL {
            assert!(t.active(kind).count() >= 4, "{kind:?}");
        }
        assert!(t.get("sig.stash_house").unwrap().sensitive);
        assert_eq!(t.get("role.resident").unwrap().nl, "Bewoner");
    }

    #[test]
    fn replacement_must_keep_old_codes() {
        let t = Taxonomy::default_taxonomy();
        let mut doc: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
        doc["categories"].as_array_mut().unwrap().retain(|c| c["code"] != "obs.litter");
        let next = Taxonomy::from_json(&doc.to_string()).unwrap();
        assert!(t.check_replacement(&next).is_err());
        assert!(t.check(CategoryKind::ObservationTheme, "sig.weapons", "theme").is_err());
        assert!(Taxonomy::from_json("{\"version\":\"x\",\"categories\":[]}").is_err());
        assert!(Taxonomy::from_json("not json").is_err());
    }
}
