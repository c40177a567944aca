//! The walk report: what a team lead reads about one walk, and the street tactics across the
//! walks of a period. Computed here, from walks and records, so that the phone and the team
//! server's pages show the same figures.
//!
//! Reports hold codes, not labels (the taxonomy labels them in the reader's language), and
//! times as moments (the walker's own offset). They hold precise locations: who may see a
//! report is the caller's decision (need-to-know), not this module's.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::id::{MemberId, RecordId, WalkId};
use crate::location::RecordLocation;
use crate::record::{Mood, Record, RecordBody, RecordKind, Severity, Trust};
use crate::review::{Review, SignalStatus};
use crate::taxonomy::{CategoryKind, Taxonomy};
use crate::time::Moment;
use crate::track::TrackPoint;
use crate::walk::{Participant, Walk, WalkStatus};

/// Someone on the walk, as the report lists them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParticipantLine {
    /// A member's display name; `None` for a guest, who is known by role only.
    pub name: Option<String>,
    /// A guest's role (*wijkagent*); `None` for a member.
    pub role: Option<String>,
    pub organisation: Option<String>,
    /// Team members are professionals; a guest is what the walker said.
    pub lay_person: bool,
}

/// One record on the walk's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub id: RecordId,
    pub kind: RecordKind,
    pub at: Moment,
    /// Theme, role or category codes.
    pub codes: Vec<String>,
    /// Signals only.
    pub severity: Option<Severity>,
    pub status: Option<SignalStatus>,
    /// `(lat, lon)` of the record's fix or inherited fix.
    pub point: Option<(f64, f64)>,
    pub buurt: Option<String>,
    /// A lead marked it reviewed.
    pub reviewed: bool,
    /// A lead asked and the author has not answered yet.
    pub open_question: bool,
}

/// How many records carry a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCount {
    pub kind: CategoryKind,
    pub code: String,
    pub count: u32,
}

/// One conversation, as the report shows it: roles, never names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationLine {
    pub id: RecordId,
    pub at: Moment,
    pub roles: Vec<String>,
    /// Whether any counterpart role is a lay person's (resident, youth, entrepreneur...).
    pub with_lay_people: bool,
    /// Whether any counterpart role is a professional's.
    pub with_professionals: bool,
    pub people: u8,
    pub duration_min: u16,
    pub mood: Mood,
    pub trust: Trust,
    pub agreements: String,
    pub immediate_help: bool,
}

/// One signal with where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalLine {
    pub id: RecordId,
    pub at: Moment,
    pub category: String,
    pub severity: Severity,
    pub status: SignalStatus,
    pub referral: Option<String>,
    pub suggested_referral: Option<String>,
    pub at_known_place: bool,
    pub follow_up: String,
    pub point: Option<(f64, f64)>,
    pub review: Review,
    pub reviewed_ms: Option<i64>,
}

/// The report of one walk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalkReport {
    pub walk_id: WalkId,
    pub author_id: MemberId,
    pub status: WalkStatus,
    pub purpose: String,
    pub started: Moment,
    pub ended: Option<Moment>,
    /// From start to end (or to now for an active walk), pauses included.
    pub duration_ms: i64,
    /// Pauses left out.
    pub walking_ms: i64,
    pub distance_m: f64,
    pub outside_office_hours_ms: i64,
    pub outside_office_hours_share: f64,
    pub buurten: Vec<String>,
    pub participants: Vec<ParticipantLine>,
    /// Every record, in time order.
    pub timeline: Vec<TimelineEntry>,
    /// Records per theme, counterpart role and signal category, most first.
    pub counts: Vec<CodeCount>,
    pub conversations: Vec<ConversationLine>,
    pub signals: Vec<SignalLine>,
    pub review: Review,
    pub reviewed_ms: Option<i64>,
    /// The walker's look back: which logic dominated, and a note.
    pub debrief: Option<crate::walk::Debrief>,
}

fn point(l: &RecordLocation) -> Option<(f64, f64)> {
    l.point().map(|p| (p.lat, p.lon))
}

/// What a report reads of a record's content: its codes and the facts the report shows, never
/// the free texts (note, gist, description), which stay on the record's own page.
#[derive(Clone, Debug, PartialEq)]
pub enum NotedBody {
    Observation(NotedObservation),
    Conversation(NotedConversation),
    Signal(NotedSignal),
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NotedObservation {
    pub themes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NotedConversation {
    pub roles: Vec<String>,
    pub people: u8,
    pub duration_min: u16,
    pub mood: Mood,
    pub trust: Trust,
    pub agreements: String,
    pub immediate_help: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NotedSignal {
    pub category: String,
    pub severity: Severity,
    pub at_known_place: bool,
    pub follow_up: String,
    pub suggested_referral: Option<String>,
}

impl NotedBody {
    /// Reads a stored body (JSON as the store writes it, see
    /// [`RecordBody::from_stored_json`]) of a known kind, skipping what a report does not show.
    pub fn from_stored_bytes(kind: RecordKind, json: &[u8]) -> serde_json::Result<NotedBody> {
        // The fields a report does not read, `kind` among them, are skipped by the parser.
        match kind {
            RecordKind::Observation => serde_json::from_slice(json).map(NotedBody::Observation),
            RecordKind::Conversation => serde_json::from_slice(json).map(NotedBody::Conversation),
            RecordKind::Signal => serde_json::from_slice(json).map(NotedBody::Signal),
        }
    }

    pub fn kind(&self) -> RecordKind {
        match self {
            NotedBody::Observation(_) => RecordKind::Observation,
            NotedBody::Conversation(_) => RecordKind::Conversation,
            NotedBody::Signal(_) => RecordKind::Signal,
        }
    }
}

impl From<&RecordBody> for NotedBody {
    fn from(b: &RecordBody) -> NotedBody {
        match b {
            RecordBody::Observation(o) => NotedBody::Observation(NotedObservation { themes: o.themes.clone() }),
            RecordBody::Conversation(c) => NotedBody::Conversation(NotedConversation {
                roles: c.roles.clone(),
                people: c.people,
                duration_min: c.duration_min,
                mood: c.mood,
                trust: c.trust,
                agreements: c.agreements.clone(),
                immediate_help: c.immediate_help,
            }),
            RecordBody::Signal(s) => NotedBody::Signal(NotedSignal {
                category: s.category.clone(),
                severity: s.severity,
                at_known_place: s.at_known_place,
                follow_up: s.follow_up.clone(),
                suggested_referral: s.suggested_referral.clone(),
            }),
        }
    }
}

/// What a report needs of a record: what it holds (without its free texts), its review, where
/// and when — none of its sync metadata. The store reads these straight from its rows (a walk
/// of thousands of records is read for every report); the server makes them from synced
/// [`Record`]s.
#[derive(Clone, Debug, PartialEq)]
pub struct Noted {
    pub id: RecordId,
    pub created: Moment,
    pub body: NotedBody,
    /// `(lat, lon)` of its fix or inherited fix.
    pub point: Option<(f64, f64)>,
    pub buurt: Option<String>,
    pub review: Review,
    pub reviewed_ms: Option<i64>,
}

impl From<&Record> for Noted {
    fn from(r: &Record) -> Noted {
        Noted {
            id: r.id,
            created: r.created,
            body: NotedBody::from(&r.body),
            point: point(&r.location),
            buurt: r.buurt.clone(),
            review: r.review.clone(),
            reviewed_ms: r.reviewed_ms,
        }
    }
}

impl WalkReport {
    /// The report of `walk` with its live `records` (in any order; records of other walks are
    /// left out). `now_ms` measures an active walk; an ended one uses the summary computed
    /// when it ended.
    pub fn of(walk: &Walk, records: &[Record], taxonomy: &Taxonomy, now_ms: i64) -> WalkReport {
        let noted = records.iter().filter(|r| r.walk_id == walk.id).map(Noted::from).collect();
        WalkReport::of_noted(walk, noted, taxonomy, now_ms)
    }

    /// [`WalkReport::of`] from the walk's records as [`Noted`], taken over (their texts move
    /// into the report's lines instead of being copied).
    pub fn of_noted(walk: &Walk, mut records: Vec<Noted>, taxonomy: &Taxonomy, now_ms: i64) -> WalkReport {
        let end_ms = walk.ended.map_or(now_ms, |m| m.utc_ms);
        let walking_ms: i64 = walk.active_intervals(now_ms).iter().map(|(a, b)| b - a).sum();
        let summary = walk.summary.as_ref();
        records.sort_by_key(|r| (r.created.utc_ms, r.id));
        let professional_role = |code: &str| taxonomy.get(code).is_some_and(|c| c.professional);

        // Counted first, borrowing the codes (a walk has few distinct ones).
        let mut counted: HashMap<(CategoryKind, &str), u32> = HashMap::new();
        for r in &records {
            let (kind, codes): (CategoryKind, &[String]) = match &r.body {
                NotedBody::Observation(o) => (CategoryKind::ObservationTheme, &o.themes),
                NotedBody::Conversation(c) => (CategoryKind::CounterpartRole, &c.roles),
                NotedBody::Signal(s) => (CategoryKind::SignalCategory, std::slice::from_ref(&s.category)),
            };
            for code in codes {
                *counted.entry((kind, code.as_str())).or_default() += 1;
            }
        }
        let mut counts: Vec<CodeCount> = counted
            .into_iter()
            .map(|((kind, code), count)| CodeCount { kind, code: code.to_string(), count })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)).then(a.code.cmp(&b.code)));

        let mut timeline = Vec::with_capacity(records.len());
        let (mut conversations, mut signals) = (Vec::new(), Vec::new());
        for r in records {
            let kind = r.body.kind();
            let open_question = r.review.question.is_some() && r.review.answer.is_none();
            let (codes, severity, status): (Vec<String>, _, _) = match r.body {
                NotedBody::Observation(o) => (o.themes, None, None),
                NotedBody::Conversation(c) => {
                    conversations.push(ConversationLine {
                        id: r.id,
                        at: r.created,
                        with_lay_people: c.roles.iter().any(|code| !professional_role(code)),
                        with_professionals: c.roles.iter().any(|code| professional_role(code)),
                        roles: c.roles.clone(),
                        people: c.people,
                        duration_min: c.duration_min,
                        mood: c.mood,
                        trust: c.trust,
                        agreements: c.agreements,
                        immediate_help: c.immediate_help,
                    });
                    (c.roles, None, None)
                }
                NotedBody::Signal(s) => {
                    let status = r.review.status.unwrap_or(SignalStatus::New);
                    let codes = vec![s.category.clone()];
                    signals.push(SignalLine {
                        id: r.id,
                        at: r.created,
                        category: s.category,
                        severity: s.severity,
                        status,
                        referral: r.review.referral.clone(),
                        suggested_referral: s.suggested_referral,
                        at_known_place: s.at_known_place,
                        follow_up: s.follow_up,
                        point: r.point,
                        review: r.review,
                        reviewed_ms: r.reviewed_ms,
                    });
                    (codes, Some(s.severity), Some(status))
                }
            };
            timeline.push(TimelineEntry {
                id: r.id,
                kind,
                at: r.created,
                codes,
                severity,
                status,
                point: r.point,
                buurt: r.buurt,
                reviewed: r.reviewed_ms.is_some(),
                open_question,
            });
        }

        let participants = walk
            .details
            .participants
            .iter()
            .map(|p| match p {
                Participant::Member { display_name, organisation, .. } => ParticipantLine {
                    name: Some(display_name.clone()),
                    role: None,
                    organisation: Some(organisation.clone()).filter(|o| !o.is_empty()),
                    lay_person: false,
                },
                Participant::Guest { role, lay_person } => ParticipantLine {
                    name: None,
                    role: Some(role.clone()),
                    organisation: None,
                    lay_person: *lay_person,
                },
            })
            .collect();
        WalkReport {
            walk_id: walk.id,
            author_id: walk.author_id,
            status: walk.status,
            purpose: walk.details.purpose.clone(),
            started: walk.started,
            ended: walk.ended,
            duration_ms: (end_ms - walk.started.utc_ms).max(0),
            walking_ms: summary.map_or(walking_ms, |s| s.walking_ms),
            distance_m: summary.map_or(0.0, |s| s.distance_m),
            outside_office_hours_ms: summary.map_or(0, |s| s.outside_office_hours_ms),
            outside_office_hours_share: summary.map_or(0.0, |s| s.outside_office_hours_share),
            buurten: walk.buurten.clone(),
            participants,
            timeline,
            counts,
            conversations,
            signals,
            review: walk.review.clone(),
            reviewed_ms: walk.reviewed_ms,
            debrief: walk.debrief.clone(),
        }
    }

    /// The walk on a map, as a GeoJSON FeatureCollection (RFC 7946: longitude first): the
    /// simplified track as a LineString (when it has two points or more), every located
    /// record as a Point with its kind, codes and, for signals, severity and status.
    pub fn map_features(&self, track: &[TrackPoint]) -> Value {
        let mut features = Vec::new();
        if track.len() >= 2 {
            features.push(json!({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": track.iter().map(|p| [p.lon, p.lat]).collect::<Vec<_>>()},
                "properties": {"kind": "track", "walk_id": self.walk_id.to_string()}
            }));
        }
        for e in &self.timeline {
            let Some((lat, lon)) = e.point else { continue };
            let mut properties = json!({
                "kind": e.kind.as_str(), "id": e.id.to_string(), "codes": e.codes, "at_ms": e.at.utc_ms,
                "buurt": e.buurt
            });
            if let (Some(severity), Some(status)) = (e.severity, e.status) {
                properties["severity"] = json!(severity);
                properties["status"] = json!(status);
            }
            features.push(json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": properties
            }));
        }
        json!({"type": "FeatureCollection", "features": features})
    }
}

/// How a team applies the street tactics over a period: the walks' figures together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreetTactics {
    pub walks: u32,
    pub walking_ms: i64,
    /// Go out outside office hours: the share of walking time outside them.
    pub outside_office_hours_share: f64,
    /// Take your time: the median length of a conversation, in minutes.
    pub median_conversation_min: Option<f64>,
    pub conversations: u32,
    /// Value the knowledge of lay people; seek out professionals: conversations with each.
    pub conversations_with_lay_people: u32,
    pub conversations_with_professionals: u32,
    /// Mean something immediately: conversations where practical help was given.
    pub conversations_with_immediate_help: u32,
    pub signals: u32,
    /// Use the places where victims are found: signals the walker marked as at such a place.
    pub signals_at_known_places: u32,
    /// Signals noted where something had been noted before (the caller decides what is near).
    pub signals_near_earlier_records: u32,
}

impl StreetTactics {
    /// The tactics over `reports`; `noted_before` says whether a signal lies where something
    /// was noted before it (on the phone: `Store::records_near`; on the server: its own query).
    pub fn of<'a>(
        reports: impl IntoIterator<Item = &'a WalkReport>,
        mut noted_before: impl FnMut(&SignalLine) -> bool,
    ) -> StreetTactics {
        let mut t = StreetTactics::default();
        let mut outside = 0i64;
        let mut minutes: Vec<u16> = Vec::new();
        for r in reports {
            t.walks += 1;
            t.walking_ms += r.walking_ms;
            outside += r.outside_office_hours_ms;
            for c in &r.conversations {
                t.conversations += 1;
                minutes.push(c.duration_min);
                t.conversations_with_lay_people += c.with_lay_people as u32;
                t.conversations_with_professionals += c.with_professionals as u32;
                t.conversations_with_immediate_help += c.immediate_help as u32;
            }
            for s in &r.signals {
                t.signals += 1;
                t.signals_at_known_places += s.at_known_place as u32;
                t.signals_near_earlier_records += noted_before(s) as u32;
            }
        }
        t.outside_office_hours_share = if t.walking_ms > 0 { outside as f64 / t.walking_ms as f64 } else { 0.0 };
        minutes.sort_unstable();
        t.median_conversation_min = match minutes.len() {
            0 => None,
            n if n % 2 == 1 => Some(minutes[n / 2] as f64),
            n => Some((minutes[n / 2 - 1] as f64 + minutes[n / 2] as f64) / 2.0),
        };
        t
    }
}
