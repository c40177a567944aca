//! The sync protocol's messages, shared by the phone's engine and the team server.
//! `docs/sync-protocol.md` specifies them for independent clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;

/// The protocol version this code speaks. A server accepts a range; see `docs/sync-protocol.md`.
/// Version 2 added `withdrawn` to the sync response; version 3 reports every refused change
/// in `rejected` with a code and the team's version (`current`) instead of refusing the push;
/// version 4 adds the server's `review_log` field to walks and records (older phones do not get
/// it: they would not read the entity); version 5 adds the team's retention terms to the
/// settings document (older phones get it without them).
pub const PROTOCOL_VERSION: u32 = 5;
/// Largest request or response body on the wire (compressed), in bytes.
pub const MAX_WIRE_BYTES: usize = 8 * 1024 * 1024;
/// Largest response body after decompression that a phone takes, in bytes (guards against
/// compression bombs).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Largest sync request body after decompression that the server takes, in bytes.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Most entities a device pushes in one request.
pub const MAX_PUSH: usize = 2_000;
/// Most entities a server returns in one pull page.
pub const MAX_PULL: usize = 5_000;
/// Largest walk or record, as JSON, in bytes. Every list and text of an entity is bounded; this
/// is the budget they add up to, checked on what is stored.
pub const MAX_ENTITY_BYTES: usize = 512 * 1024;
/// A pull page ends before its entities add up to more than this many bytes of JSON (a page
/// always holds at least one), so no entity can make a page too large for a phone.
pub const MAX_PULL_BYTES: usize = 8 * 1024 * 1024;

/// Ids in their one spelling: a lowercase, hyphenated UUID.
#[cfg(feature = "schema")]
const UUID_PATTERN: &str = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// What an entity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Walk,
    Observation,
    Conversation,
    Signal,
}

impl EntityKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EntityKind::Walk => "walk",
            EntityKind::Observation => "observation",
            EntityKind::Conversation => "conversation",
            EntityKind::Signal => "signal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "walk" => Some(Self::Walk),
            "observation" => Some(Self::Observation),
            "conversation" => Some(Self::Conversation),
            "signal" => Some(Self::Signal),
            _ => None,
        }
    }
}

/// A walk or record as it travels: fixed identity plus named fields, each with the hybrid
/// logical clock of its last change. A field without a clock dates from creation (`Hlc::ZERO`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub kind: EntityKind,
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub id: String,
    /// The walk a record belongs to; `None` for a walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub walk_id: Option<String>,
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub author_id: String,
    pub created_ms: i64,
    #[cfg_attr(feature = "schema", schemars(range(min = -64800, max = 64800)))]
    pub created_offset_s: i32,
    /// Shared only with the author and the team's leads.
    #[serde(default)]
    pub sensitive: bool,
    /// A tombstone: its fields are erased and stay erased.
    #[serde(default)]
    pub deleted: bool,
    /// The clock of the entity's latest change (creation included): its version.
    pub hlc: Hlc,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clocks: BTreeMap<String, Hlc>,
}

impl Entity {
    /// The clock of a field: its own, or creation (`ZERO`).
    pub fn clock(&self, field: &str) -> Hlc {
        self.clocks.get(field).copied().unwrap_or(Hlc::ZERO)
    }

    /// The newest clock of any field.
    pub fn max_clock(&self) -> Hlc {
        self.clocks.values().copied().max().unwrap_or(Hlc::ZERO)
    }
}

/// Fields only a team lead may change: the review loop.
pub const LEAD_FIELDS: &[&str] = &["review_status", "review_referral", "review_question", "reviewed_ms"];
/// Fields that describe the review rather than the content (the author's answer included, and
/// the review log the server keeps).
pub const REVIEW_FIELDS: &[&str] =
    &["review_status", "review_referral", "review_question", "review_answer", "reviewed_ms", "review_log"];
/// Fields only the team server writes: who decided what when (since protocol 4).
pub const SERVER_FIELDS: &[&str] = &["review_log"];

/// One sync round trip: push what changed here, pull what changed elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = PROTOCOL_VERSION)))]
    pub protocol: u32,
    /// The server cursor of the last page this device applied; 0 at first.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub cursor: i64,
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_PUSH)))]
    pub push: Vec<Entity>,
    /// Most entities to pull in this response (server caps it at `MAX_PULL`).
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = MAX_PULL)))]
    pub pull_limit: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncResponse {
    pub protocol: u32,
    /// How many pushed entities were applied (all of them: a push is acknowledged whole).
    pub acknowledged: u32,
    pub pull: Vec<Entity>,
    /// Cursor to send next time.
    pub cursor: i64,
    /// More changes wait on the server: sync again.
    pub more: bool,
    /// Pushed changes the server did not apply, each with a code and, where the pusher may see
    /// it, the team's version of the entity (the phone takes the refused fields from it). The
    /// rest of the push was applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
    /// Records this device may no longer see (they became sensitive: need-to-know). The device
    /// deletes its copies. Since protocol 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn: Vec<String>,
    /// The tag of the team's current settings (categories, office hours, boundaries): a phone
    /// that holds another fetches them (`POST /v1/settings`). Absent from servers before team
    /// settings; a phone then keeps what it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
}

/// Asks for the team's settings (`POST /v1/settings`); the answer is a
/// [`TeamSettings`](crate::team::TeamSettings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = PROTOCOL_VERSION)))]
    pub protocol: u32,
}

/// Photos travel apart from their record (`docs/sync-protocol.md`, "Photos"): a phone offers
/// each photo of a record the team already holds, then sends its bytes in chunks of at most
/// this many, each at the offset the server last confirmed. A cut connection costs at most
/// the chunk in flight.
pub const PHOTO_CHUNK_BYTES: usize = 256 * 1024;
/// Record ids one photo listing may name.
pub const MAX_PHOTO_LISTING: usize = 100;
/// The long edge of the thumbnails the team server makes of stored photos, in pixels.
pub const THUMBNAIL_EDGE: u32 = 320;

/// A photo as it travels: what the team server needs to check and keep it, never its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoRef {
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub id: String,
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub record_id: String,
    /// Its place among the record's photos, from 0.
    #[cfg_attr(feature = "schema", schemars(range(max = 4)))]
    pub position: u32,
    /// SHA-256 of the cleaned JPEG, lowercase hex.
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[0-9a-f]{64}$")))]
    pub sha256: String,
    /// Bytes of the cleaned JPEG.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 8388608)))]
    pub size: u64,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 65535)))]
    pub width: u32,
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 65535)))]
    pub height: u32,
}

/// `POST /v1/photos/offer`: a phone announces a photo it is about to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoOffer {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = PROTOCOL_VERSION)))]
    pub protocol: u32,
    pub photo: PhotoRef,
}

/// Where a photo's upload stands on the team server: the answer to an offer and to every chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoUpload {
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub id: String,
    /// Bytes the server holds, from the start: where the next chunk begins.
    pub received: u64,
    /// The whole photo arrived, matched its hash and was checked: the team can see it.
    pub stored: bool,
}

/// `POST /v1/photos/list`: the photos of records the phone holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoListRequest {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = PROTOCOL_VERSION)))]
    pub protocol: u32,
    #[cfg_attr(feature = "schema", schemars(length(max = 100)))]
    pub record_ids: Vec<String>,
}

/// The photos of the listed records that have arrived and that the asking member may see
/// (need-to-know: as their record). Records it may not see are left out without a word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoList {
    pub photos: Vec<PhotoRef>,
}

/// `POST /v1/photos/fetch`: one photo's cleaned JPEG, or the thumbnail the server made of it
/// (long edge at most 320 px); the answer is `image/jpeg`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoFetch {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = PROTOCOL_VERSION)))]
    pub protocol: u32,
    #[cfg_attr(feature = "schema", schemars(pattern(UUID_PATTERN)))]
    pub id: String,
    /// The thumbnail rather than the photo (a full photo's fetch is audited, a thumbnail's,
    /// pulled with the feed, is not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumbnail: bool,
}

/// A pushed change the server did not apply — one field of an entity, or the whole entity —
/// and why. The rest of the push was applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rejection {
    pub id: String,
    /// The field kept as it was; `deleted` for a refused deletion; empty when the whole
    /// entity was refused.
    pub field: String,
    /// Stable machine-readable reason (`not_author`, `lead_only`, `frozen`, `status_transition`,
    /// `clock_reused`, `walk_not_found`, `invalid`, …; see `docs/sync-protocol.md`). Since
    /// protocol 3.
    #[serde(default)]
    pub code: String,
    /// A sentence for a person; never contains record content.
    pub reason: String,
    /// The team's version of the entity after this push, when the pusher may see it: the phone
    /// takes the refused fields from it (it replaces the phone's copy if that has not changed
    /// since it was pushed). Since protocol 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Entity>,
}

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `device_revoked`, `payload_too_large`.
    pub error: String,
    /// A sentence a person can read; never contains record content.
    pub message: String,
    /// Set when the device must delete its store and keys (revoked).
    #[serde(default)]
    pub wipe: bool,
}

/// Enrolment: a phone trades a one-time code for a device credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = PROTOCOL_VERSION)))]
    pub protocol: u32,
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub code: String,
    /// A label for the device list ("Pixel 8 van Sanne"); no personal data needed.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100), pattern(r"^[^\x00-\x1f\x7f-\x9f]+$")))]
    pub device_name: String,
    /// A random secret naming this enrolment attempt, the same on every retry: if the answer
    /// was lost, the server answers the same attempt again (same device, new credential)
    /// instead of refusing the spent code. Since protocol 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 16, max = 100)))]
    pub attempt: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnrolResponse {
    pub device_id: String,
    /// Secret; send as `Authorization: Bearer <device_id>.<credential>`. Stored hashed on the server.
    pub credential: String,
    pub member_id: String,
    pub display_name: String,
    pub role: String,
    pub organisation: String,
    pub team_id: String,
    pub team_name: String,
}
