//! Hybrid logical clocks: an order of changes that survives wrong phone clocks.
//!
//! Every change to a walk or record stamps it with the next clock value of this device. The
//! value is wall time (ms) plus a counter plus the device, so two changes never compare equal
//! and a phone whose clock runs a day behind still orders its own edits correctly. Sync uses
//! it for per-field last-writer-wins.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::id::DeviceId;

/// One hybrid-logical-clock value. Its string form sorts in clock order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hlc {
    pub wall_ms: u64,
    pub counter: u16,
    /// Tie-breaker: the low 64 bits of the device id.
    pub node: u64,
}

/// How far ahead of the receiver's own clock a clock value may lie and still be believed.
/// The team server refuses changes stamped later than this; a phone does not let such a value
/// move its own clock. Two days: a phone whose clock is a day off still syncs with one a day
/// off the other way.
pub const CLOCK_AHEAD_MS: i64 = 2 * 24 * 3600 * 1000;
/// No clock value of this product lies before 2026-01-01 (when it was first used): an earlier
/// one is a phone whose clock was reset, or a forgery.
pub const CLOCK_EPOCH_MS: i64 = 1_767_225_600_000;

impl Hlc {
    pub const ZERO: Hlc = Hlc { wall_ms: 0, counter: 0, node: 0 };
    /// The largest wall time the text form holds (12 hex digits: the year 10889).
    pub const MAX_WALL_MS: u64 = (1 << 48) - 1;

    /// The next value after `self` on device `node`, given the device's wall clock. Saturates
    /// at the largest value the text form holds instead of overflowing it.
    pub fn tick(&self, now_ms: u64, node: u64) -> Hlc {
        let now_ms = now_ms.min(Self::MAX_WALL_MS);
        if now_ms > self.wall_ms {
            Hlc { wall_ms: now_ms, counter: 0, node }
        } else if self.counter < u16::MAX {
            Hlc { wall_ms: self.wall_ms, counter: self.counter + 1, node }
        } else if self.wall_ms < Self::MAX_WALL_MS {
            // Counter exhausted within one millisecond: borrow the next millisecond.
            Hlc { wall_ms: self.wall_ms + 1, counter: 0, node }
        } else {
            Hlc { wall_ms: Self::MAX_WALL_MS, counter: u16::MAX, node }
        }
    }

    /// Whether a clock value stamped elsewhere is believable at `now_ms` (the receiver's
    /// clock): not beyond [`CLOCK_AHEAD_MS`] ahead, and not before [`CLOCK_EPOCH_MS`].
    /// `ZERO` (a field unchanged since creation) is always.
    pub fn is_plausible(&self, now_ms: i64) -> bool {
        *self == Hlc::ZERO
            || ((CLOCK_EPOCH_MS as u64..=now_ms.saturating_add(CLOCK_AHEAD_MS).max(0) as u64).contains(&self.wall_ms))
    }

    /// Merge a clock value seen from elsewhere (sync), so later local ticks order after it.
    pub fn observe(&self, seen: &Hlc) -> Hlc {
        if seen > self {
            Hlc { node: self.node, ..*seen }
        } else {
            *self
        }
    }

    pub fn node_of(device: &DeviceId) -> u64 {
        device.as_uuid().as_u64_pair().1
    }
}

impl fmt::Display for Hlc {
    /// Always 12 + 4 + 16 hex digits: a wall time beyond the text form (only made by hand,
    /// never by `tick` or parsing) prints as the largest one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}.{:04x}.{:016x}", self.wall_ms.min(Self::MAX_WALL_MS), self.counter, self.node)
    }
}

impl FromStr for Hlc {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("clock", "not a hybrid logical clock value");
        let mut parts = s.split('.');
        let (w, c, n) = (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
        if parts.next().is_some() || w.len() != 12 || c.len() != 4 || n.len() != 16 {
            return Err(bad());
        }
        // One spelling: lowercase hex digits only (no signs, no capitals).
        if ![w, c, n].iter().all(|p| p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))) {
            return Err(bad());
        }
        Ok(Hlc {
            wall_ms: u64::from_str_radix(w, 16).map_err(|_| bad())?,
            counter: u16::from_str_radix(c, 16).map_err(|_| bad())?,
            node: u64::from_str_radix(n, 16).map_err(|_| bad())?,
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Hlc {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hlc".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{12}\\.[0-9a-f]{4}\\.[0-9a-f]{16}$",
            "description": "A hybrid logical clock: wall time in ms (12 lowercase hex digits), a counter (4), the node (16: the low 64 bits of the device id; 0 for the server). The text sorts in clock order."
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_largest_clock_saturates() {
        let max: Hlc = "ffffffffffff.ffff.ffffffffffffffff".parse().unwrap();
        assert_eq!(max.tick(u64::MAX, 1), Hlc { node: 1, ..max });
        assert_eq!(max.tick(5, 1).to_string(), "ffffffffffff.ffff.0000000000000001");
        assert!("+fffffffffff.ffff.ffffffffffffffff".parse::<Hlc>().is_err());
        assert!("FFFFFFFFFFFF.ffff.ffffffffffffffff".parse::<Hlc>().is_err());
        assert!("1000000000000.0000.0000000000000000".parse::<Hlc>().is_err());
        let now = 1_795_539_600_000;
        assert!(Hlc { wall_ms: now as u64, counter: 0, node: 1 }.is_plausible(now));
        assert!(!max.is_plausible(now));
        assert!(!Hlc { wall_ms: 978_307_200_000, counter: 0, node: 1 }.is_plausible(now));
        assert!(Hlc::ZERO.is_plausible(now));
    }

    #[test]
    fn a_clock_running_behind_still_moves_forward() {
        let a = Hlc::ZERO.tick(2_000, 7);
        let b = a.tick(1_000, 7); // wall clock jumped back a second
        assert!(b > a);
        assert_eq!(b.wall_ms, 2_000);
        assert_eq!(b.counter, 1);
    }

    proptest! {
        #[test]
        fn string_order_is_clock_order(a in any::<(u64, u16, u64)>(), b in any::<(u64, u16, u64)>()) {
            let mask = (1u64 << 48) - 1;
            let ha = Hlc { wall_ms: a.0 & mask, counter: a.1, node: a.2 };
            let hb = Hlc { wall_ms: b.0 & mask, counter: b.1, node: b.2 };
            prop_assert_eq!(ha.cmp(&hb), ha.to_string().cmp(&hb.to_string()));
            prop_assert_eq!(ha.to_string().parse::<Hlc>().unwrap(), ha);
        }

        #[test]
        fn ticks_never_leave_the_text_form(wall in any::<u64>(), counter in any::<u16>(), now in any::<u64>()) {
            let h = Hlc { wall_ms: wall.min(Hlc::MAX_WALL_MS), counter, node: 3 };
            let next = h.tick(now, 4);
            prop_assert!(next >= h);
            prop_assert_eq!(next.to_string().len(), 34);
            prop_assert_eq!(next.to_string().parse::<Hlc>().unwrap(), next);
        }

        #[test]
        fn ticks_are_strictly_increasing(nows in proptest::collection::vec(0u64..1_000_000, 1..200)) {
            let mut h = Hlc::ZERO;
            for now in nows {
                let next = h.tick(now, 1);
                prop_assert!(next > h);
                h = next;
            }
        }
    }
}
