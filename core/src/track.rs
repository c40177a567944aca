//! The walked route: GPS fixes, their plausibility, and what a walk report needs from them.
//!
//! Fixes are never dropped. A fix that is too inaccurate, implies an impossible speed on foot,
//! arrives out of order or during a pause is kept with a flag and left out of distance and
//! coverage. When a walk ends the track is simplified in a time-aware way (the top-down
//! time-ratio algorithm): the simplified track still answers "where was the walker at time t"
//! within the tolerance, which plain Douglas–Peucker does not promise.

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::location::{haversine_m, metres_per_degree, validate_point, LocationSource, MAX_ACCURACY_M};
use crate::time::validate_instant_ms;

/// One GPS fix as the shell delivers it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub source: LocationSource,
}

impl Fix {
    pub fn validate(&self) -> Result<()> {
        validate_instant_ms(self.at_ms, "fix time")?;
        validate_point(self.lat, self.lon)?;
        if !self.accuracy_m.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&self.accuracy_m) {
            return Err(Error::invalid("accuracy", "must be a finite number of metres within 0..100000"));
        }
        Ok(())
    }
}

/// Why a fix is not trusted. A fix with no flags is a "good" fix.
pub mod flags {
    /// Accuracy worse than the walk's limit.
    pub const INACCURATE: u8 = 1;
    /// Reaching it from the previous good fix needs a speed no walker has.
    pub const TOO_FAST: u8 = 2;
    /// Older than a fix already recorded.
    pub const OUT_OF_ORDER: u8 = 4;
    /// Taken while the walk was paused.
    pub const PAUSED: u8 = 8;
}

/// Limits for judging fixes and simplifying the track. A team can tune them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackSettings {
    /// Fixes less accurate than this are flagged `INACCURATE`.
    pub max_accuracy_m: f64,
    /// Speeds above this (after allowing for both fixes' accuracy) are flagged `TOO_FAST`.
    /// 7 m/s is a sprint; a walk with a bicycle stretch should raise it.
    pub max_speed_mps: f64,
    /// Largest error, in metres, the simplified track may have at any fix's time.
    pub simplify_tolerance_m: f64,
}

impl Default for TrackSettings {
    fn default() -> Self {
        Self { max_accuracy_m: 50.0, max_speed_mps: 7.0, simplify_tolerance_m: 10.0 }
    }
}

impl TrackSettings {
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
        if !ok(self.max_accuracy_m, 1.0, MAX_ACCURACY_M)
            || !ok(self.max_speed_mps, 0.5, 100.0)
            || !ok(self.simplify_tolerance_m, 0.5, 1_000.0)
        {
            return Err(Error::invalid("track settings", "outside the sensible range"));
        }
        Ok(())
    }
}

/// Judges one fix against the last good fix and the last fix seen at all.
pub fn assess(fix: &Fix, last_good: Option<&Fix>, last_at_ms: Option<i64>, settings: &TrackSettings) -> u8 {
    let mut f = 0;
    if fix.accuracy_m > settings.max_accuracy_m {
        f |= flags::INACCURATE;
    }
    if last_at_ms.is_some_and(|t| fix.at_ms <= t) {
        f |= flags::OUT_OF_ORDER;
    }
    if let Some(prev) = last_good {
        let dt_s = (fix.at_ms - prev.at_ms) as f64 / 1000.0;
        let d = haversine_m(prev.lat, prev.lon, fix.lat, fix.lon);
        // Both fixes may be off by their accuracy; only what remains is movement.
        let moved = (d - fix.accuracy_m - prev.accuracy_m).max(0.0);
        if dt_s > 0.0 && moved / dt_s > settings.max_speed_mps {
            f |= flags::TOO_FAST;
        }
    }
    f
}

/// A point of a track: time and position.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TrackPoint {
    pub at_ms: i64,
    #[cfg_attr(feature = "schema", schemars(range(min = -90.0, max = 90.0)))]
    pub lat: f64,
    #[cfg_attr(feature = "schema", schemars(range(min = -180.0, max = 180.0)))]
    pub lon: f64,
}

/// Length in metres of a sequence of points.
pub fn length_m(points: &[TrackPoint]) -> f64 {
    points.windows(2).map(|w| haversine_m(w[0].lat, w[0].lon, w[1].lat, w[1].lon)).sum()
}

/// Time-aware simplification (top-down time ratio): keeps the fewest points such that, at the
/// time of every dropped point, the position interpolated on the simplified track lies within
/// `tolerance_m` of where the walker really was. Points must be in time order.
pub fn simplify(points: &[TrackPoint], tolerance_m: f64) -> Vec<TrackPoint> {
    if points.len() <= 2 {
        return points.to_vec();
    }
    let (my, mx) = metres_per_degree(points[0].lat);
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0usize, points.len() - 1)];
    while let Some((s, e)) = stack.pop() {
        if e <= s + 1 {
            continue;
        }
        let (a, b) = (&points[s], &points[e]);
        let span = (b.at_ms - a.at_ms) as f64;
        let mut worst = (0.0f64, 0usize);
        for (i, p) in points.iter().enumerate().take(e).skip(s + 1) {
            let r = if span > 0.0 { (p.at_ms - a.at_ms) as f64 / span } else { 0.0 };
            let ilat = a.lat + (b.lat - a.lat) * r;
            let ilon = a.lon + (b.lon - a.lon) * r;
            let d2 = ((p.lat - ilat) * my).powi(2) + ((p.lon - ilon) * mx).powi(2);
            if d2 > worst.0 {
                worst = (d2, i);
            }
        }
        if worst.0 > tolerance_m * tolerance_m {
            keep[worst.1] = true;
            stack.push((s, worst.1));
            stack.push((worst.1, e));
        }
    }
    points.iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| *p).collect()
}

/// Where the walker was at `at_ms`, interpolated on a time-ordered track; `None` outside it.
pub fn position_at(points: &[TrackPoint], at_ms: i64) -> Option<(f64, f64)> {
    let first = points.first()?;
    let last = points.last()?;
    if at_ms < first.at_ms || at_ms > last.at_ms {
        return None;
    }
    let i = points.partition_point(|p| p.at_ms <= at_ms);
    if i == 0 || i == points.len() {
        let p = if i == 0 { first } else { last };
        return Some((p.lat, p.lon));
    }
    let (a, b) = (&points[i - 1], &points[i]);
    let span = (b.at_ms - a.at_ms) as f64;
    let r = if span > 0.0 { (at_ms - a.at_ms) as f64 / span } else { 0.0 };
    Some((a.lat + (b.lat - a.lat) * r, a.lon + (b.lon - a.lon) * r))
}

/// The team's office hours, in local time of a time zone (Dutch by default). Walks outside them
/// show the street tactic "go out outside office hours".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OfficeHours {
    /// IANA time zone name, e.g. "Europe/Amsterdam".
    pub time_zone: String,
    /// Working days, Monday = 1 .. Sunday = 7.
    pub days: Vec<u8>,
    /// Start and end of the working day, "HH:MM".
    pub start: String,
    pub end: String,
}

impl Default for OfficeHours {
    fn default() -> Self {
        Self {
            time_zone: "Europe/Amsterdam".into(),
            days: vec![1, 2, 3, 4, 5],
            start: "08:30".into(),
            end: "17:00".into(),
        }
    }
}

struct ParsedOfficeHours {
    tz: Tz,
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
}

impl OfficeHours {
    fn parse(&self) -> Result<ParsedOfficeHours> {
        let tz: Tz = self.time_zone.parse().map_err(|_| {
            // The build keeps only the zones in .cargo/config.toml (the phone library's size).
            let known: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
            Error::invalid("office hours", format!("the time zone must be one of {}", known.join(", ")))
        })?;
        let mut days = [false; 7];
        for d in &self.days {
            if !(1..=7).contains(d) {
                return Err(Error::invalid("office hours", "days are numbered 1 (Monday) to 7"));
            }
            if std::mem::replace(&mut days[(*d - 1) as usize], true) {
                return Err(Error::invalid("office hours", "a day appears twice"));
            }
        }
        let t = |s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| Error::invalid("office hours", "times are HH:MM"))
        };
        let (start, end) = (t(&self.start)?, t(&self.end)?);
        if start >= end {
            return Err(Error::invalid("office hours", "start must be before end"));
        }
        Ok(ParsedOfficeHours { tz, days, start, end })
    }

    pub fn validate(&self) -> Result<()> {
        self.parse().map(|_| ())
    }

    /// The same hours written the one way (`09:05`, days in order): what a team stores.
    pub fn normalised(&self) -> Result<OfficeHours> {
        let p = self.parse()?;
        Ok(OfficeHours {
            time_zone: p.tz.name().to_string(),
            days: (1..=7u8).filter(|d| p.days[(*d - 1) as usize]).collect(),
            start: p.start.format("%H:%M").to_string(),
            end: p.end.format("%H:%M").to_string(),
        })
    }

    /// Milliseconds of the interval `[from, to)` that fall outside office hours.
    pub fn outside_ms(&self, from_ms: i64, to_ms: i64) -> Result<i64> {
        let p = self.parse()?;
        if to_ms <= from_ms {
            return Ok(0);
        }
        let from = DateTime::<Utc>::from_timestamp_millis(from_ms).unwrap_or_default();
        let to = DateTime::<Utc>::from_timestamp_millis(to_ms).unwrap_or_default();
        let mut inside = 0i64;
        let mut day = from.with_timezone(&p.tz).date_naive().pred_opt().unwrap_or_default();
        let last = to.with_timezone(&p.tz).date_naive();
        while day <= last {
            if p.days[day.weekday().num_days_from_monday() as usize] {
                let local = |t: NaiveTime| p.tz.from_local_datetime(&day.and_time(t)).earliest();
                if let (Some(s), Some(e)) = (local(p.start), local(p.end)) {
                    let s = s.with_timezone(&Utc).timestamp_millis().max(from_ms);
                    let e = e.with_timezone(&Utc).timestamp_millis().min(to_ms);
                    inside += (e - s).max(0);
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        Ok(to_ms - from_ms - inside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ams(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono_tz::Europe::Amsterdam.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().timestamp_millis()
    }

    #[test]
    fn office_hours_split_a_walk_across_the_evening() {
        let oh = OfficeHours::default();
        // Tuesday 16:00–19:00 Amsterdam time: 1 h inside, 2 h outside.
        let out = oh.outside_ms(ams(2026, 11, 24, 16, 0), ams(2026, 11, 24, 19, 0)).unwrap();
        assert_eq!(out, 2 * 3600 * 1000);
        // Saturday: all outside.
        let out = oh.outside_ms(ams(2026, 11, 28, 10, 0), ams(2026, 11, 28, 12, 0)).unwrap();
        assert_eq!(out, 2 * 3600 * 1000);
        // Summer time (CEST) is local time too: Wednesday 8:00–9:00 in July, 30 min outside.
        let out = oh.outside_ms(ams(2026, 7, 1, 8, 0), ams(2026, 7, 1, 9, 0)).unwrap();
        assert_eq!(out, 30 * 60 * 1000);
    }

    #[test]
    fn implausible_fixes_are_flagged() {
        let s = TrackSettings::default();
        let a = Fix { at_ms: 1_700_000_000_000, lat: 52.09, lon: 5.12, accuracy_m: 5.0, source: LocationSource::Gps };
        let jump = Fix { at_ms: a.at_ms + 10_000, lat: 52.10, ..a }; // 1.1 km in 10 s
        assert_eq!(assess(&jump, Some(&a), Some(a.at_ms), &s), flags::TOO_FAST);
        let walk = Fix { at_ms: a.at_ms + 10_000, lat: 52.0901, ..a }; // 11 m in 10 s
        assert_eq!(assess(&walk, Some(&a), Some(a.at_ms), &s), 0);
        let vague = Fix { accuracy_m: 400.0, ..walk };
        assert_eq!(assess(&vague, Some(&a), Some(a.at_ms), &s) & flags::INACCURATE, flags::INACCURATE);
        let old = Fix { at_ms: a.at_ms - 1, ..a };
        assert_eq!(assess(&old, Some(&a), Some(a.at_ms), &s) & flags::OUT_OF_ORDER, flags::OUT_OF_ORDER);
    }

    #[test]
    fn simplified_track_answers_where_within_tolerance() {
        // A zig-zag walk with a long wait at one spot, one fix per second.
        let mut pts = Vec::new();
        let t0 = 1_700_000_000_000i64;
        for i in 0..3600i64 {
            let (lat, lon) = if (1200..1800).contains(&i) {
                (52.09 + 1200.0 * 1e-5, 5.12)
            } else {
                let j = if i < 1200 { i } else { i - 600 };
                (52.09 + j as f64 * 1e-5, 5.12 + ((j / 60) % 2) as f64 * (j % 60) as f64 * 1e-5)
            };
            pts.push(TrackPoint { at_ms: t0 + i * 1000, lat, lon });
        }
        let simple = simplify(&pts, 10.0);
        assert!(simple.len() < pts.len() / 10, "{} points kept", simple.len());
        for p in &pts {
            let (lat, lon) = position_at(&simple, p.at_ms).unwrap();
            assert!(haversine_m(lat, lon, p.lat, p.lon) <= 10.5);
        }
        // The wait is kept: plain spatial simplification would lose when the walker stood still.
        let (lat, _) = position_at(&simple, t0 + 1500 * 1000).unwrap();
        assert!((lat - (52.09 + 1200.0 * 1e-5)).abs() < 1e-4);
    }
}
