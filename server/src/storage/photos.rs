//! Where the server keeps photos: their description next to the team's entities, their bytes
//! in files (the embedded default: content-addressed, 0600, under the data directory) or in
//! PostgreSQL (chunks in a table, so several instances share them). The rules — who may
//! offer, send and see a photo, what a finished upload must prove — are in `crate::photos`;
//! the backends only keep and fetch.
//!
//! An upload is exactly-once by construction: a chunk is appended only at the offset the
//! server holds (the bytes written and made durable before the count that says so), a chunk
//! at any other offset changes nothing and is answered with where the upload stands.

use wijkverkenner_core::sync::wire::PhotoRef;

use crate::error::Result;

/// A photo as the server keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPhoto {
    pub team_id: String,
    /// The member who offered it: the record's author.
    pub author_id: String,
    pub photo: PhotoRef,
    /// Bytes held, from the start.
    pub received: u64,
    /// Arrived whole, matched its hash and passed the cleaner's check.
    pub stored: bool,
    pub offered_ms: i64,
}

/// What an offer came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoOffered {
    /// Known already with the same description (an offer sent again), or taken now.
    Taken(StoredPhoto),
    /// The id or the record's place is taken by a different photo.
    Conflict,
    /// The team's or the member's photos would pass their quota.
    OverQuota,
}

/// How many bytes of photos a team and each of its members may keep (declared sizes, an
/// upload under way included: an offer reserves its bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhotoQuota {
    pub team_bytes: u64,
    pub member_bytes: u64,
}

impl Default for PhotoQuota {
    fn default() -> Self {
        // About 20 000 photos a team, 2 000 a member (a photo of 2048 px is 0.3–1.5 MB).
        PhotoQuota { team_bytes: 20 << 30, member_bytes: 2 << 30 }
    }
}

/// One transaction each, like [`super::Storage`] (of which this is a part).
pub trait PhotoStorage {
    /// Takes an offer: the description stored, nothing received yet — unless the same photo
    /// is known (then its state), or it conflicts, or passes a quota. The caller checked the
    /// record and its author; this checks the id, the place and the quotas in one transaction.
    fn offer_photo(
        &self,
        author_id: &str,
        team_id: &str,
        photo: &PhotoRef,
        quota: PhotoQuota,
        now_ms: i64,
    ) -> Result<PhotoOffered>;
    fn photo(&self, team_id: &str, id: &str) -> Result<Option<StoredPhoto>>;
    /// Appends `bytes` if `offset` is where the upload stands and it is not finished (never
    /// past the declared size: the caller checks); returns the state after.
    fn append_photo(&self, team_id: &str, id: &str, offset: u64, bytes: &[u8]) -> Result<Option<StoredPhoto>>;
    /// Everything received of a photo (the whole photo once stored).
    fn photo_bytes(&self, team_id: &str, id: &str) -> Result<Option<Vec<u8>>>;
    /// Ends an upload that has all its bytes: `accepted` marks it stored; otherwise its bytes
    /// are dropped and it starts again from nothing.
    fn finish_photo(&self, team_id: &str, id: &str, accepted: bool) -> Result<()>;
    /// A stored photo's thumbnail, once made (`None` before, and for an unknown or unfinished
    /// photo).
    fn photo_thumbnail(&self, team_id: &str, id: &str) -> Result<Option<Vec<u8>>>;
    /// Keeps the thumbnail made of a stored photo (the same bytes whoever makes it).
    fn set_photo_thumbnail(&self, team_id: &str, id: &str, thumbnail: &[u8]) -> Result<()>;
    /// A record's photos, stored or not, in their order.
    fn photos_of(&self, team_id: &str, record_id: &str) -> Result<Vec<StoredPhoto>>;
    /// Removes a record's photos, bytes and all (a file shared by an identical photo of the
    /// same team stays while that one does). Returns how many went.
    fn delete_photos(&self, team_id: &str, record_id: &str) -> Result<u64>;
    /// The records of the team that have photos, and the oldest offer among each record's
    /// photos still under way: what the sweep looks at.
    fn photo_records(&self, team_id: &str) -> Result<Vec<(String, Option<i64>)>>;
}

/// The file of a stored photo's bytes under `dir` (`photos/<team>/<sha256>`) and of one under
/// way (`photos/partial/<team>-<id>`). A team is named by a hash of its id (any text an
/// administrator chose is no file name); ids and hashes were checked before they came here.
pub(crate) fn photo_paths(
    dir: &std::path::Path,
    team_id: &str,
    id: &str,
    sha256: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let team = &crate::admin::sha256_hex(team_id)[..16];
    let root = dir.join("photos");
    (root.join(team).join(sha256), root.join("partial").join(format!("{team}-{id}")))
}
