//! Where a record was made: a WGS84 point with its accuracy, fix time and source.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::validate_instant_ms;

/// Worst accuracy the core accepts at all (a fix 100 km wide says nothing about a street).
pub const MAX_ACCURACY_M: f64 = 100_000.0;

/// How the position was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocationSource {
    Gps,
    Network,
    /// The walker put a pin on the map by hand.
    ManualPin,
}

impl LocationSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            LocationSource::Gps => "gps",
            LocationSource::Network => "network",
            LocationSource::ManualPin => "manual_pin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gps" => Some(Self::Gps),
            "network" => Some(Self::Network),
            "manual_pin" => Some(Self::ManualPin),
            _ => None,
        }
    }
}

/// A position fix as the phone delivered it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Location {
    #[cfg_attr(feature = "schema", schemars(range(min = -90.0, max = 90.0)))]
    pub lat: f64,
    #[cfg_attr(feature = "schema", schemars(range(min = -180.0, max = 180.0)))]
    pub lon: f64,
    /// Radius of the 68% confidence circle, in metres.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 100000.0)))]
    pub accuracy_m: f64,
    /// When the fix was taken (ms since epoch, UTC).
    pub fix_ms: i64,
    pub source: LocationSource,
}

impl Location {
    pub fn validate(&self) -> Result<()> {
        self.validate_shape()?;
        validate_instant_ms(self.fix_ms, "fix time")
    }

    /// The point and its accuracy, without judging the fix time.
    pub fn validate_shape(&self) -> Result<()> {
        validate_point(self.lat, self.lon)?;
        if !self.accuracy_m.is_finite() || self.accuracy_m < 0.0 {
            return Err(Error::invalid("accuracy", "must be a finite number of metres ≥ 0"));
        }
        if self.accuracy_m > MAX_ACCURACY_M {
            return Err(Error::invalid("accuracy", "worse than 100 km"));
        }
        Ok(())
    }
}

/// A record's location: where it came from matters as much as the point itself.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecordLocation {
    /// A fix taken for this record.
    Fix(Location),
    /// No fix was available (indoors, basement): the walk's last good fix, marked as such.
    Inherited(Location),
    /// No fix and the walk had none either.
    None,
}

impl RecordLocation {
    /// The place as others than its author see it: the point at the centre of its `cell_m`
    /// grid cell ([`coarsen`]), its accuracy no better than the cell allows (half its diagonal).
    pub fn coarsened(self, cell_m: f64) -> RecordLocation {
        let coarse = |mut l: Location| {
            (l.lat, l.lon) = coarsen(l.lat, l.lon, cell_m);
            l.accuracy_m = l.accuracy_m.max(cell_m * std::f64::consts::FRAC_1_SQRT_2);
            l
        };
        match self {
            RecordLocation::Fix(l) => RecordLocation::Fix(coarse(l)),
            RecordLocation::Inherited(l) => RecordLocation::Inherited(coarse(l)),
            RecordLocation::None => RecordLocation::None,
        }
    }

    pub fn point(&self) -> Option<&Location> {
        match self {
            RecordLocation::Fix(l) | RecordLocation::Inherited(l) => Some(l),
            RecordLocation::None => None,
        }
    }
}

pub(crate) fn validate_point(lat: f64, lon: f64) -> Result<()> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(Error::invalid("latitude", "must lie within -90..90"));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(Error::invalid("longitude", "must lie within -180..180"));
    }
    Ok(())
}

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Metres per degree of latitude and of longitude around `lat` (equirectangular; exact enough
/// for the few kilometres a walk spans).
pub(crate) fn metres_per_degree(lat: f64) -> (f64, f64) {
    let m = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
    (m, m * lat.to_radians().cos())
}

/// The centre of the grid cell of about `cell_m` × `cell_m` a point lies in: what others see
/// of a place where only the surroundings matter (a conversation, a colleague's route). Rows
/// are `cell_m` of latitude; each row is cut in cells `cell_m` wide at its middle. Every point
/// of a cell gives the same centre, so several records in one cell tell nothing more than one.
pub fn coarsen(lat: f64, lon: f64, cell_m: f64) -> (f64, f64) {
    let (m_lat, _) = metres_per_degree(0.0);
    let d_lat = cell_m / m_lat;
    let centre_lat = ((lat / d_lat).floor() + 0.5) * d_lat;
    let (_, m_lon) = metres_per_degree(centre_lat);
    let d_lon = cell_m / m_lon.max(1.0);
    let centre_lon = ((lon / d_lon).floor() + 0.5) * d_lon;
    (centre_lat.clamp(-90.0, 90.0), centre_lon.clamp(-180.0, 180.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coarse_point_is_its_cells_centre() {
        let (lat, lon) = (52.0907, 5.1214);
        let (clat, clon) = coarsen(lat, lon, 100.0);
        assert!(haversine_m(lat, lon, clat, clon) <= 71.0, "within half a cell's diagonal");
        assert!(haversine_m(lat, lon, clat, clon) > 0.0);
        // A point a few metres away in the same cell: the same centre, exactly.
        let (olat, olon) = coarsen(clat + 0.0001, clon - 0.0001, 100.0);
        assert_eq!((olat, olon), (clat, clon));
        // The next cell north: about 100 m further.
        let (nlat, _) = coarsen(clat + 0.0009, clon, 100.0);
        assert!((haversine_m(clat, clon, nlat, clon) - 100.0).abs() < 1.0);
        for (a, b) in [(89.9999, 179.9999), (-89.9999, -179.9999), (0.0, 0.0)] {
            let (x, y) = coarsen(a, b, 100.0);
            assert!(validate_point(x, y).is_ok(), "{a} {b} -> {x} {y}");
        }
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // Utrecht Dom tower to Utrecht Centraal, about 840 m.
        let d = haversine_m(52.0907, 5.1214, 52.0894, 5.1100);
        assert!((d - 790.0).abs() < 60.0, "{d}");
    }

    #[test]
    fn rejects_impossible_points() {
        assert!(validate_point(f64::NAN, 5.0).is_err());
        assert!(validate_point(52.0, f64::INFINITY).is_err());
        assert!(validate_point(90.1, 5.0).is_err());
        assert!(validate_point(52.0, -180.5).is_err());
        assert!(validate_point(-90.0, 180.0).is_ok());
    }
}
