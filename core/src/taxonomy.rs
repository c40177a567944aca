//! Categories with stable codes and Dutch and English labels.
//!
//! Records store codes, never labels, so a label can be reworded without touching data. A
//! default taxonomy ships with the core (`core/taxonomy/default.json`); a team's administrator
//! changes it on the team server and phones take it at sync (`crate::team`). A code is never
//! removed nor reused: one the team no longer offers is kept with `retired: true`, so old
//! records still resolve to a label (and stay valid) while new records cannot use it.

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

/// A validated set of categories. It can only be made valid: parsing (from JSON or as part of
/// another document) goes through [`Taxonomy::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, try_from = "TaxonomyDoc")]
pub struct Taxonomy {
    pub version: String,
    pub categories: Vec<Category>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

/// A taxonomy as written, before it is checked (the schema of a taxonomy document).
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Taxonomy"))]
#[serde(deny_unknown_fields)]
struct TaxonomyDoc {
    /// Names this taxonomy (a team's: `team.<n>`).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    version: String,
    /// Codes are unique and never removed: a code no longer offered is `retired`.
    #[cfg_attr(feature = "schema", schemars(length(max = 2000)))]
    categories: Vec<Category>,
}

impl TryFrom<TaxonomyDoc> for Taxonomy {
    type Error = Error;
    fn try_from(d: TaxonomyDoc) -> Result<Taxonomy> {
        Taxonomy::new(d.version, d.categories)
    }
}

const DEFAULT_JSON: &str = include_str!("../taxonomy/default.json");
/// Most categories a taxonomy holds.
pub const MAX_CATEGORIES: usize = 2_000;

impl Taxonomy {
    /// The taxonomy that ships with the core.
    pub fn default_taxonomy() -> Taxonomy {
        Taxonomy::from_json(DEFAULT_JSON).expect("the shipped taxonomy is valid (tested)")
    }

    /// Parses and validates a taxonomy document.
    pub fn from_json(json: &str) -> Result<Taxonomy> {
        serde_json::from_str(json).map_err(|e| match e.classify() {
            // A rule of `new` broken: its message names it.
            serde_json::error::Category::Data => Error::Taxonomy(format!("{e}")),
            _ => Error::Taxonomy(format!("not a taxonomy document: {e}")),
        })
    }

    /// A taxonomy of these categories, checked: codes well-formed and unique, labels present,
    /// at least one active category of each kind a record needs.
    pub fn new(version: String, categories: Vec<Category>) -> Result<Taxonomy> {
        let mut t = Taxonomy { version, categories, index: HashMap::new() };
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
                && c.code.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                && c.code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch));
            if !code_ok {
                return Err(Error::Taxonomy(format!(
                    "category {i}: code must be 1..64 of a-z 0-9 . _ -, starting with a letter or digit"
                )));
            }
            if !seen.insert(c.code.as_str()) {
                return Err(Error::Taxonomy(format!("category {i}: code {} appears twice", c.code)));
            }
            for label in [&c.nl, &c.en] {
                if crate::text::check_label("label", label, 200).is_err() {
                    return Err(Error::Taxonomy(format!(
                        "category {}: labels must be 1..200 characters on one line, without control or invisible characters",
                        c.code
                    )));
                }
            }
            if c.sensitive && c.kind != CategoryKind::SignalCategory {
                return Err(Error::Taxonomy(format!("category {}: only signal categories can be sensitive", c.code)));
            }
            if c.professional && c.kind != CategoryKind::CounterpartRole {
                return Err(Error::Taxonomy(format!(
                    "category {}: only counterpart roles can be marked as professionals",
                    c.code
                )));
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

    /// Checks that `code` is a category of `kind`, retired or not: what a stored or synced
    /// record may hold (it may date from before the code was retired).
    pub fn check(&self, kind: CategoryKind, code: &str, field: &'static str) -> Result<&Category> {
        match self.get(code) {
            Some(c) if c.kind == kind => Ok(c),
            _ => Err(Error::invalid(field, "unknown category code")),
        }
    }

    /// Checks that `code` is a category of `kind` the team still offers: for a code newly put
    /// on a record or walk here (one it already had may stay, see [`Taxonomy::check_added`]).
    pub fn check_offered(&self, kind: CategoryKind, code: &str, field: &'static str) -> Result<&Category> {
        match self.check(kind, code, field)? {
            c if c.retired => Err(Error::invalid(field, "category is retired")),
            c => Ok(c),
        }
    }

    /// Checks the codes of `now` that `before` did not have: each must still be offered. An
    /// edit may keep a retired code a record already had; it cannot add one.
    pub fn check_added<'a>(
        &self,
        now: impl IntoIterator<Item = (CategoryKind, &'a str, &'static str)>,
        before: &[(CategoryKind, &'a str, &'static str)],
    ) -> Result<()> {
        for (kind, code, field) in now {
            if !before.iter().any(|(k, c, _)| *k == kind && *c == code) {
                self.check_offered(kind, code, field)?;
            }
        }
        Ok(())
    }

    /// This taxonomy, completed with every code of `previous` it lacks, kept as retired: what a
    /// phone makes of the team's taxonomy, so that no record it holds loses its category.
    pub fn keeping(self, previous: &Taxonomy) -> Taxonomy {
        let missing: Vec<Category> = previous
            .categories
            .iter()
            .filter(|c| self.get(&c.code).is_none())
            .map(|c| Category { retired: true, ..c.clone() })
            .collect();
        if missing.is_empty() {
            return self;
        }
        let mut categories = self.categories.clone();
        categories.extend(missing);
        Taxonomy::new(self.version.clone(), categories).unwrap_or(self)
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

    #[test]
    fn parsing_always_validates_and_indexes() {
        // As part of another document too (serde's `try_from`), not only through `from_json`.
        #[derive(Deserialize)]
        struct Wrapper {
            t: Taxonomy,
        }
        let json = format!("{{\"t\": {}}}", Taxonomy::default_taxonomy().to_json());
        let w: Wrapper = serde_json::from_str(&json).unwrap();
        assert_eq!(w.t.get("role.resident").unwrap().nl, "Bewoner");
        let twice = json.replace("\"code\":\"obs.litter\"", "\"code\":\"obs.vacancy\"");
        let err = serde_json::from_str::<Wrapper>(&twice).err().unwrap().to_string();
        assert!(err.contains("appears twice"), "{err}");
        let e = Taxonomy::from_json(&Taxonomy::default_taxonomy().to_json().replace("obs.litter", "obs.vacancy"));
        assert!(matches!(e, Err(Error::Taxonomy(m)) if m.contains("appears twice")));
    }

    #[test]
    fn retired_codes_stay_valid_but_are_not_offered() {
        let mut cats = Taxonomy::default_taxonomy().categories;
        cats.iter_mut().find(|c| c.code == "obs.litter").unwrap().retired = true;
        let t = Taxonomy::new("t".into(), cats).unwrap();
        let theme = CategoryKind::ObservationTheme;
        assert!(t.check(theme, "obs.litter", "themes").is_ok());
        assert!(t.check_offered(theme, "obs.litter", "themes").is_err());
        // Kept by an edit, refused when added.
        let before = [(theme, "obs.litter", "themes")];
        assert!(t.check_added([(theme, "obs.litter", "themes"), (theme, "obs.other", "themes")], &before).is_ok());
        assert!(t.check_added([(theme, "obs.litter", "themes")], &[]).is_err());
    }

    #[test]
    fn a_phone_keeps_codes_the_team_taxonomy_lacks_as_retired() {
        let old = Taxonomy::default_taxonomy();
        let mut cats = old.categories.clone();
        cats.retain(|c| c.code != "obs.litter");
        let team = Taxonomy::new("team".into(), cats).unwrap().keeping(&old);
        let kept = team.get("obs.litter").unwrap();
        assert!(kept.retired);
        assert_eq!(team.categories.len(), old.categories.len());
    }
}
