//! Ids made on the device: UUIDv7, so they sort by creation time and never need the server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| Error::invalid($what, "not a UUID"))
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        /// On the wire: a lowercase hyphenated UUID.
        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Uuid".into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
                })
            }
        }

        /// Stored as the UUID's 16 bytes (schema v3).
        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Blob(self.0.as_bytes())))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                Uuid::from_slice(v.as_blob()?).map(Self).map_err(|_| rusqlite::types::FromSqlError::InvalidBlobSize {
                    expected_size: 16,
                    blob_size: v.as_blob().map_or(0, <[u8]>::len),
                })
            }
        }
    };
}

/// An id received as text (a sync entity) in its stored form: the UUID's 16 bytes.
pub(crate) fn id_bytes(text: &str, what: &'static str) -> Result<[u8; 16], Error> {
    Uuid::parse_str(text).map(|u| *u.as_bytes()).map_err(|_| Error::invalid(what, "not a UUID"))
}

id_type!(
    /// A team member (a person with an account on the team server).
    MemberId,
    "member id"
);
id_type!(
    /// One phone of a member.
    DeviceId,
    "device id"
);
id_type!(
    /// A walk (*wijkverkenning*).
    WalkId,
    "walk id"
);
id_type!(
    /// An observation, conversation or signal.
    RecordId,
    "record id"
);
id_type!(
    /// A photo attached to an observation or a signal.
    PhotoId,
    "photo id"
);
