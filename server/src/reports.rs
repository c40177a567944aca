//! What a team lead reads: the team's walks and records as the phones synced them, read with
//! the core's own code (`codec::walk_of`, `WalkReport::of`, `StreetTactics::of`) so the
//! browser shows the figures the phone shows. Nothing here knows HTTP or HTML.
//!
//! Need-to-know: these functions read everything of a team, sensitive signals included; only
//! the team's leads may be shown their results (`web` checks that before calling).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use wijkverkenner_core::location::haversine_m;
use wijkverkenner_core::record::{Record, RecordBody, Severity};
use wijkverkenner_core::report::{StreetTactics, WalkReport};
use wijkverkenner_core::store::NOTED_BEFORE_RADIUS_M;
use wijkverkenner_core::sync::codec::{record_of, walk_of};
use wijkverkenner_core::sync::wire::{Entity, EntityKind};
use wijkverkenner_core::{SignalStatus, Taxonomy, TrackPoint, Walk, WalkStatus};

use crate::error::Result;
use crate::storage::{HistoryEntry, Member, Storage};

/// An open signal (new or in review) untouched this long has an overdue follow-up.
pub const FOLLOW_UP_DUE_MS: i64 = 14 * 86_400_000;

/// A team's synced walks and live records, parsed, kept up to date from the team's feed.
///
/// The review pages read a whole team (the dashboard's walks, its signals, the area view), and
/// parsing 100,000 stored documents for every page would take seconds. So each team's data is
/// parsed once and then brought up to date from the entities changed since (`seq`), the way a
/// phone follows the feed; the reports of ended walks are kept until their walk or a record of
/// it changes. See [`ReadModel`].
#[derive(Default)]
pub struct TeamData {
    pub walks: HashMap<String, (Walk, Vec<TrackPoint>)>,
    pub records: HashMap<String, Record>,
    pub members: HashMap<String, Member>,
    /// Record ids per walk id.
    by_walk: HashMap<String, BTreeSet<String>>,
    /// Reports of ended walks, until their walk or one of its records changes, or the team's
    /// taxonomy (which says which counterpart roles are professionals) changes.
    reports: HashMap<String, Arc<WalkReport>>,
    /// The version of the taxonomy the kept reports were made with.
    reports_taxonomy: String,
    near: NearIndex,
    /// The team's feed position this data reflects.
    seq: i64,
    /// The grid the records' shared places were coarsened to.
    cell_m: f64,
}

/// A record as the review pages show it: a conversation's place coarsened to the grid the
/// team shares (`cell_m`: `sync::location_grid`), as the leads' phones get it too — whom a walker
/// talked with, and exactly where, stays on the walker's phone.
fn shared_record(e: &Entity, cell_m: f64) -> wijkverkenner_core::Result<Record> {
    let mut r = record_of(e)?;
    if matches!(r.body, RecordBody::Conversation(_)) {
        r.location = r.location.coarsened(cell_m);
    }
    Ok(r)
}

fn parse_row<T>(doc: &str, read: impl Fn(&Entity) -> wijkverkenner_core::Result<T>) -> Option<(Entity, T)> {
    let e: Entity = serde_json::from_str(doc).ok()?;
    if e.deleted {
        return None;
    }
    match read(&e) {
        Ok(t) => Some((e, t)),
        Err(err) => {
            // Stored before today's rules: an operator's `suspects` lists it.
            tracing::warn!(entity = %e.id, error = %err, "a stored entity cannot be read for the review pages");
            None
        }
    }
}

/// One walk with its records, read directly (the walk page, its exports).
pub struct WalkData {
    pub walk: Walk,
    pub track: Vec<TrackPoint>,
    pub records: Vec<Record>,
    pub author: String,
}

/// A walk of the team and its live records, or `None` (no such walk in this team).
pub fn load_walk(storage: &dyn Storage, team_id: &str, walk_id: &str) -> Result<Option<WalkData>> {
    let mut row = None;
    storage.transaction(&mut |tx| {
        row = tx.get_row(team_id, walk_id)?;
        Ok(())
    })?;
    let Some(row) = row.filter(|w| !w.quarantined) else { return Ok(None) };
    let Some((_, (walk, track))) = parse_row(&row.doc, walk_of) else { return Ok(None) };
    let cell_m = crate::sync::location_grid(storage, team_id)?;
    let records = storage
        .walk_records(team_id, walk_id)?
        .iter()
        .filter_map(|r| parse_row(&r.doc, |e| shared_record(e, cell_m)))
        .map(|(_, r)| r)
        .collect();
    let author = storage.member(&walk.author_id.to_string())?.map(|m| m.display_name).unwrap_or_else(|| "?".into());
    Ok(Some(WalkData { walk, track, records, author }))
}

impl TeamData {
    /// Takes in what changed in the team since this data was read.
    fn refresh(&mut self, storage: &dyn Storage, team_id: &str) -> Result<()> {
        // A new grid changes every shared place: read the team again from the start.
        let cell_m = crate::sync::location_grid(storage, team_id)?;
        if cell_m != self.cell_m {
            *self = TeamData { cell_m, ..TeamData::default() };
        }
        let changed = storage.entities_after(team_id, self.seq)?;
        for c in changed {
            self.seq = self.seq.max(c.seq);
            let walk_of_record = self.records.get(&c.id).map(|r| r.walk_id.to_string());
            // Out with the old version…
            if c.kind == EntityKind::Walk {
                self.walks.remove(&c.id);
                self.reports.remove(&c.id);
            } else if let Some(w) = walk_of_record {
                if let Some(old) = self.records.remove(&c.id) {
                    self.near.remove(&old);
                }
                self.reports.remove(&w);
                if let Some(set) = self.by_walk.get_mut(&w) {
                    set.remove(&c.id);
                }
            }
            if c.quarantined {
                continue;
            }
            // …in with the new one.
            if c.kind == EntityKind::Walk {
                if let Some((_, w)) = parse_row(&c.doc, walk_of) {
                    self.walks.insert(c.id, w);
                }
            } else if let Some((_, r)) = parse_row(&c.doc, |e| shared_record(e, cell_m)) {
                let w = r.walk_id.to_string();
                self.reports.remove(&w);
                self.by_walk.entry(w).or_default().insert(c.id.clone());
                self.near.insert(&r);
                self.records.insert(c.id, r);
            }
        }
        self.members = storage.members(team_id)?.into_iter().map(|m| (m.id.clone(), m)).collect();
        Ok(())
    }

    pub fn author_name(&self, id: &str) -> String {
        self.members.get(id).map(|m| m.display_name.clone()).unwrap_or_else(|| "?".into())
    }

    /// A walk's live records, in time order.
    pub fn walk_records(&self, walk_id: &str) -> Vec<&Record> {
        let mut out: Vec<&Record> = self
            .by_walk
            .get(walk_id)
            .map(|ids| ids.iter().filter_map(|id| self.records.get(id)).collect())
            .unwrap_or_default();
        out.sort_by_key(|r| (r.created.utc_ms, r.id));
        out
    }

    /// A walk's report: kept for ended walks, computed afresh for active ones (their figures
    /// run with the clock).
    pub fn report(&mut self, walk_id: &str, taxonomy: &Taxonomy, now_ms: i64) -> Option<Arc<WalkReport>> {
        if self.reports_taxonomy != taxonomy.version {
            self.reports.clear();
            self.reports_taxonomy = taxonomy.version.clone();
        }
        if let Some(r) = self.reports.get(walk_id) {
            return Some(r.clone());
        }
        let (walk, _) = self.walks.get(walk_id)?;
        let records: Vec<Record> = self.walk_records(walk_id).into_iter().cloned().collect();
        let report = Arc::new(WalkReport::of(walk, &records, taxonomy, now_ms));
        if walk.status != WalkStatus::Active {
            self.reports.insert(walk_id.to_string(), report.clone());
        }
        Some(report)
    }
}

/// Every team's [`TeamData`], kept in memory and brought up to date on each read. A team's
/// pages wait for each other while one brings it up to date (reads of one team are serial;
/// teams are independent).
#[derive(Default)]
pub struct ReadModel {
    teams: Mutex<HashMap<String, Arc<Mutex<TeamData>>>>,
}

impl ReadModel {
    /// Runs `f` on the team's data, brought up to date first.
    pub fn with<T>(&self, storage: &dyn Storage, team_id: &str, f: impl FnOnce(&mut TeamData) -> T) -> Result<T> {
        let team = {
            let mut teams = self.teams.lock().unwrap_or_else(|p| p.into_inner());
            teams.entry(team_id.to_string()).or_default().clone()
        };
        let mut data = team.lock().unwrap_or_else(|p| p.into_inner());
        data.refresh(storage, team_id)?;
        Ok(f(&mut data))
    }
}

/// Which walks the dashboard shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Walks started at or after this moment.
    pub since_ms: Option<i64>,
    pub buurt: Option<String>,
    pub member: Option<String>,
    pub status: Option<WalkStatus>,
    /// Reviewed (`Some(true)`), or not yet (`Some(false)`).
    pub reviewed: Option<bool>,
}

impl Filter {
    pub fn admits(&self, w: &Walk) -> bool {
        self.since_ms.is_none_or(|s| w.started.utc_ms >= s)
            && self.buurt.as_ref().is_none_or(|b| w.buurten.contains(b))
            && self.member.as_ref().is_none_or(|m| w.author_id.to_string() == *m)
            && self.status.is_none_or(|s| w.status == s)
            && self.reviewed.is_none_or(|r| w.reviewed_ms.is_some() == r)
    }
}

/// A walk as the dashboard lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct WalkRow {
    pub report: Arc<WalkReport>,
    pub author: String,
    pub records: usize,
    pub signals: usize,
}

/// Why a signal needs a lead's attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No lead has looked at it yet.
    New,
    /// High or acute severity and not closed.
    Severe,
    /// Open (new or in review) for longer than [`FOLLOW_UP_DUE_MS`].
    Overdue,
    /// The author answered a lead's question and no lead has reviewed it since.
    Answered,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attention {
    pub record: Record,
    pub author: String,
    pub reasons: Vec<Reason>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// At most [`DASHBOARD_ROWS`].
    pub walks: Vec<WalkRow>,
    pub attention: Vec<Attention>,
    pub tactics: StreetTactics,
    /// How many walks the filter admits.
    pub walks_total: usize,
}

/// Most walks and signals a dashboard lists (newest walks, most urgent signals); the rest are
/// a narrower filter or the signals page away.
pub const DASHBOARD_ROWS: usize = 200;

/// The dashboard: the walks the filter admits (newest first), the signals needing attention
/// (in any walk: a lead must not miss an acute signal because of a filter; most urgent first),
/// and the street tactics of the admitted walks.
pub fn dashboard(data: &mut TeamData, filter: &Filter, taxonomy: &Taxonomy, now_ms: i64) -> Dashboard {
    let mut admitted: Vec<(i64, String)> = data
        .walks
        .iter()
        .filter(|(_, (w, _))| filter.admits(w))
        .map(|(id, (w, _))| (w.started.utc_ms, id.clone()))
        .collect();
    admitted.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let reports: Vec<Arc<WalkReport>> =
        admitted.iter().filter_map(|(_, id)| data.report(id, taxonomy, now_ms)).collect();
    let walks: Vec<WalkRow> = reports
        .iter()
        .take(DASHBOARD_ROWS)
        .map(|report| WalkRow {
            author: data.author_name(&report.author_id.to_string()),
            records: report.timeline.len(),
            signals: report.signals.len(),
            report: report.clone(),
        })
        .collect();

    let mut urgent: Vec<(&Record, Vec<Reason>)> =
        data.records.values().map(|r| (r, reasons(r, now_ms))).filter(|(_, why)| !why.is_empty()).collect();
    let severity = |r: &Record| match &r.body {
        RecordBody::Signal(s) => s.severity,
        _ => Severity::Low,
    };
    urgent.sort_by(|a, b| severity(b.0).cmp(&severity(a.0)).then(a.0.created.utc_ms.cmp(&b.0.created.utc_ms)));
    let attention = urgent
        .into_iter()
        .take(DASHBOARD_ROWS)
        .map(|(r, reasons)| Attention {
            record: r.clone(),
            author: data.author_name(&r.author_id.to_string()),
            reasons,
        })
        .collect();

    let near = &data.near;
    let tactics = StreetTactics::of(reports.iter().map(|r| r.as_ref()), |s| {
        s.point.is_some_and(|(lat, lon)| near.noted_before(lat, lon, s.at.utc_ms))
    });
    Dashboard { walks, attention, tactics, walks_total: admitted.len() }
}

/// Why record `r` needs attention (empty: it does not).
pub fn reasons(r: &Record, now_ms: i64) -> Vec<Reason> {
    let mut out = Vec::new();
    if let RecordBody::Signal(s) = &r.body {
        let status = r.review.status.unwrap_or(SignalStatus::New);
        let open = matches!(status, SignalStatus::New | SignalStatus::InReview);
        if status == SignalStatus::New {
            out.push(Reason::New);
        }
        if s.severity >= Severity::High && status != SignalStatus::Closed && status != SignalStatus::Referred {
            out.push(Reason::Severe);
        }
        if open && now_ms - r.created.utc_ms > FOLLOW_UP_DUE_MS {
            out.push(Reason::Overdue);
        }
    }
    if r.review.answer.is_some() && r.reviewed_ms.is_none() {
        out.push(Reason::Answered);
    }
    out
}

/// Records by ~50 m grid cell, to find "noted before" without comparing every pair; kept
/// up to date record by record as the team changes.
#[derive(Default)]
struct NearIndex {
    cells: HashMap<(i64, i64), Vec<NearPoint>>,
}

/// A located record in the index: (record id, lat, lon, when).
type NearPoint = (String, f64, f64, i64);

impl NearIndex {
    /// Cells of 0.0005° latitude (~56 m) by 0.0008° longitude (~55 m at 52° N): a point's
    /// neighbours within 50 m lie in its own cell or the eight around it.
    const LAT: f64 = 0.0005;
    const LON: f64 = 0.0008;

    fn cell(lat: f64, lon: f64) -> (i64, i64) {
        ((lat / Self::LAT).floor() as i64, (lon / Self::LON).floor() as i64)
    }

    fn insert(&mut self, r: &Record) {
        if let Some(p) = r.location.point() {
            let entry = (r.id.to_string(), p.lat, p.lon, r.created.utc_ms);
            self.cells.entry(Self::cell(p.lat, p.lon)).or_default().push(entry);
        }
    }

    fn remove(&mut self, r: &Record) {
        if let Some(p) = r.location.point() {
            let id = r.id.to_string();
            if let Some(v) = self.cells.get_mut(&Self::cell(p.lat, p.lon)) {
                v.retain(|e| e.0 != id);
            }
        }
    }

    /// Was anything noted within [`NOTED_BEFORE_RADIUS_M`] of the point before `before_ms`?
    /// A flat-earth distance (exact enough over 50 m) sorts out the far points before the
    /// haversine decides.
    fn noted_before(&self, lat: f64, lon: f64, before_ms: i64) -> bool {
        const M_PER_DEG: f64 = 111_320.0;
        let lon_scale = lat.to_radians().cos();
        let reach = (NOTED_BEFORE_RADIUS_M * 1.01) * (NOTED_BEFORE_RADIUS_M * 1.01);
        let (y, x) = Self::cell(lat, lon);
        (y - 1..=y + 1).any(|cy| {
            (x - 1..=x + 1).any(|cx| {
                self.cells.get(&(cy, cx)).is_some_and(|v| {
                    v.iter().any(|&(_, a, b, t)| {
                        let (dy, dx) = ((a - lat) * M_PER_DEG, (b - lon) * M_PER_DEG * lon_scale);
                        t < before_ms
                            && dy * dy + dx * dx <= reach
                            && haversine_m(lat, lon, a, b) <= NOTED_BEFORE_RADIUS_M
                    })
                })
            })
        })
    }
}

/// Counts per buurt for the area view: observations and signals of walks in the filter's
/// period, per buurt code, with the counts per category code.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BuurtCounts {
    pub observations: u32,
    /// Conversations are counted per buurt, never placed more precisely here.
    pub conversations: u32,
    pub signals: u32,
    pub categories: std::collections::BTreeMap<String, u32>,
}

pub fn area(data: &TeamData, since_ms: Option<i64>) -> std::collections::BTreeMap<String, BuurtCounts> {
    let mut out: std::collections::BTreeMap<String, BuurtCounts> = Default::default();
    for r in data.records.values() {
        if since_ms.is_some_and(|s| r.created.utc_ms < s) {
            continue;
        }
        let Some(buurt) = &r.buurt else { continue };
        let counts = out.entry(buurt.clone()).or_default();
        let codes: &[String] = match &r.body {
            RecordBody::Observation(o) => {
                counts.observations += 1;
                &o.themes
            }
            RecordBody::Conversation(c) => {
                counts.conversations += 1;
                &c.roles
            }
            RecordBody::Signal(s) => {
                counts.signals += 1;
                std::slice::from_ref(&s.category)
            }
        };
        for code in codes {
            *counts.categories.entry(code.clone()).or_default() += 1;
        }
    }
    out
}

/// The review history of a walk or record, with who made each step.
pub fn history(storage: &dyn Storage, team_id: &str, entity_id: &str) -> Result<Vec<(HistoryEntry, String)>> {
    let members: HashMap<String, String> =
        storage.members(team_id)?.into_iter().map(|m| (m.id, m.display_name)).collect();
    Ok(storage
        .history(team_id, entity_id)?
        .into_iter()
        .map(|h| {
            let who = members.get(&h.member_id).cloned().unwrap_or_else(|| "?".into());
            (h, who)
        })
        .collect())
}

/// Exports leave the system: they carry codes, places and times, never the free text of a
/// record (notes, gists, descriptions, agreements) and never a name. A lead who needs a text
/// reads it on the page.
pub mod export {
    use serde_json::{json, Value};
    use wijkverkenner_core::record::{Record, RecordBody};
    use wijkverkenner_core::SignalStatus;

    pub const CSV_COLUMNS: &[&str] = &[
        "id",
        "walk_id",
        "kind",
        "created_utc",
        "utc_offset_s",
        "local_time",
        "lat",
        "lon",
        "buurt",
        "wijk",
        "codes",
        "labels",
        "severity",
        "status",
        "referral",
        "reviewed",
    ];

    /// The separator of the CSV exports: a semicolon, what a Dutch spreadsheet expects (with a
    /// comma it opens every row as one column); decimals keep their point.
    pub const CSV_SEPARATOR: &str = ";";

    fn codes(r: &Record) -> Vec<String> {
        match &r.body {
            RecordBody::Observation(o) => o.themes.clone(),
            RecordBody::Conversation(c) => c.roles.clone(),
            RecordBody::Signal(s) => vec![s.category.clone()],
        }
    }

    fn signal_fields(r: &Record) -> (Option<String>, Option<String>) {
        match &r.body {
            RecordBody::Signal(s) => (
                Some(
                    serde_json::to_value(s.severity)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                ),
                Some(
                    serde_json::to_value(r.review.status.unwrap_or(SignalStatus::New))
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                ),
            ),
            _ => (None, None),
        }
    }

    /// The walker's local time, as the record was made.
    fn local(m: wijkverkenner_core::Moment) -> String {
        let offset =
            chrono::FixedOffset::east_opt(m.offset_s).unwrap_or(chrono::FixedOffset::east_opt(0).expect("zero"));
        chrono::DateTime::from_timestamp_millis(m.utc_ms)
            .map(|t| t.with_timezone(&offset).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }

    /// Degrees to six decimals (about 10 cm): what a record's fix can tell, and the CSV's.
    fn deg(x: f64) -> f64 {
        (x * 1e6).round() / 1e6
    }

    fn utc(ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default()
    }

    /// One CSV field (RFC 4180): quoted when it holds a comma, semicolon (the separator of
    /// Dutch spreadsheets), quote or line break. A leading `=`, `+`, `-`, `@`, tab or carriage
    /// return gets a `'` so a spreadsheet does not run it as a formula.
    pub fn csv_field(s: &str) -> String {
        let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
        let s = if formula { format!("'{s}") } else { s.to_string() };
        if s.contains([',', ';', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }

    /// The records as CSV (RFC 4180 quoting, [`CSV_SEPARATOR`], CRLF line ends, a header row,
    /// a UTF-8 byte-order mark so a spreadsheet reads the accents). `labels` names the codes
    /// in the reader's language.
    pub fn csv(records: &[&Record], labels: &dyn Fn(&str) -> String) -> String {
        let mut out = "\u{feff}".to_string() + &CSV_COLUMNS.join(CSV_SEPARATOR) + "\r\n";
        for r in records {
            let p = r.location.point();
            let (severity, status) = signal_fields(r);
            let row = [
                r.id.to_string(),
                r.walk_id.to_string(),
                r.body.kind().as_str().to_string(),
                utc(r.created.utc_ms),
                r.created.offset_s.to_string(),
                local(r.created),
                p.map(|p| format!("{:.6}", p.lat)).unwrap_or_default(),
                p.map(|p| format!("{:.6}", p.lon)).unwrap_or_default(),
                r.buurt.clone().unwrap_or_default(),
                r.wijk.clone().unwrap_or_default(),
                codes(r).join(" "),
                codes(r).iter().map(|c| labels(c)).collect::<Vec<_>>().join(", "),
                severity.unwrap_or_default(),
                status.unwrap_or_default(),
                r.review.referral.clone().unwrap_or_default(),
                r.reviewed_ms.is_some().to_string(),
            ];
            out += &row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(CSV_SEPARATOR);
            out += "\r\n";
        }
        out
    }

    /// The records as an RFC 7946 FeatureCollection: a Point per located record (longitude
    /// first), plus the given extra features (a walk's track).
    pub fn geojson(records: &[&Record], extra: Vec<Value>) -> Value {
        let mut features = extra;
        for r in records {
            let Some(p) = r.location.point() else { continue };
            let (severity, status) = signal_fields(r);
            features.push(json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [deg(p.lon), deg(p.lat)]},
                "properties": {
                    "id": r.id.to_string(), "walk_id": r.walk_id.to_string(), "kind": r.body.kind().as_str(),
                    "created_utc": utc(r.created.utc_ms), "buurt": r.buurt, "wijk": r.wijk, "codes": codes(r).join(";"),
                    "severity": severity, "status": status, "referral": r.review.referral,
                    "reviewed": r.reviewed_ms.is_some()
                }
            }));
        }
        json!({"type": "FeatureCollection", "features": features})
    }
}
