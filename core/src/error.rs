//! The core's one error type.
//!
//! Messages name the field and the rule that was broken, never the value: a signal's text is
//! evidence, not a log line, so nothing a field worker typed ever ends up in an error.

/// Everything that can go wrong in the core. Each public function returns `Result<T, Error>`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller handed in a value that breaks a rule (range, length, unknown code, ...).
    #[error("invalid {field}: {rule}")]
    Invalid { field: &'static str, rule: String },

    /// No row with that id (or it was deleted).
    #[error("{0} not found")]
    NotFound(&'static str),

    /// The walk is in a state that does not allow this action (e.g. adding fixes to an ended walk).
    #[error("walk is {status}: cannot {action}")]
    WalkState { status: &'static str, action: &'static str },

    /// A record that a lead reviewed, or a signal a lead referred, can no longer be edited or
    /// deleted by its author ([`crate::Review::freezes_content`]).
    #[error("a lead reviewed or referred this record; it can no longer be changed")]
    Reviewed,

    /// Only a record's author may change it.
    #[error("only the author may change this record")]
    NotAuthor,

    /// The store has no member identity yet (the phone is not enrolled).
    #[error("no member identity on this device")]
    NoIdentity,

    /// The key does not open this store, or the file is not a Wijkverkenner store at all.
    /// Nothing was written.
    #[error("the key does not open this store")]
    WrongKey,

    /// The store was written by a newer app version; it is left untouched.
    #[error("store schema version {found} is newer than this app supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },

    /// Neighbourhood boundaries could not be loaded.
    #[error("neighbourhood boundaries: {0}")]
    Boundaries(String),

    /// A taxonomy document is not usable.
    #[error("taxonomy: {0}")]
    Taxonomy(String),

    /// This device has no credential for the team server yet.
    #[error("this phone is not enrolled with a team yet")]
    NotEnrolled,

    /// The team server could not be reached (no network, timeout, TLS).
    #[error("the team server could not be reached: {0}")]
    Transport(String),

    /// The team server refused a request; `message` is the server's own sentence.
    #[error("the team server refused ({status} {code}): {message}")]
    Server { status: u16, code: String, message: String },

    /// The server revoked this device; its store was wiped.
    #[error("this phone was removed from the team; its data has been deleted")]
    Revoked,

    /// The phone has not synced for longer than the team allows: its data stays locked until
    /// a sync succeeds (nothing is lost).
    #[error("this phone has not synced for too long: its notes are locked until it syncs with the team")]
    Locked,

    /// The caller cancelled the operation; nothing was lost.
    #[error("cancelled")]
    Cancelled,

    /// A photo was refused: not a JPEG the core can clean of its metadata, or beyond the
    /// limits. The message names the problem, never the photo's content.
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),

    /// SQLite reported an error. SQLite's messages name tables and constraints, not values.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),

    /// A stored JSON column could not be read back (a corrupt or foreign row).
    #[error("stored data could not be decoded: {0}")]
    Decode(#[from] serde_json::Error),

    /// The file system refused something.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        Error::Invalid { field, rule: rule.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
