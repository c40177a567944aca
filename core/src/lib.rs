//! Wijkverkenner core: record neighbourhood walks and what is noted on them, offline, in an
//! encrypted local store.
//!
//! Modules by domain noun; dependencies point one way:
//! `time`, `id`, `hlc`, `location`, `taxonomy` ← `track`, `neighbourhood`, `member`, `walk`,
//! `record` ← `store`. See `docs/ARCHITECTURE.md`.

pub mod error;
pub mod hlc;
pub mod id;
pub mod location;
pub mod member;
pub mod neighbourhood;
pub mod personal_data;
pub mod photo;
pub mod record;
pub mod report;
pub mod review;
pub mod taxonomy;
pub mod team;
pub mod text;
pub mod time;
pub mod track;
pub mod walk;

pub mod store;
pub mod sync;

// SQLCipher's crypto in the phone configuration: named so that the linker keeps it.
#[cfg(feature = "libtomcrypt")]
use wijkverkenner_libtomcrypt as _;

pub use error::{Error, Result};

pub use hlc::Hlc;
pub use id::{DeviceId, MemberId, PhotoId, RecordId, WalkId};
pub use location::{Location, LocationSource, RecordLocation};
pub use member::{Identity, Member, MemberRole};
pub use neighbourhood::{Neighbourhoods, Place};
pub use photo::{Photo, PhotoError, PhotoLimits};
pub use record::{
    Conversation, Mood, NewRecord, Observation, Record, RecordBody, RecordKind, Severity, Signal, Tone, Trust,
};
pub use report::{StreetTactics, WalkReport};
pub use review::{Review, SignalStatus};
pub use store::{Encryption, Page, PageRequest, PurgeEntry, Purged, Settings, Store, StoreKey};
pub use taxonomy::{Category, CategoryKind, Taxonomy};
pub use team::TeamSettings;
pub use time::Moment;
pub use track::{Fix, OfficeHours, TrackPoint, TrackSettings};
pub use walk::{Debrief, Logic, NewWalk, Participant, Pause, Walk, WalkDetails, WalkStatus, WalkSummary};
