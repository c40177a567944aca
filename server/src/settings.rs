//! A team's settings — its categories (the taxonomy), office hours and buurt boundaries — as the
//! server keeps them, and how an administrator changes them.
//!
//! A team starts with the server's defaults: the taxonomy that ships with the core, Dutch office
//! hours and the boundaries the server was started with (`serve --buurten`). Each change an
//! administrator makes (admin command line or the settings page) is one storage transaction that
//! writes the team's own version and counts [`Team::settings_version`] up. Every sync answer
//! names the settings by a tag (a hash of what is in effect), and a phone holding another tag
//! fetches them (`POST /v1/settings`), so all phones of a team validate, tag and report alike.
//! Pushes are validated against the team's taxonomy.
//!
//! Categories are only added, relabelled, marked sensitive or retired: a code is never removed
//! nor reused, because records refer to it. A category newly marked sensitive takes the
//! team's signals in it away from the phones that may no longer see them (the ordinary
//! withdrawal of docs/sync-protocol.md), in the same transaction. Unmarking a category leaves
//! the signals already recorded in it as they are: shared with their author and the leads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use wijkverkenner_core::team::Colleague;
use wijkverkenner_core::team::MAX_SETTINGS_BYTES;
use wijkverkenner_core::{Category, CategoryKind, Neighbourhoods, OfficeHours, Taxonomy};

use crate::error::Result;
use crate::retention::Retention;
use crate::storage::{Member, SettingsRow, Storage, Stored, Team, Tx};

/// The buurt boundaries of a team, normalised (see `Neighbourhoods::to_geojson`): what phones
/// load and the review pages draw.
#[derive(Debug)]
pub struct Boundaries {
    pub geojson: String,
    /// Buurt code → name.
    pub names: BTreeMap<String, String>,
}

impl Boundaries {
    pub fn from_neighbourhoods(n: &Neighbourhoods) -> Self {
        Boundaries {
            geojson: n.to_geojson().to_string(),
            names: n.places().map(|p| (p.buurt_code.clone(), p.buurt_name.clone())).collect(),
        }
    }

    /// Parses boundaries as uploaded (any municipality's property names; see
    /// `Neighbourhoods::from_geojson`), with a message that names the rule broken.
    pub fn parse(buurten: &str, wijken: Option<&str>) -> std::result::Result<Self, String> {
        let n = Neighbourhoods::from_geojson(buurten, wijken).map_err(|e| e.to_string())?;
        let b = Boundaries::from_neighbourhoods(&n);
        if b.geojson.len() > MAX_BOUNDARIES_BYTES {
            return Err(format!(
                "the buurten take {} MB as GeoJSON; at most {} MB (simplify the polygons)",
                b.geojson.len() / 1_000_000,
                MAX_BOUNDARIES_BYTES / 1_000_000
            ));
        }
        Ok(b)
    }

    fn stored(geojson: String) -> Result<Self> {
        let n = Neighbourhoods::from_geojson(&geojson, None)?;
        let names = n.places().map(|p| (p.buurt_code.clone(), p.buurt_name.clone())).collect();
        Ok(Boundaries { geojson, names })
    }
}

/// Largest normalised boundaries a team can have. A municipality's buurten are a few MB at
/// most (Utrecht's 111: 0.4 MB); every phone of the team holds and parses them, and a settings
/// document with the largest taxonomy stays well within what a phone takes
/// ([`MAX_SETTINGS_BYTES`]).
pub const MAX_BOUNDARIES_BYTES: usize = 8 * 1024 * 1024;

/// A team's settings in effect: its own where an administrator changed them, the server's
/// defaults otherwise.
#[derive(Debug)]
pub struct TeamConfig {
    /// [`Team::settings_version`] this was read at.
    pub version: i64,
    /// What phones compare: a hash of everything below.
    pub tag: String,
    pub taxonomy: Arc<Taxonomy>,
    pub office_hours: OfficeHours,
    pub boundaries: Option<Arc<Boundaries>>,
    /// The boundaries are the team's own (not the server's default).
    pub own_boundaries: bool,
    /// When and by whom the settings were last changed.
    pub updated: Option<(i64, String)>,
    /// The team's retention terms (phones purge and lock by them).
    pub retention: Retention,
    /// The grid, in metres, others see the team's coarsened places on (`crate::sync::as_seen_by`).
    pub shared_cell_m: f64,
    /// The `POST /v1/settings` answer, built once: for protocol 5 and later, and without the
    /// retention terms for older phones (which refuse a field they do not know).
    document: String,
    document_v4: String,
    /// The same, zstd-compressed, made on the first request that accepts it.
    compressed: std::sync::OnceLock<Vec<u8>>,
    compressed_v4: std::sync::OnceLock<Vec<u8>>,
}

impl TeamConfig {
    fn new(
        version: i64,
        row: Option<&SettingsRow>,
        members: &[Member],
        retention: Retention,
        shared_cell_m: f64,
        defaults: &Defaults,
    ) -> Result<TeamConfig> {
        let taxonomy = match row.and_then(|r| r.taxonomy.as_deref()) {
            Some(json) => Arc::new(Taxonomy::from_json(json)?),
            None => defaults.taxonomy.clone(),
        };
        let office_hours = match row.and_then(|r| r.office_hours.as_deref()) {
            Some(json) => serde_json::from_str(json)?,
            None => OfficeHours::default(),
        };
        let (boundaries, own_boundaries) = match row.and_then(|r| r.buurten.clone()) {
            Some(geojson) => (Some(Arc::new(Boundaries::stored(geojson)?)), true),
            None => (defaults.boundaries.clone(), false),
        };
        // The colleagues a walker can take along: the team's active members who walk, never its
        // administrators or partners (whose names phones have no need of).
        let colleagues: Vec<Colleague> = members
            .iter()
            .filter(|m| m.disabled_ms.is_none() && m.role.syncs())
            .map(|m| Colleague {
                id: m.id.clone(),
                name: wijkverkenner_core::text::clean_label(&m.display_name, wijkverkenner_core::text::SHORT),
                organisation: wijkverkenner_core::text::clean_label(&m.organisation, wijkverkenner_core::text::SHORT),
            })
            .filter(|c| !c.name.is_empty())
            .collect();
        #[derive(Serialize)]
        struct Document<'a> {
            tag: &'a str,
            taxonomy: &'a Taxonomy,
            office_hours: &'a OfficeHours,
            buurten: Option<&'a RawValue>,
            members: &'a [Colleague],
            #[serde(skip_serializing_if = "Option::is_none")]
            retention: Option<&'a Retention>,
        }
        let buurten: Option<Box<RawValue>> =
            boundaries.as_ref().map(|b| RawValue::from_string(b.geojson.clone())).transpose()?;
        let mut hash = Sha256::new();
        hash.update(taxonomy.to_json());
        hash.update([0]);
        hash.update(serde_json::to_string(&office_hours)?);
        hash.update([0]);
        hash.update(boundaries.as_ref().map_or("", |b| b.geojson.as_str()));
        hash.update([0]);
        hash.update(serde_json::to_string(&colleagues)?);
        hash.update([0]);
        hash.update(serde_json::to_string(&retention)?);
        let tag: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
        let document = |retention: Option<&Retention>| {
            serde_json::to_string(&Document {
                tag: &tag,
                taxonomy: &taxonomy,
                office_hours: &office_hours,
                buurten: buurten.as_deref(),
                members: &colleagues,
                retention,
            })
        };
        let (document, document_v4) = (document(Some(&retention))?, document(None)?);
        Ok(TeamConfig {
            version,
            tag,
            taxonomy,
            office_hours,
            boundaries,
            own_boundaries,
            updated: row.map(|r| (r.updated_ms, r.updated_by.clone())),
            retention,
            shared_cell_m,
            document,
            document_v4,
            compressed: std::sync::OnceLock::new(),
            compressed_v4: std::sync::OnceLock::new(),
        })
    }

    /// [`TeamConfig::document`] compressed with zstd, once per settings version (many phones
    /// fetch the same document after a change).
    pub fn compressed_document(&self, protocol: u32) -> Result<&[u8]> {
        let cell = if protocol >= 5 { &self.compressed } else { &self.compressed_v4 };
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        let c = zstd::bulk::compress(self.document(protocol).as_bytes(), 3)
            .map_err(|e| crate::Error::Other(e.to_string()))?;
        Ok(cell.get_or_init(|| c))
    }

    /// The settings document phones take (`wijkverkenner_core::TeamSettings` as JSON), as a
    /// phone speaking `protocol` reads it: the retention terms from protocol 5 on.
    pub fn document(&self, protocol: u32) -> &str {
        if protocol >= 5 {
            &self.document
        } else {
            &self.document_v4
        }
    }

    /// A buurt's name, or its code when the boundaries do not know it.
    pub fn buurt_name(&self, code: &str) -> String {
        self.boundaries.as_ref().and_then(|b| b.names.get(code).cloned()).unwrap_or_else(|| code.to_string())
    }
}

/// The server's defaults for teams that did not change their settings.
struct Defaults {
    taxonomy: Arc<Taxonomy>,
    boundaries: Option<Arc<Boundaries>>,
}

/// Every team's settings in effect, read from storage when a team's version changed (another
/// server instance on the same database may have changed them) and kept otherwise.
pub struct Teams {
    defaults: Defaults,
    cache: Mutex<HashMap<String, Arc<TeamConfig>>>,
    /// One load at a time: after a change, the many requests that find the cache stale wait
    /// for one load instead of each parsing the boundaries again.
    loading: Mutex<()>,
}

impl Default for Teams {
    fn default() -> Self {
        Teams::new(None)
    }
}

impl std::fmt::Debug for Teams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teams").finish_non_exhaustive()
    }
}

impl Teams {
    /// With the server's default boundaries, if it has any.
    pub fn new(default_boundaries: Option<Arc<Boundaries>>) -> Self {
        Teams {
            defaults: Defaults { taxonomy: Arc::new(Taxonomy::default_taxonomy()), boundaries: default_boundaries },
            cache: Mutex::new(HashMap::new()),
            loading: Mutex::new(()),
        }
    }

    /// The settings in effect for `team` (as read with its caller or session, so the version is
    /// current).
    pub fn config(&self, storage: &dyn Storage, team: &Team) -> Result<Arc<TeamConfig>> {
        let cached = || {
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&team.id)
                .filter(|c| c.version >= team.settings_version)
                .cloned()
        };
        if let Some(c) = cached() {
            return Ok(c);
        }
        let _one_at_a_time = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached() {
            return Ok(c);
        }
        // The version first: a change landing meanwhile makes the next request load again.
        let version = storage.team(&team.id)?.map_or(team.settings_version, |t| t.settings_version);
        let row = storage.team_settings(&team.id)?;
        let members = storage.members(&team.id)?;
        let retention = crate::retention::terms(storage, &team.id)?;
        let cell_m = crate::sync::location_grid(storage, &team.id)?;
        let config = Arc::new(TeamConfig::new(version, row.as_ref(), &members, retention, cell_m, &self.defaults)?);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(team.id.clone(), config.clone());
        Ok(config)
    }

    /// The settings in effect for the team `team_id`, its version read first.
    pub fn config_of(&self, storage: &dyn Storage, team_id: &str) -> Result<Option<Arc<TeamConfig>>> {
        match storage.team(team_id)? {
            Some(team) => Ok(Some(self.config(storage, &team)?)),
            None => Ok(None),
        }
    }
}

/// What an administrator changes.
#[derive(Clone, Debug)]
pub enum Change {
    /// A new category; its code is made from the kind and the Dutch label unless given.
    AddCategory {
        kind: CategoryKind,
        code: Option<String>,
        nl: String,
        en: String,
        sensitive: bool,
        professional: bool,
    },
    /// New labels and flags of an existing category (its kind and code stay).
    EditCategory {
        code: String,
        nl: String,
        en: String,
        sensitive: bool,
        professional: bool,
        retired: bool,
    },
    /// Several categories at once (the settings page saves a kind's table in one go).
    EditCategories(Vec<CategoryEdit>),
    /// A whole taxonomy at once (the admin command line's import): every code must stay.
    Taxonomy(Taxonomy),
    OfficeHours(OfficeHours),
    /// New boundaries (already parsed, see [`Boundaries::parse`]).
    Boundaries(Arc<Boundaries>),
}

/// New labels and flags for one category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryEdit {
    pub code: String,
    pub nl: String,
    pub en: String,
    pub sensitive: bool,
    pub professional: bool,
    pub retired: bool,
}

impl Change {
    /// A short name for logs (never a label or value).
    pub fn name(&self) -> &'static str {
        match self {
            Change::AddCategory { .. } => "category_added",
            Change::EditCategory { .. } | Change::EditCategories(_) => "category_changed",
            Change::Taxonomy(_) => "taxonomy_replaced",
            Change::OfficeHours(_) => "office_hours_changed",
            Change::Boundaries(_) => "boundaries_changed",
        }
    }
}

/// What a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub version: i64,
    /// The code of a category added.
    pub code: Option<String>,
    /// Signals that became need-to-know because their category was marked sensitive.
    pub restricted: usize,
}

/// Why a change was refused, in words for the administrator (never record content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

fn prefix(kind: CategoryKind) -> &'static str {
    match kind {
        CategoryKind::ObservationTheme => "obs",
        CategoryKind::CounterpartRole => "role",
        CategoryKind::SignalCategory => "sig",
        CategoryKind::ReferralTarget => "ref",
    }
}

/// A code from a label: `sig.` + the label in lower-case ASCII letters and digits joined by
/// `_` (accents dropped), at most 40 characters; `-2`, `-3`, … if taken.
fn code_for(taxonomy: &Taxonomy, kind: CategoryKind, label: &str) -> String {
    let mut slug = String::new();
    for c in label.chars().flat_map(|c| unaccent(c).chars().collect::<Vec<_>>()) {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('_');
    let base = format!("{}.{}", prefix(kind), if slug.is_empty() { "category" } else { slug });
    let mut code = base.clone();
    let mut n = 2;
    while taxonomy.get(&code).is_some() {
        code = format!("{base}-{n}");
        n += 1;
    }
    code
}

fn unaccent(c: char) -> String {
    let plain = match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ç' => "c",
        'ñ' => "n",
        'ĳ' => "ij",
        other => return other.to_string(),
    };
    plain.to_string()
}

fn label(field: &str, s: &str) -> std::result::Result<String, Refused> {
    let t = s.trim();
    if wijkverkenner_core::text::check_label("label", t, 200).is_err() {
        return Err(Refused(format!(
            "the {field} label has 1..200 characters on one line, without control or invisible characters"
        )));
    }
    Ok(t.to_string())
}

/// The categories after `change`, or why not.
fn changed_taxonomy(
    current: &Taxonomy,
    change: &Change,
) -> std::result::Result<(Vec<Category>, Option<String>), Refused> {
    let mut cats = current.categories.clone();
    let flags = |kind: CategoryKind, sensitive: bool, professional: bool| {
        if sensitive && kind != CategoryKind::SignalCategory {
            return Err(Refused("only signal categories can be sensitive".into()));
        }
        if professional && kind != CategoryKind::CounterpartRole {
            return Err(Refused("only counterpart roles can be marked as professionals".into()));
        }
        Ok(())
    };
    match change {
        Change::AddCategory { kind, code, nl, en, sensitive, professional } => {
            flags(*kind, *sensitive, *professional)?;
            let (nl, en) = (label("Dutch", nl)?, label("English", en)?);
            let code = match code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) if current.get(c).is_some() => {
                    return Err(Refused(format!("the code {c} is already used (codes are never reused)")))
                }
                Some(c) => c.to_string(),
                None => code_for(current, *kind, &nl),
            };
            // The same name twice in a list is a mistake (a form sent twice): one of them could
            // only be retired, never removed.
            let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
            if let Some(c) =
                current.categories.iter().find(|c| c.kind == *kind && (same(&c.nl, &nl) || same(&c.en, &en)))
            {
                return Err(Refused(format!("a category with this label exists already: {}", c.code)));
            }
            cats.push(Category {
                kind: *kind,
                code: code.clone(),
                nl,
                en,
                sensitive: *sensitive,
                retired: false,
                professional: *professional,
            });
            Ok((cats, Some(code)))
        }
        Change::EditCategory { code, nl, en, sensitive, professional, retired } => {
            let edit = CategoryEdit {
                code: code.clone(),
                nl: nl.clone(),
                en: en.clone(),
                sensitive: *sensitive,
                professional: *professional,
                retired: *retired,
            };
            edit_categories(&mut cats, std::slice::from_ref(&edit))?;
            Ok((cats, None))
        }
        Change::EditCategories(edits) => {
            edit_categories(&mut cats, edits)?;
            Ok((cats, None))
        }
        Change::Taxonomy(next) => {
            current.check_replacement(next).map_err(|e| Refused(e.to_string()))?;
            Ok((next.categories.clone(), None))
        }
        Change::OfficeHours(_) | Change::Boundaries(_) => Ok((cats, None)),
    }
}

fn edit_categories(cats: &mut [Category], edits: &[CategoryEdit]) -> std::result::Result<(), Refused> {
    for e in edits {
        let Some(c) = cats.iter_mut().find(|c| c.code == e.code) else {
            return Err(Refused("no such category".into()));
        };
        if e.sensitive && c.kind != CategoryKind::SignalCategory {
            return Err(Refused("only signal categories can be sensitive".into()));
        }
        if e.professional && c.kind != CategoryKind::CounterpartRole {
            return Err(Refused("only counterpart roles can be marked as professionals".into()));
        }
        c.nl = label("Dutch", &e.nl)?;
        c.en = label("English", &e.en)?;
        c.sensitive = e.sensitive;
        c.professional = e.professional;
        c.retired = e.retired;
    }
    Ok(())
}

/// Who changes the settings: an administrator of the team (settings page) or an operator on
/// the server's command line.
#[derive(Clone, Copy, Debug)]
pub enum By<'a> {
    Member(&'a Member),
    CommandLine,
}

impl By<'_> {
    fn id(&self) -> &str {
        match self {
            By::Member(m) => &m.id,
            By::CommandLine => "command-line",
        }
    }
}

/// Applies an administrator's change to the team's settings, in one transaction: the new
/// settings, the version counted up, and — for a category newly marked sensitive — the team's
/// signals in it restricted to their authors and the leads (withdrawn from other phones).
pub fn change(
    storage: &dyn Storage,
    teams: &Teams,
    team_id: &str,
    by: By,
    change: &Change,
) -> Result<std::result::Result<Changed, Refused>> {
    let member_ok = match by {
        By::Member(m) => m.team_id == team_id && m.role == crate::storage::Role::Admin && m.disabled_ms.is_none(),
        By::CommandLine => true,
    };
    if !member_ok || storage.team(team_id)?.is_none() {
        return Ok(Err(Refused("no such team, or not one of its administrators".into())));
    }
    let mut outcome = Err(Refused("no such team".into()));
    storage.transaction(&mut |tx: &mut dyn Tx| {
        outcome = apply(tx, &teams.defaults, team_id, by, change)?;
        Ok(())
    })?;
    if let Ok(c) = &outcome {
        tracing::info!(
            target: "security",
            team = %team_id,
            by = by.id(),
            change = change.name(),
            version = c.version,
            restricted = c.restricted,
            "team settings changed"
        );
    }
    Ok(outcome)
}

fn apply(
    tx: &mut dyn Tx,
    defaults: &Defaults,
    team_id: &str,
    by: By,
    change: &Change,
) -> Result<std::result::Result<Changed, Refused>> {
    let row = tx.settings(team_id)?;
    let current = match row.as_ref().and_then(|r| r.taxonomy.as_deref()) {
        Some(json) => Taxonomy::from_json(json)?,
        None => (*defaults.taxonomy).clone(),
    };
    let version = tx.settings_version(team_id)? + 1;
    let (categories, code) = match changed_taxonomy(&current, change) {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let mut next = SettingsRow {
        version,
        taxonomy: row.as_ref().and_then(|r| r.taxonomy.clone()),
        office_hours: row.as_ref().and_then(|r| r.office_hours.clone()),
        buurten: row.as_ref().and_then(|r| r.buurten.clone()),
        updated_ms: chrono::Utc::now().timestamp_millis(),
        updated_by: by.id().to_string(),
    };
    let mut newly_sensitive = HashSet::new();
    match change {
        Change::OfficeHours(oh) => {
            let oh = match oh.normalised() {
                Ok(oh) => oh,
                Err(e) => return Ok(Err(Refused(e.to_string()))),
            };
            if oh.days.is_empty() {
                return Ok(Err(Refused("choose at least one working day".into())));
            }
            next.office_hours = Some(serde_json::to_string(&oh)?);
        }
        Change::Boundaries(b) => next.buurten = Some(b.geojson.clone()),
        _ => {
            // The version names the team's taxonomy: reports made with another are made again.
            let taxonomy = match Taxonomy::new(format!("team.{version}"), categories) {
                Ok(t) => t,
                Err(e) => return Ok(Err(Refused(e.to_string()))),
            };
            newly_sensitive = taxonomy
                .categories
                .iter()
                .filter(|c| c.sensitive && current.get(&c.code).is_none_or(|old| !old.sensitive))
                .map(|c| c.code.clone())
                .collect();
            next.taxonomy = Some(taxonomy.to_json());
        }
    }
    // Saving what is there changes nothing: no new version for every phone to fetch again.
    let categories = |json: Option<&str>| match json {
        Some(j) => Taxonomy::from_json(j).map(|t| t.categories).ok(),
        None => Some(defaults.taxonomy.categories.clone()),
    };
    let hours = |json: Option<&str>| match json {
        Some(j) => serde_json::from_str::<OfficeHours>(j).ok(),
        None => Some(OfficeHours::default()),
    };
    let before = row.as_ref();
    let unchanged = categories(before.and_then(|r| r.taxonomy.as_deref())) == categories(next.taxonomy.as_deref())
        && hours(before.and_then(|r| r.office_hours.as_deref())) == hours(next.office_hours.as_deref())
        && before.and_then(|r| r.buurten.as_ref()) == next.buurten.as_ref();
    if unchanged {
        return Ok(Ok(Changed { version: version - 1, code, restricted: 0 }));
    }
    next.version = version;
    // What a phone will take: within what it accepts.
    let size = next.taxonomy.as_ref().map_or(0, |t| t.len())
        + next.office_hours.as_ref().map_or(0, |o| o.len())
        + next
            .buurten
            .as_ref()
            .map(|b| b.len())
            .or_else(|| defaults.boundaries.as_ref().map(|b| b.geojson.len()))
            .unwrap_or(0);
    if size + 4096 > MAX_SETTINGS_BYTES {
        return Ok(Err(Refused(format!(
            "the team's settings would take {} MB; a phone takes at most {} MB",
            size / 1_000_000,
            MAX_SETTINGS_BYTES / 1_000_000
        ))));
    }
    tx.put_settings(team_id, &next)?;
    let restricted = if newly_sensitive.is_empty() { 0 } else { restrict(tx, team_id, &newly_sensitive)? };
    Ok(Ok(Changed { version, code, restricted }))
}

/// Marks the team's shared signals in `categories` sensitive, each at a new place in the feed:
/// phones that may no longer see them are told to delete their copies.
fn restrict(tx: &mut dyn Tx, team_id: &str, categories: &HashSet<String>) -> Result<usize> {
    let rows = tx.shared_signals(team_id)?;
    let mut seq = tx.lock_feed(team_id)?;
    let mut n = 0;
    for row in rows {
        let Ok(mut stored) = row.parse() else { continue };
        let e = &mut stored.entity;
        let in_category = e.fields.get("category").and_then(|c| c.as_str()).is_some_and(|c| categories.contains(c));
        if e.deleted || !in_category {
            continue;
        }
        e.sensitive = true;
        seq += 1;
        n += 1;
        tx.put(team_id, &Stored { entity: stored.entity, seq, last_device: String::new(), quarantined: false })?;
    }
    tx.set_feed(team_id, seq)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_labels_and_are_never_reused() {
        let t = Taxonomy::default_taxonomy();
        assert_eq!(code_for(&t, CategoryKind::SignalCategory, "Illegale gokhal / café"), "sig.illegale_gokhal_cafe");
        assert_eq!(code_for(&t, CategoryKind::ObservationTheme, "Overig"), "obs.overig");
        assert_eq!(code_for(&t, CategoryKind::ObservationTheme, "Other"), "obs.other-2");
        assert_eq!(code_for(&t, CategoryKind::ReferralTarget, "!!!"), "ref.category");
        let add = |code: Option<&str>| Change::AddCategory {
            kind: CategoryKind::SignalCategory,
            code: code.map(String::from),
            nl: "Gokhal".into(),
            en: "Gambling den".into(),
            sensitive: true,
            professional: false,
        };
        assert!(changed_taxonomy(&t, &add(Some("sig.weapons"))).is_err());
        let (cats, code) = changed_taxonomy(&t, &add(None)).unwrap();
        assert_eq!(code.as_deref(), Some("sig.gokhal"));
        assert!(cats.iter().any(|c| c.code == "sig.gokhal" && c.sensitive));
    }

    #[test]
    fn flags_belong_to_their_kinds() {
        let t = Taxonomy::default_taxonomy();
        let edit = |code: &str, sensitive, professional| Change::EditCategory {
            code: code.into(),
            nl: "x".into(),
            en: "x".into(),
            sensitive,
            professional,
            retired: false,
        };
        assert!(changed_taxonomy(&t, &edit("obs.litter", true, false)).is_err());
        assert!(changed_taxonomy(&t, &edit("sig.weapons", false, true)).is_err());
        assert!(changed_taxonomy(&t, &edit("role.youth", false, true)).is_ok());
        assert!(changed_taxonomy(&t, &edit("nope", false, false)).is_err());
        let blank = Change::EditCategory {
            code: "obs.litter".into(),
            nl: " ".into(),
            en: "x".into(),
            sensitive: false,
            professional: false,
            retired: false,
        };
        assert!(changed_taxonomy(&t, &blank).is_err());
    }
}
