//! Time as the field records it: a UTC instant plus the phone's UTC offset at that moment.
//!
//! The instant orders and compares; the offset says what the clock on the wall showed, which
//! matters for "outside office hours" and for reading a report back later.

use chrono::{DateTime, FixedOffset, Local, Offset, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Earliest instant the core accepts (nothing in this product predates it).
pub const EARLIEST_MS: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z
/// How far ahead of the phone's clock a given time may lie (clock skew between GPS, shell, core).
pub const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;
/// Largest UTC offset in use anywhere (±18 h is what ISO 8601 and chrono allow).
const MAX_OFFSET_S: i32 = 18 * 3600;

/// A moment: UTC instant (millisecond precision) plus the device's UTC offset at capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Moment {
    /// Milliseconds since the Unix epoch, UTC.
    pub utc_ms: i64,
    /// The device's offset from UTC in seconds at that moment (e.g. 3600 in Dutch winter).
    #[cfg_attr(feature = "schema", schemars(range(min = -64800, max = 64800)))]
    pub offset_s: i32,
}

impl Moment {
    /// Now, with the device's current local offset.
    pub fn now() -> Self {
        let local = Local::now();
        Self { utc_ms: local.timestamp_millis(), offset_s: local.offset().fix().local_minus_utc() }
    }

    /// A moment from its parts, validated: not before 2000, not more than a day in the future,
    /// offset within ±18 h.
    pub fn new(utc_ms: i64, offset_s: i32) -> Result<Self> {
        let m = Self { utc_ms, offset_s };
        m.validate("time")?;
        Ok(m)
    }

    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.utc_ms).unwrap_or_default()
    }

    /// The wall-clock time the device showed.
    pub fn local(&self) -> DateTime<FixedOffset> {
        let off = FixedOffset::east_opt(self.offset_s).unwrap_or(Utc.fix());
        self.at().with_timezone(&off)
    }

    pub fn plus_ms(&self, ms: i64) -> Self {
        Self { utc_ms: self.utc_ms.saturating_add(ms), offset_s: self.offset_s }
    }

    pub(crate) fn validate(&self, field: &'static str) -> Result<()> {
        validate_instant_ms(self.utc_ms, field)?;
        if !(-MAX_OFFSET_S..=MAX_OFFSET_S).contains(&self.offset_s) {
            return Err(Error::invalid(field, "UTC offset beyond ±18 hours"));
        }
        Ok(())
    }
}

/// Checks an instant against the plausible range: after 2000, at most a day ahead of now.
pub(crate) fn validate_instant_ms(ms: i64, field: &'static str) -> Result<()> {
    if ms < EARLIEST_MS {
        return Err(Error::invalid(field, "before the year 2000"));
    }
    if ms > Utc::now().timestamp_millis().saturating_add(MAX_FUTURE_MS) {
        return Err(Error::invalid(field, "more than a day in the future"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_far_future_and_ancient_times() {
        assert!(Moment::new(Utc::now().timestamp_millis() + 2 * MAX_FUTURE_MS, 0).is_err());
        assert!(Moment::new(0, 0).is_err());
        assert!(Moment::new(i64::MAX, 0).is_err());
        assert!(Moment::new(i64::MIN, 0).is_err());
        assert!(Moment::new(EARLIEST_MS + 1, 19 * 3600).is_err());
        assert!(Moment::new(Utc::now().timestamp_millis(), 3600).is_ok());
    }

    #[test]
    fn local_time_keeps_the_wall_clock() {
        let m = Moment::new(1_700_000_000_000, 3600).unwrap();
        assert_eq!(m.local().offset().local_minus_utc(), 3600);
        assert_eq!(m.local().timestamp_millis(), m.utc_ms);
    }
}
