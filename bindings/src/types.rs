//! The types that cross the FFI, and their conversions from and to the core's. Conversions
//! only: every rule stays in the core.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wijkverkenner_core as core;

pub(crate) fn to_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

pub(crate) fn from_time(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// A moment: an instant and the phone's UTC offset at that instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Moment {
    pub at: SystemTime,
    pub utc_offset_seconds: i32,
}

impl From<Moment> for core::Moment {
    fn from(m: Moment) -> Self {
        core::Moment { utc_ms: from_time(m.at), offset_s: m.utc_offset_seconds }
    }
}

impl From<core::Moment> for Moment {
    fn from(m: core::Moment) -> Self {
        Moment { at: to_time(m.utc_ms), utc_offset_seconds: m.offset_s }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LocationSource {
    Gps,
    Network,
    ManualPin,
}

impl From<LocationSource> for core::LocationSource {
    fn from(s: LocationSource) -> Self {
        match s {
            LocationSource::Gps => core::LocationSource::Gps,
            LocationSource::Network => core::LocationSource::Network,
            LocationSource::ManualPin => core::LocationSource::ManualPin,
        }
    }
}

impl From<core::LocationSource> for LocationSource {
    fn from(s: core::LocationSource) -> Self {
        match s {
            core::LocationSource::Gps => LocationSource::Gps,
            core::LocationSource::Network => LocationSource::Network,
            core::LocationSource::ManualPin => LocationSource::ManualPin,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub fix_time: SystemTime,
    pub source: LocationSource,
}

impl From<Location> for core::Location {
    fn from(l: Location) -> Self {
        core::Location {
            lat: l.lat,
            lon: l.lon,
            accuracy_m: l.accuracy_m,
            fix_ms: from_time(l.fix_time),
            source: l.source.into(),
        }
    }
}

impl From<core::Location> for Location {
    fn from(l: core::Location) -> Self {
        Location {
            lat: l.lat,
            lon: l.lon,
            accuracy_m: l.accuracy_m,
            fix_time: to_time(l.fix_ms),
            source: l.source.into(),
        }
    }
}

/// Where a record was made: its own fix, the walk's last good fix (indoors), or unknown.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Enum)]
pub enum RecordLocation {
    Fix { location: Location },
    Inherited { location: Location },
    Unknown,
}

impl From<core::RecordLocation> for RecordLocation {
    fn from(l: core::RecordLocation) -> Self {
        match l {
            core::RecordLocation::Fix(l) => RecordLocation::Fix { location: l.into() },
            core::RecordLocation::Inherited(l) => RecordLocation::Inherited { location: l.into() },
            core::RecordLocation::None => RecordLocation::Unknown,
        }
    }
}

/// A GPS fix from the platform's location API.
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Fix {
    pub at: SystemTime,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub source: LocationSource,
}

impl From<Fix> for core::Fix {
    fn from(f: Fix) -> Self {
        core::Fix { at_ms: from_time(f.at), lat: f.lat, lon: f.lon, accuracy_m: f.accuracy_m, source: f.source.into() }
    }
}

macro_rules! mirror_enum {
    ($name:ident => $core:ty { $($v:ident),* $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
        pub enum $name { $($v),* }
        impl From<$name> for $core {
            fn from(x: $name) -> Self { match x { $($name::$v => <$core>::$v),* } }
        }
        impl From<$core> for $name {
            fn from(x: $core) -> Self { match x { $(<$core>::$v => $name::$v),* } }
        }
    };
}

mirror_enum!(Tone => core::Tone { Positive, Neutral, Concern });
mirror_enum!(Mood => core::Mood { Hostile, Tense, Neutral, Open, Warm });
mirror_enum!(Trust => core::Trust { Low, Medium, High });
mirror_enum!(Severity => core::Severity { Low, Medium, High, Acute });
mirror_enum!(SignalStatus => core::SignalStatus { New, InReview, Referred, Closed });
mirror_enum!(WalkStatus => core::WalkStatus { Active, Ended, Submitted });
mirror_enum!(MemberRole => core::MemberRole { FieldWorker, Lead });
mirror_enum!(CategoryKind => core::CategoryKind { ObservationTheme, CounterpartRole, SignalCategory, ReferralTarget });
mirror_enum!(SyncState => core::sync::SyncState { Idle, Failed, Revoked });
mirror_enum!(SyncProblem => core::sync::SyncProblem { Unreachable, ServerBusy, NotAccepted, Refused, NotEnrolled, Storage, Other });
mirror_enum!(Logic => core::Logic { Institutional, Situational, Instrumental, Cultural });

/// A member of the team as this phone knows them: whom a walker can name as a colleague on a
/// walk (`Participant.Member`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Colleague {
    pub member_id: String,
    pub name: String,
    pub organisation: String,
}

impl From<core::team::Colleague> for Colleague {
    fn from(c: core::team::Colleague) -> Self {
        Colleague { member_id: c.id, name: c.name, organisation: c.organisation }
    }
}

/// The walker's look back on a walk: which of the four logics dominated, and a note.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct Debrief {
    pub dominant: Option<Logic>,
    pub note: String,
}

impl From<core::Debrief> for Debrief {
    fn from(d: core::Debrief) -> Self {
        Debrief { dominant: d.dominant.map(Into::into), note: d.note }
    }
}

impl From<Debrief> for core::Debrief {
    fn from(d: Debrief) -> Self {
        core::Debrief { dominant: d.dominant.map(Into::into), note: d.note }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Observation {
    pub themes: Vec<String>,
    pub tone: Tone,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Conversation {
    pub roles: Vec<String>,
    pub people: u8,
    pub duration_min: u16,
    pub gist: String,
    pub mood: Mood,
    pub trust: Trust,
    pub agreements: String,
    pub immediate_help: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Signal {
    pub category: String,
    pub severity: Severity,
    pub description: String,
    pub at_known_place: bool,
    pub follow_up: String,
    pub suggested_referral: Option<String>,
}

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum RecordBody {
    Observation { observation: Observation },
    Conversation { conversation: Conversation },
    Signal { signal: Signal },
}

/// Field-for-field conversions both ways, for the three record bodies.
macro_rules! mirror_record {
    ($name:ident => $core:ty { $($f:ident),* } converted { $($c:ident),* }) => {
        impl From<$name> for $core {
            fn from(x: $name) -> Self { Self { $($f: x.$f,)* $($c: x.$c.into(),)* } }
        }
        impl From<$core> for $name {
            fn from(x: $core) -> Self { Self { $($f: x.$f,)* $($c: x.$c.into(),)* } }
        }
    };
}

mirror_record!(Observation => core::Observation { themes, note } converted { tone });
mirror_record!(Conversation => core::Conversation {
    roles, people, duration_min, gist, agreements, immediate_help
} converted { mood, trust });
mirror_record!(Signal => core::Signal {
    category, description, at_known_place, follow_up, suggested_referral
} converted { severity });

impl From<RecordBody> for core::RecordBody {
    fn from(b: RecordBody) -> Self {
        match b {
            RecordBody::Observation { observation } => core::RecordBody::Observation(observation.into()),
            RecordBody::Conversation { conversation } => core::RecordBody::Conversation(conversation.into()),
            RecordBody::Signal { signal } => core::RecordBody::Signal(signal.into()),
        }
    }
}

impl From<core::RecordBody> for RecordBody {
    fn from(b: core::RecordBody) -> Self {
        match b {
            core::RecordBody::Observation(o) => RecordBody::Observation { observation: o.into() },
            core::RecordBody::Conversation(c) => RecordBody::Conversation { conversation: c.into() },
            core::RecordBody::Signal(s) => RecordBody::Signal { signal: s.into() },
        }
    }
}

/// A lead's decisions on a walk or record, the author's answer, and who decided what when.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct Review {
    pub status: Option<SignalStatus>,
    pub referral: Option<String>,
    pub question: Option<String>,
    pub answer: Option<String>,
    /// The review's history as the team server recorded it, oldest first.
    pub log: Vec<ReviewStep>,
}

/// One step of a review: who changed which review field to what, when (see the core's
/// `ReviewStep`). `value` is a code: a status, a referral target, `asked`, `answered`,
/// `reviewed` or `cleared`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReviewStep {
    pub at_ms: i64,
    pub by: String,
    pub by_name: String,
    pub field: String,
    pub value: String,
    pub comment: Option<String>,
    /// For `asked` and `answered`: the question or the answer.
    pub text: Option<String>,
}

impl From<core::review::ReviewStep> for ReviewStep {
    fn from(s: core::review::ReviewStep) -> Self {
        ReviewStep {
            at_ms: s.at_ms,
            by: s.by,
            by_name: s.by_name,
            field: s.field,
            value: s.value,
            comment: s.comment,
            text: s.text,
        }
    }
}

impl From<core::Review> for Review {
    fn from(r: core::Review) -> Self {
        Review {
            status: r.status.map(Into::into),
            referral: r.referral,
            question: r.question,
            answer: r.answer,
            log: r.log.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct NewRecord {
    pub walk_id: String,
    pub body: RecordBody,
    pub created: Moment,
    /// `None` indoors: the walk's last good fix is used, marked as such.
    pub location: Option<Location>,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Record {
    pub id: String,
    pub walk_id: String,
    pub author_id: String,
    pub body: RecordBody,
    pub created: Moment,
    pub location: RecordLocation,
    pub buurt: Option<String>,
    pub wijk: Option<String>,
    pub reviewed: Option<SystemTime>,
    pub review: Review,
    /// Changed here and not yet acknowledged by the team server.
    pub pending_sync: bool,
}

impl From<core::Record> for Record {
    fn from(r: core::Record) -> Self {
        Record {
            id: r.id.to_string(),
            walk_id: r.walk_id.to_string(),
            author_id: r.author_id.to_string(),
            body: r.body.into(),
            created: r.created.into(),
            location: r.location.into(),
            buurt: r.buurt,
            wijk: r.wijk,
            reviewed: r.reviewed_ms.map(to_time),
            review: r.review.into(),
            pending_sync: r.pending_sync,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Participant {
    Member {
        member_id: String,
        display_name: String,
        organisation: String,
    },
    /// A guest known by role; `lay_person` for a resident or other lay person.
    Guest {
        role: String,
        lay_person: bool,
    },
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct NewWalk {
    pub participants: Vec<Participant>,
    pub purpose: String,
    pub focus: Vec<String>,
    pub started: Moment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Pause {
    pub from: Moment,
    pub until: Option<Moment>,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WalkSummary {
    pub distance_m: f64,
    pub walking_seconds: i64,
    pub outside_office_hours_share: f64,
    pub fixes: u32,
    pub flagged_fixes: u32,
    pub track_points: u32,
    pub records: u32,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Walk {
    pub id: String,
    pub author_id: String,
    pub participants: Vec<Participant>,
    pub purpose: String,
    pub focus: Vec<String>,
    pub started: Moment,
    pub pauses: Vec<Pause>,
    pub ended: Option<Moment>,
    pub status: WalkStatus,
    pub paused: bool,
    pub buurten: Vec<String>,
    pub summary: Option<WalkSummary>,
    pub reviewed: Option<SystemTime>,
    pub review: Review,
    pub debrief: Option<Debrief>,
    pub pending_sync: bool,
}

pub(crate) fn participants_to_core(p: Vec<Participant>) -> Result<Vec<core::Participant>, core::Error> {
    p.into_iter()
        .map(|p| {
            Ok(match p {
                Participant::Member { member_id, display_name, organisation } => {
                    core::Participant::Member { member_id: member_id.parse()?, display_name, organisation }
                }
                Participant::Guest { role, lay_person } => core::Participant::Guest { role, lay_person },
            })
        })
        .collect()
}

impl From<core::Walk> for Walk {
    fn from(w: core::Walk) -> Self {
        Walk {
            id: w.id.to_string(),
            author_id: w.author_id.to_string(),
            paused: w.is_paused(),
            participants: w
                .details
                .participants
                .into_iter()
                .map(|p| match p {
                    core::Participant::Member { member_id, display_name, organisation } => {
                        Participant::Member { member_id: member_id.to_string(), display_name, organisation }
                    }
                    core::Participant::Guest { role, lay_person } => Participant::Guest { role, lay_person },
                })
                .collect(),
            purpose: w.details.purpose,
            focus: w.details.focus,
            started: w.started.into(),
            pauses: w
                .pauses
                .into_iter()
                .map(|p| Pause { from: p.from.into(), until: p.until.map(Into::into) })
                .collect(),
            ended: w.ended.map(Into::into),
            status: w.status.into(),
            buurten: w.buurten,
            summary: w.summary.map(|s| WalkSummary {
                distance_m: s.distance_m,
                walking_seconds: s.walking_ms / 1000,
                outside_office_hours_share: s.outside_office_hours_share,
                fixes: s.fixes,
                flagged_fixes: s.flagged_fixes,
                track_points: s.track_points,
                records: s.records,
            }),
            reviewed: w.reviewed_ms.map(to_time),
            review: w.review.into(),
            debrief: w.debrief.map(Into::into),
            pending_sync: w.pending_sync,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct RecordPage {
    pub items: Vec<Record>,
    /// Pass to the next call for the following page; `None` on the last page.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WalkPage {
    pub items: Vec<Walk>,
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Category {
    pub kind: CategoryKind,
    pub code: String,
    pub label_nl: String,
    pub label_en: String,
    pub sensitive: bool,
    /// Kept for old records (their label), not offered for new ones.
    pub retired: bool,
    /// A counterpart role of professionals (street tactics).
    pub professional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Identity {
    pub member_id: String,
    pub display_name: String,
    pub role: MemberRole,
    pub organisation: String,
    pub device_id: String,
}

impl From<core::Identity> for Identity {
    fn from(i: core::Identity) -> Self {
        Identity {
            member_id: i.member.id.to_string(),
            display_name: i.member.display_name,
            role: i.member.role.into(),
            organisation: i.member.organisation,
            device_id: i.device.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FixReport {
    pub stored: u32,
    pub flagged: u32,
}

/// What the sync status screen shows.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    pub state: SyncState,
    pub pending: u64,
    pub last_success: Option<SystemTime>,
    pub last_attempt: Option<SystemTime>,
    /// Why the last sync failed, in words a field worker can act on.
    pub last_error: Option<String>,
    /// The kind of that failure, for the screen to word in the walker's language.
    pub problem: Option<SyncProblem>,
    pub failures: u32,
    /// Do not retry automatically before this (backoff); a manual sync may.
    pub next_attempt: Option<SystemTime>,
    pub unreadable: u32,
    pub refused: Vec<String>,
}

impl From<core::sync::SyncStatus> for SyncStatus {
    fn from(s: core::sync::SyncStatus) -> Self {
        SyncStatus {
            state: s.state.into(),
            pending: s.pending,
            last_success: s.last_success_ms.map(to_time),
            last_attempt: s.last_attempt_ms.map(to_time),
            last_error: s.last_error,
            problem: s.problem.map(Into::into),
            failures: s.failures,
            next_attempt: s.next_attempt_ms.map(to_time),
            unreadable: s.unreadable,
            refused: s.refused,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncOutcome {
    pub round_trips: u32,
    pub acknowledged: u32,
    pub pulled: u32,
    pub unreadable: u32,
    pub refused: u32,
    /// Records deleted from this phone because they became sensitive (need-to-know).
    pub withdrawn: u32,
    /// The team's settings changed and were taken (categories, office hours, boundaries): a
    /// screen showing category lists or the map reloads them.
    pub settings_taken: bool,
    /// Records and walks this phone forgot after the sync, by the team's retention terms.
    pub purged: u32,
    /// Photos whose upload finished in this sync (the team sees them now).
    pub photos_uploaded: u32,
    /// Photos the team server refused in this sync (kept on the phone, marked refused).
    pub photos_refused: u32,
    /// Thumbnails of the team's recent photos that came with this sync.
    pub thumbnails_pulled: u32,
}

/// A photo of an observation or a signal, as the phone knows it (never its bytes: those come
/// with `photo_bytes`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Photo {
    pub id: String,
    pub record_id: String,
    /// Its place among the record's photos, from 0.
    pub position: u32,
    pub width: u32,
    pub height: u32,
    pub size: u64,
    /// Whether this phone holds its bytes (another member's photo: after `fetch_photo`).
    pub on_phone: bool,
    /// The team server holds it whole.
    pub uploaded: bool,
    /// Bytes the team server has confirmed, for a progress bar.
    pub uploaded_bytes: u64,
    /// Why the team server refused it (its code); the photo stays on the phone, unsent.
    pub upload_refused: Option<String>,
}

impl From<core::Photo> for Photo {
    fn from(p: core::Photo) -> Self {
        Photo {
            id: p.id.to_string(),
            record_id: p.record_id.to_string(),
            position: p.position,
            width: p.width,
            height: p.height,
            size: p.size,
            on_phone: p.on_phone,
            uploaded: p.uploaded(),
            uploaded_bytes: p.uploaded_bytes,
            upload_refused: p.upload_refused,
        }
    }
}

/// What a retention purge removed from this phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Purged {
    pub records: u32,
    pub walks: u32,
    /// Raw GPS fixes of walks a lead reviewed.
    pub fixes: u32,
}

impl From<core::Purged> for Purged {
    fn from(p: core::Purged) -> Self {
        Purged { records: p.records, walks: p.walks, fixes: p.fixes }
    }
}

impl From<core::sync::SyncOutcome> for SyncOutcome {
    fn from(o: core::sync::SyncOutcome) -> Self {
        SyncOutcome {
            round_trips: o.round_trips,
            acknowledged: o.acknowledged,
            pulled: o.pulled,
            unreadable: o.unreadable,
            refused: o.refused,
            withdrawn: o.withdrawn,
            settings_taken: o.settings_taken,
            purged: o.purged,
            photos_uploaded: o.photos_uploaded,
            photos_refused: o.photos_refused,
            thumbnails_pulled: o.thumbnails_pulled,
        }
    }
}

// The walk report and the street tactics: what a lead reads on the phone (the same figures the
// review pages show; computed in the core).

mirror_enum!(RecordKind => core::RecordKind { Observation, Conversation, Signal });

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReportParticipant {
    /// A member's name; `None` for a guest, known by role only.
    pub name: Option<String>,
    pub role: Option<String>,
    pub organisation: Option<String>,
    pub lay_person: bool,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct TimelineEntry {
    pub record_id: String,
    pub kind: RecordKind,
    pub at: Moment,
    pub codes: Vec<String>,
    pub severity: Option<Severity>,
    pub status: Option<SignalStatus>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub buurt: Option<String>,
    pub reviewed: bool,
    pub open_question: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CodeCount {
    pub kind: CategoryKind,
    pub code: String,
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ConversationLine {
    pub record_id: String,
    pub at: Moment,
    pub roles: Vec<String>,
    pub with_lay_people: bool,
    pub with_professionals: bool,
    pub people: u8,
    pub duration_min: u16,
    pub mood: Mood,
    pub trust: Trust,
    pub agreements: String,
    pub immediate_help: bool,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SignalLine {
    pub record_id: String,
    pub at: Moment,
    pub category: String,
    pub severity: Severity,
    pub status: SignalStatus,
    pub referral: Option<String>,
    pub suggested_referral: Option<String>,
    pub at_known_place: bool,
    pub follow_up: String,
    pub review: Review,
    pub reviewed_at: Option<SystemTime>,
}

/// The report of one walk (`WijkStore.walkReport`).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct WalkReport {
    pub walk_id: String,
    pub author_id: String,
    pub status: WalkStatus,
    pub purpose: String,
    pub started: Moment,
    pub ended: Option<Moment>,
    pub duration_ms: i64,
    pub walking_ms: i64,
    pub distance_m: f64,
    pub outside_office_hours_ms: i64,
    pub outside_office_hours_share: f64,
    pub buurten: Vec<String>,
    pub participants: Vec<ReportParticipant>,
    pub timeline: Vec<TimelineEntry>,
    pub counts: Vec<CodeCount>,
    pub conversations: Vec<ConversationLine>,
    pub signals: Vec<SignalLine>,
    pub review: Review,
    pub reviewed_at: Option<SystemTime>,
    pub debrief: Option<Debrief>,
}

impl From<core::WalkReport> for WalkReport {
    fn from(r: core::WalkReport) -> Self {
        WalkReport {
            walk_id: r.walk_id.to_string(),
            author_id: r.author_id.to_string(),
            status: r.status.into(),
            purpose: r.purpose,
            started: r.started.into(),
            ended: r.ended.map(Into::into),
            duration_ms: r.duration_ms,
            walking_ms: r.walking_ms,
            distance_m: r.distance_m,
            outside_office_hours_ms: r.outside_office_hours_ms,
            outside_office_hours_share: r.outside_office_hours_share,
            buurten: r.buurten,
            participants: r
                .participants
                .into_iter()
                .map(|p| ReportParticipant {
                    name: p.name,
                    role: p.role,
                    organisation: p.organisation,
                    lay_person: p.lay_person,
                })
                .collect(),
            timeline: r
                .timeline
                .into_iter()
                .map(|e| TimelineEntry {
                    record_id: e.id.to_string(),
                    kind: e.kind.into(),
                    at: e.at.into(),
                    codes: e.codes,
                    severity: e.severity.map(Into::into),
                    status: e.status.map(Into::into),
                    lat: e.point.map(|p| p.0),
                    lon: e.point.map(|p| p.1),
                    buurt: e.buurt,
                    reviewed: e.reviewed,
                    open_question: e.open_question,
                })
                .collect(),
            counts: r
                .counts
                .into_iter()
                .map(|c| CodeCount { kind: c.kind.into(), code: c.code, count: c.count })
                .collect(),
            conversations: r
                .conversations
                .into_iter()
                .map(|c| ConversationLine {
                    record_id: c.id.to_string(),
                    at: c.at.into(),
                    roles: c.roles,
                    with_lay_people: c.with_lay_people,
                    with_professionals: c.with_professionals,
                    people: c.people,
                    duration_min: c.duration_min,
                    mood: c.mood.into(),
                    trust: c.trust.into(),
                    agreements: c.agreements,
                    immediate_help: c.immediate_help,
                })
                .collect(),
            signals: r
                .signals
                .into_iter()
                .map(|s| SignalLine {
                    record_id: s.id.to_string(),
                    at: s.at.into(),
                    category: s.category,
                    severity: s.severity.into(),
                    status: s.status.into(),
                    referral: s.referral,
                    suggested_referral: s.suggested_referral,
                    at_known_place: s.at_known_place,
                    follow_up: s.follow_up,
                    review: s.review.into(),
                    reviewed_at: s.reviewed_ms.map(to_time),
                })
                .collect(),
            review: r.review.into(),
            reviewed_at: r.reviewed_ms.map(to_time),
            debrief: r.debrief.map(Into::into),
        }
    }
}

/// How the team applied the street tactics over a period (`WijkStore.streetTactics`).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct StreetTactics {
    pub walks: u32,
    pub walking_ms: i64,
    pub outside_office_hours_share: f64,
    pub median_conversation_min: Option<f64>,
    pub conversations: u32,
    pub conversations_with_lay_people: u32,
    pub conversations_with_professionals: u32,
    pub conversations_with_immediate_help: u32,
    pub signals: u32,
    pub signals_at_known_places: u32,
    pub signals_near_earlier_records: u32,
}

mirror_record!(StreetTactics => core::StreetTactics {
    walks, walking_ms, outside_office_hours_share, median_conversation_min, conversations,
    conversations_with_lay_people, conversations_with_professionals, conversations_with_immediate_help,
    signals, signals_at_known_places, signals_near_earlier_records
} converted {});

/// A lead's decision on a record, as the phone hands it in: the author's answer is not the
/// lead's to set.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct Decision {
    pub status: Option<SignalStatus>,
    pub referral: Option<String>,
    pub question: Option<String>,
}

impl From<Decision> for core::Review {
    fn from(d: Decision) -> Self {
        core::Review {
            status: d.status.map(Into::into),
            referral: d.referral,
            question: d.question,
            answer: None,
            log: Vec::new(),
        }
    }
}

/// What a piece of personal data in a note is (see `core::personal_data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum PersonalDataKind {
    Phone,
    Email,
    Iban,
    Bsn,
    Plate,
    Postcode,
    Address,
    Birthdate,
    Name,
}

impl From<core::personal_data::PersonalDataKind> for PersonalDataKind {
    fn from(k: core::personal_data::PersonalDataKind) -> Self {
        use core::personal_data::PersonalDataKind as K;
        match k {
            K::Phone => Self::Phone,
            K::Email => Self::Email,
            K::Iban => Self::Iban,
            K::Bsn => Self::Bsn,
            K::Plate => Self::Plate,
            K::Postcode => Self::Postcode,
            K::Address => Self::Address,
            K::Birthdate => Self::Birthdate,
            K::Name => Self::Name,
        }
    }
}

/// One piece of personal data found in a note: its kind and the text as typed (for the warning
/// the walker sees on the phone; never logged).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PersonalDataFinding {
    pub kind: PersonalDataKind,
    pub text: String,
}

/// A note checked before it is saved: what was found, and the note with each piece replaced
/// by a placeholder such as `[telefoonnummer]`, for the walker to take or leave.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PersonalDataCheck {
    pub findings: Vec<PersonalDataFinding>,
    pub redacted: String,
}
