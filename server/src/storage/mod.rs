//! Where the server keeps teams, members, devices and every synced walk and record.
//!
//! One trait, two backends: embedded SQLite (the default: a data directory, zero set-up) and
//! PostgreSQL (for regions and many teams). The sync rules (merge, permissions, cursor) are
//! written once in `crate::sync` against the small transactional [`Tx`] interface; the
//! backends only store and fetch. `tests/conformance.rs` runs the same suite against both.

pub mod photos;
pub mod postgres;
pub mod sqlite;

pub use photos::{PhotoOffered, PhotoQuota, PhotoStorage, StoredPhoto};

use serde::{Deserialize, Serialize};
use wijkverkenner_core::sync::wire::{Entity, EntityKind};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    /// Counts the changes of the team's settings (0: never changed, the server's defaults).
    /// Read with every device and session, so a cached copy of the settings is known fresh.
    #[serde(default)]
    pub settings_version: i64,
}

/// A team's settings as stored: what its administrators changed of the server's defaults
/// (`None`: the default). See `crate::settings`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsRow {
    /// [`Team::settings_version`] this row was written at.
    pub version: i64,
    /// The taxonomy document (`wijkverkenner_core::Taxonomy`, JSON).
    pub taxonomy: Option<String>,
    /// The office hours (`wijkverkenner_core::OfficeHours`, JSON).
    pub office_hours: Option<String>,
    /// The buurten as normalised GeoJSON (`Neighbourhoods::to_geojson`).
    pub buurten: Option<String>,
    pub updated_ms: i64,
    /// The member who made the last change.
    pub updated_by: String,
}

/// A member's role on the server. Field workers and leads sync; admins manage devices and
/// settings; a partner-organisation viewer (police, care, a housing corporation) reads, in
/// the browser, only the signals a lead referred to their organisation
/// ([`Member::referral`]). Neither admins nor partners sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    FieldWorker,
    Lead,
    Admin,
    Partner,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::FieldWorker => "field_worker",
            Role::Lead => "lead",
            Role::Admin => "admin",
            Role::Partner => "partner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "field_worker" => Some(Role::FieldWorker),
            "lead" => Some(Role::Lead),
            "admin" => Some(Role::Admin),
            "partner" => Some(Role::Partner),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub team_id: String,
    pub display_name: String,
    pub role: Role,
    pub organisation: String,
    pub created_ms: i64,
    /// Set when an administrator disabled the member: every device is revoked, every unused
    /// code cancelled, and no new code can be issued.
    pub disabled_ms: Option<i64>,
    /// A partner's organisation as a referral target of the team's taxonomy (`ref.police`):
    /// the signals referred there are what they see. `None` for every other role.
    #[serde(default)]
    pub referral: Option<String>,
}

impl Role {
    /// Whether a member in this role may hold a phone that syncs.
    pub fn syncs(&self) -> bool {
        matches!(self, Role::FieldWorker | Role::Lead)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub member_id: String,
    pub name: String,
    /// SHA-256 of the credential, hex. The credential itself is never stored.
    pub credential_hash: String,
    pub created_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

/// Who is calling: the device, its member and the member's team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub device: Device,
    pub member: Member,
    pub team: Team,
}

/// An entity as the server holds it: the merged document, its place in the team's feed, and
/// the device whose push last changed it (not echoed back to that device).
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub entity: Entity,
    pub seq: i64,
    pub last_device: String,
    /// Taken out of sync by an operator: not served, pushes on it refused.
    pub quarantined: bool,
}

/// A stored entity as its row holds it, the document not yet parsed (an operator must be able
/// to repair a document that no longer parses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRow {
    pub doc: String,
    pub seq: i64,
    pub last_device: String,
    pub quarantined: bool,
}

impl StoredRow {
    pub fn parse(self) -> Result<Stored> {
        Ok(Stored {
            entity: serde_json::from_str(&self.doc)?,
            seq: self.seq,
            last_device: self.last_device,
            quarantined: self.quarantined,
        })
    }
}

/// An entity as [`Storage::entities_after`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedRow {
    pub id: String,
    pub kind: EntityKind,
    pub seq: i64,
    pub quarantined: bool,
    pub doc: String,
}

/// An enrolment code as an administrator sees it: never the code, an id made of its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// The first 12 hex digits of the code's hash: enough to name it, useless to guess it.
    pub id: String,
    pub member_id: String,
    pub member_name: String,
    pub issued_ms: Option<i64>,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
}

/// How long after a code was used its attempt may be repeated (the answer was lost).
pub const ENROL_RETRY_MS: i64 = 10 * 60_000;

/// What redeeming an enrolment code found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// The device (its id) was created for this member — or, for a repeated attempt whose
    /// answer was lost, given the new credential.
    Enrolled(Box<Member>, Team, String),
    /// No such code, already used, or expired (deliberately indistinguishable).
    Invalid,
}

/// One page of a team's change feed for a viewer. The entities stay the JSON documents they
/// are stored as: the server passes them through without parsing them again.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedPage {
    pub docs: Vec<String>,
    /// Ids of records in this page that the viewer saw once and may no longer see (they became
    /// sensitive); only when `Viewer::withdrawals`.
    pub withdrawn: Vec<String>,
    pub cursor: i64,
    pub more: bool,
}

impl FeedPage {
    /// The page's entities, parsed (for tests and tools).
    pub fn entities(&self) -> Result<Vec<Entity>> {
        Ok(self.docs.iter().map(|d| serde_json::from_str(d)).collect::<Result<_, _>>()?)
    }
}

/// Who may see what in the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub team_id: String,
    pub member_id: String,
    pub device_id: String,
    /// Leads see sensitive signals of everyone; others only their own.
    pub sees_sensitive: bool,
    /// The device understands withdrawals (protocol 2): records it may have seen before they
    /// became sensitive are listed in `FeedPage::withdrawn`.
    pub withdrawals: bool,
}

/// A member's sign-in for the review pages: a password (argon2, PHC string) and a second
/// factor (TOTP). Created only through a one-time set-up link an administrator issues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebAccount {
    pub member_id: String,
    /// Unique on the server, lower case.
    pub login: String,
    pub password_hash: String,
    /// The TOTP secret, base32 (RFC 4648, no padding).
    pub totp_secret: String,
    /// The last TOTP time step accepted: a code works once.
    pub totp_last_step: i64,
    /// Wrong passwords or codes since the last successful sign-in.
    pub failures: u32,
    pub locked_until_ms: i64,
    pub created_ms: i64,
}

/// A one-time set-up link for a web account, as stored (its token only as a hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSetup {
    pub token_hash: String,
    pub member_id: String,
    pub login: String,
    /// Generated with the link so the page that shows it and the form that confirms it agree.
    pub totp_secret: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// A signed-in browser. The cookie holds the token; the server only its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSession {
    pub token_hash: String,
    pub member_id: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
    pub ended_ms: Option<i64>,
    /// What the browser said it was (shortened), for the session list.
    pub agent: String,
}

impl WebSession {
    /// How a session is named in lists and links: never the token, a prefix of its hash.
    pub fn id(&self) -> &str {
        &self.token_hash[..16.min(self.token_hash.len())]
    }
}

/// The trace a purge leaves: which entity, of what kind, when and why — never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub team_id: String,
    pub at_ms: i64,
    pub entity_id: String,
    /// `walk`, `observation`, `conversation`, `signal`.
    pub kind: String,
    /// The rule, e.g. `conversation older than 365 days`.
    pub reason: String,
}

/// One entry of the audit trail, with the six fields the BIO asks for: what was done
/// (`view`, `export`, `change`, `sync`, `admin`), to what (a path of the review pages, an
/// entity id, a command — ids and codes only, never a record's content), with which result
/// (an HTTP status or `ok`/`refused`), from where (a client address, or `cli@host`), by whom (a
/// member id, or `cli:user` for the command line), and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Empty for a command line action on no particular team (creating one).
    pub team_id: String,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub result: String,
    pub origin: String,
}

impl AuditEvent {
    /// Bounded fields: a hostile path or name cannot grow the trail without limit.
    pub fn bounded(mut self) -> Self {
        for f in [&mut self.actor, &mut self.action, &mut self.object, &mut self.result, &mut self.origin] {
            if f.chars().count() > 300 {
                *f = f.chars().take(300).collect();
            }
            // Control and direction characters (which could make a line read as another) as `?`.
            let hidden = |c: char| {
                c.is_control()
                    || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
            };
            *f = f.chars().map(|c| if hidden(c) { '?' } else { c }).collect();
        }
        self
    }
}

/// One step in the review history of a walk or record: who changed which review field to
/// what, when, with the lead's comment. Append-only; written in the transaction of the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub entity_id: String,
    pub at_ms: i64,
    pub member_id: String,
    /// `review_status`, `review_referral`, `review_question`, `review_answer`, `reviewed_ms`.
    pub field: String,
    /// The new value as a short code (`referred`, `police`, `asked`, `answered`, `reviewed`).
    pub value: String,
    pub comment: Option<String>,
}

/// Reads and writes inside one storage transaction.
pub trait Tx {
    /// Locks the team's feed for this transaction and returns its last sequence number.
    fn lock_feed(&mut self, team_id: &str) -> Result<i64>;
    fn set_feed(&mut self, team_id: &str, seq: i64) -> Result<()>;
    fn get_row(&mut self, team_id: &str, id: &str) -> Result<Option<StoredRow>>;
    /// Stores `stored` (not quarantined) at its sequence number.
    fn put(&mut self, team_id: &str, stored: &Stored) -> Result<()>;
    /// Marks an entity quarantined at sequence number `seq`; `false` if there is none.
    fn set_quarantined(&mut self, team_id: &str, id: &str, seq: i64) -> Result<bool>;
    /// Appends to the review history.
    fn add_history(&mut self, team_id: &str, entry: &HistoryEntry) -> Result<()>;
    /// [`Team::settings_version`] as this transaction sees it.
    fn settings_version(&mut self, team_id: &str) -> Result<i64>;
    /// The team's settings row, locked for this transaction (two administrators' changes
    /// apply one after the other). `None`: never changed.
    fn settings(&mut self, team_id: &str) -> Result<Option<SettingsRow>>;
    /// Stores the team's settings and sets [`Team::settings_version`] to `row.version`.
    fn put_settings(&mut self, team_id: &str, row: &SettingsRow) -> Result<()>;
    /// The team's signals shared with the whole team (not sensitive, not deleted, not
    /// quarantined): what a category newly marked sensitive may take from the team.
    fn shared_signals(&mut self, team_id: &str) -> Result<Vec<StoredRow>>;

    fn get(&mut self, team_id: &str, id: &str) -> Result<Option<Stored>> {
        self.get_row(team_id, id)?.map(StoredRow::parse).transpose()
    }
}

/// The storage the server runs on. Every method is one transaction.
pub trait Storage: PhotoStorage + Send + Sync {
    /// "sqlite" or "postgres", for /health and logs.
    fn backend(&self) -> &'static str;

    fn create_team(&self, team: &Team) -> Result<()>;
    fn team(&self, id: &str) -> Result<Option<Team>>;
    /// The team's settings row (`None`: never changed).
    fn team_settings(&self, team_id: &str) -> Result<Option<SettingsRow>>;
    fn add_member(&self, member: &Member) -> Result<()>;
    fn member(&self, id: &str) -> Result<Option<Member>>;

    /// Stores a one-time code (hashed) for a member, valid until `expires_ms`.
    fn create_enrolment(&self, code_hash: &str, member_id: &str, issued_ms: i64, expires_ms: i64) -> Result<()>;
    /// Uses the code once and creates the device, atomically; never for a disabled member.
    /// `attempt_hash` names the phone's attempt: the same attempt again with the same unexpired
    /// code (its answer was lost) gets the device it created, with `device`'s new credential —
    /// only within [`ENROL_RETRY_MS`] of the first answer, and only while that device has
    /// never synced and is not revoked.
    fn redeem_enrolment(
        &self,
        code_hash: &str,
        attempt_hash: Option<&str>,
        now_ms: i64,
        device: &Device,
    ) -> Result<Redeemed>;

    /// The device with its member and team; `None` if unknown.
    fn caller(&self, device_id: &str) -> Result<Option<Caller>>;
    fn devices(&self, team_id: &str) -> Result<Vec<(Device, Member)>>;
    /// Marks a device revoked and cancels its member's unused codes (a lost phone's owner
    /// enrols again with a new code); `false` if there is no such device.
    fn revoke_device(&self, device_id: &str, now_ms: i64) -> Result<bool>;
    fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<()>;

    fn members(&self, team_id: &str) -> Result<Vec<Member>>;
    /// Disables a member: every device revoked, every unused code cancelled; `false` if there is
    /// no such member.
    fn disable_member(&self, member_id: &str, now_ms: i64) -> Result<bool>;
    /// Changes a member's role and revokes its devices: what a phone may hold depends on the
    /// role (a lead's phone holds every sensitive signal), and a phone learns its role when it
    /// enrols. `false` if there is no such member or it has that role already.
    fn set_role(&self, member_id: &str, role: Role, referral: Option<&str>, now_ms: i64) -> Result<bool>;
    /// The team's enrolment codes, newest first.
    fn codes(&self, team_id: &str) -> Result<Vec<CodeInfo>>;
    /// Cancels an unused code by its id ([`CodeInfo::id`]); `false` if none matched.
    fn cancel_code(&self, team_id: &str, code_id: &str, now_ms: i64) -> Result<bool>;

    /// Runs `f` in one transaction; commits if it returns `Ok`, rolls back otherwise.
    fn transaction(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;

    /// The viewer's part of the team's feed after `cursor`, at most `limit` entities.
    fn feed(&self, viewer: &Viewer, cursor: i64, limit: u32) -> Result<FeedPage>;

    // The review pages.

    /// Every entity of the team changed after feed position `seq` (quarantined ones included,
    /// so a reader can drop them), in feed order: how the review pages' read model follows the
    /// team.
    fn entities_after(&self, team_id: &str, seq: i64) -> Result<Vec<ChangedRow>>;
    /// A walk's records (not quarantined).
    fn walk_records(&self, team_id: &str, walk_id: &str) -> Result<Vec<StoredRow>>;
    /// The review history of one walk or record, oldest first.
    fn history(&self, team_id: &str, entity_id: &str) -> Result<Vec<HistoryEntry>>;

    fn web_account(&self, member_id: &str) -> Result<Option<WebAccount>>;
    fn web_account_by_login(&self, login: &str) -> Result<Option<WebAccount>>;
    /// Records a failed sign-in attempt (failures, lock).
    fn update_web_account(&self, account: &WebAccount) -> Result<()>;
    /// A successful sign-in with TOTP step `step`: clears the failures and records the step,
    /// atomically and only if the account's last step is earlier (a code works once, even when
    /// two attempts race); `false` if it was not.
    fn claim_totp_step(&self, member_id: &str, step: i64) -> Result<bool>;
    /// Stores a set-up link; an earlier unused link of the member stops working.
    fn create_web_setup(&self, setup: &WebSetup) -> Result<()>;
    /// An unused, unexpired set-up link.
    fn web_setup(&self, token_hash: &str, now_ms: i64) -> Result<Option<WebSetup>>;
    /// Uses the link and creates (or replaces) the member's account, atomically; `false` if the
    /// link was used or expired meanwhile, or the login is taken by another member.
    fn finish_web_setup(&self, token_hash: &str, account: &WebAccount, now_ms: i64) -> Result<bool>;
    fn create_session(&self, session: &WebSession) -> Result<()>;
    /// A live session with its member and team (not ended, not expired, member not disabled).
    fn session(&self, token_hash: &str, now_ms: i64) -> Result<Option<(WebSession, Member, Team)>>;
    /// Slides a session's idle expiry.
    fn touch_session(&self, token_hash: &str, now_ms: i64, expires_ms: i64) -> Result<()>;
    /// Ends a session by its id ([`WebSession::id`]) within a team; `false` if none matched.
    fn end_session(&self, team_id: &str, session_id: &str, now_ms: i64) -> Result<bool>;
    /// The team's live sessions, newest first.
    fn sessions(&self, team_id: &str, now_ms: i64) -> Result<Vec<(WebSession, Member)>>;

    /// A value of the server's own, set once: with `first`, stores it unless one is stored;
    /// returns what is stored.
    fn server_value(&self, key: &str, first: Option<&str>) -> Result<Option<String>>;
    /// Seals what was stored in clear before sealing existed — second-factor secrets and the
    /// documents of sensitive entities (`crate::secret`); returns how many. Run at every start,
    /// once the key is loaded.
    fn seal_at_rest(&self) -> Result<usize>;
    /// Every team's id.
    fn team_ids(&self) -> Result<Vec<String>>;
    /// The team's retention terms as JSON (`crate::retention::Retention`), if set.
    fn retention(&self, team_id: &str) -> Result<Option<String>>;
    fn set_retention(&self, team_id: &str, json: &str, now_ms: i64) -> Result<()>;
    /// The grid, in metres, to which the team's places are coarsened for others than their
    /// author (`crate::sync::as_seen_by`), if the team set one.
    fn location_cell(&self, team_id: &str) -> Result<Option<u32>>;
    /// Sets it; the team's settings version counts up in the same transaction (every cached
    /// copy of the team's settings is reloaded).
    fn set_location_cell(&self, team_id: &str, metres: u32, now_ms: i64) -> Result<()>;
    fn log_deletion(&self, deletion: &Deletion) -> Result<()>;
    /// The team's deletion log from `since_ms`, oldest first.
    fn deletions(&self, team_id: &str, since_ms: i64) -> Result<Vec<Deletion>>;
    /// Drops the review history of a purged entity (it holds the leads' comments).
    fn forget_history(&self, team_id: &str, entity_id: &str) -> Result<()>;
    /// Takes the bytes of deleted rows out of the database's files (SQLite: zeroed pages are
    /// checkpointed and the file vacuumed; PostgreSQL: `VACUUM FULL` rewrites the tables).
    fn compact(&self) -> Result<()>;

    /// Appends to the audit trail (append-only: the database refuses updates and deletes).
    fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    /// The audit trail of a team (`None`: all, for the command line) from `since_ms`, newest
    /// first, at most `limit` entries (so a flood of old entries never hides a new one).
    /// Deletes the audit trail's entries older than `before_ms` (its own retention term): the
    /// cutoff is stored first and only moves forward; the database refuses to delete any
    /// younger entry. Returns how many went.
    fn purge_audit(&self, before_ms: i64) -> Result<u64>;
    fn audit(&self, team_id: Option<&str>, since_ms: i64, limit: usize) -> Result<Vec<AuditEvent>>;
}
