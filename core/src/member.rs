//! Who uses this phone: the enrolled member and the device.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::id::{DeviceId, MemberId};
use crate::text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    FieldWorker,
    Lead,
}

/// A team member as the phone knows them. Members are professionals; their name is theirs to
/// share with the team. Residents never appear as members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub display_name: String,
    pub role: MemberRole,
    /// Home organisation (*moederorganisatie*), e.g. "Gemeente Utrecht", "Portaal".
    pub organisation: String,
}

impl Member {
    pub fn validate(&self) -> Result<()> {
        text::check_required("display name", &self.display_name, text::SHORT)?;
        text::check("organisation", &self.organisation, text::SHORT)
    }
}

/// The member this store belongs to, on this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub member: Member,
    pub device: DeviceId,
}
