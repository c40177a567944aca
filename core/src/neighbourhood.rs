//! Neighbourhood boundaries (*wijken* and *buurten*) and tagging points with them.
//!
//! Any municipality's boundaries load the same way: a GeoJSON FeatureCollection of Polygon or
//! MultiPolygon features, with the code and name in properties. Property names differ between
//! sources (Utrecht's open data: `KODE`/`NAAM`/`WIJKKODE`; the CBS *wijk- en buurtkaart*:
//! `buurtcode`/`buurtnaam`/`wijkcode`), so the loader tries the known spellings.
//!
//! Lookup is an R-tree over bounding boxes followed by an exact point-in-polygon test. A point
//! on the border of two buurten belongs to the one with the lowest code, so tagging is
//! deterministic; a point outside every buurt is untagged, not an error.

use std::collections::HashSet;

use geo::{BoundingRect, Intersects, MultiPolygon, Point, Polygon};
use geojson::{GeoJson, Value};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const BUURT_CODE_KEYS: &[&str] = &["KODE", "buurtcode", "BU_CODE", "code", "CODE"];
const BUURT_NAME_KEYS: &[&str] = &["NAAM", "buurtnaam", "BU_NAAM", "naam", "name"];
const BUURT_WIJK_KEYS: &[&str] = &["WIJKKODE", "wijkcode", "WK_CODE", "wijk_code"];
/// A wijk's name on the buurt itself: what [`Neighbourhoods::to_geojson`] writes, so the
/// normalised document reads back whole without a wijk file.
const BUURT_WIJK_NAME_KEYS: &[&str] = &["wijk_name", "WIJKNAAM", "wijknaam", "WK_NAAM"];
const WIJK_CODE_KEYS: &[&str] = &["KODE", "wijkcode", "WK_CODE", "code", "CODE"];
const WIJK_NAME_KEYS: &[&str] = &["NAAM", "wijknaam", "WK_NAAM", "naam", "name"];

const MAX_FEATURES: usize = 50_000;
const MAX_VERTICES: usize = 5_000_000;

/// A buurt or wijk code as sync carries it: 1..64 of `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit (the rule of `sync::codec`).
fn is_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_alphanumeric())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Where a point lies: its buurt and the wijk that buurt belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Place {
    pub buurt_code: String,
    pub buurt_name: String,
    pub wijk_code: Option<String>,
    pub wijk_name: Option<String>,
}

struct Area {
    place: Place,
    shape: MultiPolygon<f64>,
}

/// The loaded boundaries of one municipality (or any set of buurten), ready for lookups.
pub struct Neighbourhoods {
    areas: Vec<Area>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl std::fmt::Debug for Neighbourhoods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neighbourhoods").field("buurten", &self.areas.len()).finish()
    }
}

impl Neighbourhoods {
    /// Loads buurten from a GeoJSON document, and optionally the wijken (for their names).
    pub fn from_geojson(buurten: &str, wijken: Option<&str>) -> Result<Neighbourhoods> {
        let wijk_names: Vec<(String, String)> = match wijken {
            Some(doc) => parse_features(doc, "wijk")?
                .into_iter()
                .map(|f| Ok((required(&f, WIJK_CODE_KEYS, "code")?, name(optional(&f.props, WIJK_NAME_KEYS)))))
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let mut areas = Vec::new();
        let mut codes = HashSet::new();
        for f in parse_features(buurten, "buurt")? {
            let code = required(&f, BUURT_CODE_KEYS, "code")?;
            // The code travels with every record and must pass the sync rules (`codec`).
            if !is_code(&code) {
                return Err(Error::Boundaries(format!(
                    "buurt feature {}: a code has 1..64 of A-Z, a-z, 0-9, '.', '_', '-'",
                    f.index
                )));
            }
            if !codes.insert(code.clone()) {
                return Err(Error::Boundaries(format!("buurt feature {}: code {code} appears twice", f.index)));
            }
            // A wijk code that could not travel is left out (the buurt still tags records).
            let wijk_code = optional(&f.props, BUURT_WIJK_KEYS).filter(|c| is_code(c));
            let wijk_name = wijk_code.as_ref().and_then(|w| {
                wijk_names
                    .iter()
                    .find(|(c, _)| c == w)
                    .map(|(_, n)| n.clone())
                    .or_else(|| optional(&f.props, BUURT_WIJK_NAME_KEYS).map(|n| name(Some(n))))
            });
            let place =
                Place { buurt_name: name(optional(&f.props, BUURT_NAME_KEYS)), buurt_code: code, wijk_code, wijk_name };
            areas.push(Area { place, shape: f.shape });
        }
        // Lowest code first: on a shared border the lower code wins, deterministically.
        areas.sort_by(|a, b| a.place.buurt_code.cmp(&b.place.buurt_code));
        let boxes = areas
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let r = a.shape.bounding_rect()?;
                Some(GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i))
            })
            .collect();
        Ok(Neighbourhoods { areas, tree: RTree::bulk_load(boxes) })
    }

    /// The buurt (and wijk) a WGS84 point lies in; `None` outside every buurt or for a point
    /// that is not a valid coordinate.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<&Place> {
        if !lat.is_finite() || !lon.is_finite() {
            return None;
        }
        let p = Point::new(lon, lat);
        self.tree
            .locate_all_at_point(&[lon, lat])
            .map(|g| g.data)
            .filter(|&i| self.areas[i].shape.intersects(&p))
            .min()
            .map(|i| &self.areas[i].place)
    }

    /// Every buurt, in code order.
    pub fn places(&self) -> impl Iterator<Item = &Place> {
        self.areas.iter().map(|a| &a.place)
    }

    /// The buurten as an RFC 7946 FeatureCollection with normalised properties (`code`,
    /// `name`, `wijk_code`, `wijk_name`): what the review pages draw, whatever the source
    /// file's property names were.
    pub fn to_geojson(&self) -> serde_json::Value {
        let ring = |r: &geo::LineString<f64>| r.0.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>();
        let features: Vec<serde_json::Value> = self
            .areas
            .iter()
            .map(|a| {
                let polygons: Vec<Vec<Vec<[f64; 2]>>> = a
                    .shape
                    .0
                    .iter()
                    .map(|p| std::iter::once(ring(p.exterior())).chain(p.interiors().iter().map(ring)).collect())
                    .collect();
                serde_json::json!({
                    "type": "Feature",
                    "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                    "properties": {
                        "code": a.place.buurt_code, "name": a.place.buurt_name,
                        "wijk_code": a.place.wijk_code, "wijk_name": a.place.wijk_name
                    }
                })
            })
            .collect();
        serde_json::json!({"type": "FeatureCollection", "features": features})
    }

    pub fn len(&self) -> usize {
        self.areas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Brute force: test every polygon, no index. The baseline the benchmark compares with.
    pub fn locate_without_index(&self, lat: f64, lon: f64) -> Option<&Place> {
        let p = Point::new(lon, lat);
        self.areas.iter().find(|a| a.shape.intersects(&p)).map(|a| &a.place)
    }

    /// The bounding box of all buurten as (min lat, min lon, max lat, max lon).
    pub fn extent(&self) -> Option<(f64, f64, f64, f64)> {
        let e: AABB<[f64; 2]> = self.tree.root().envelope();
        (!self.areas.is_empty()).then(|| (e.lower()[1], e.lower()[0], e.upper()[1], e.upper()[0]))
    }
}

struct Feature {
    /// From 1.
    index: usize,
    props: serde_json::Map<String, serde_json::Value>,
    shape: MultiPolygon<f64>,
}

fn parse_features(doc: &str, what: &str) -> Result<Vec<Feature>> {
    let gj: GeoJson = doc.parse().map_err(|e| Error::Boundaries(format!("{what} file is not GeoJSON: {e}")))?;
    let fc = match gj {
        GeoJson::FeatureCollection(fc) => fc,
        _ => return Err(Error::Boundaries(format!("{what} file must be a FeatureCollection"))),
    };
    if fc.features.is_empty() {
        return Err(Error::Boundaries(format!("{what} file has no features")));
    }
    if fc.features.len() > MAX_FEATURES {
        return Err(Error::Boundaries(format!("{what} file has more than {MAX_FEATURES} features")));
    }
    let mut vertices = 0usize;
    let mut out = Vec::with_capacity(fc.features.len());
    // Features are numbered from 1 in messages: the first is "feature 1" (as a person counts).
    for (index, f) in (1..).zip(fc.features) {
        let bad = |rule: &str| Error::Boundaries(format!("{what} feature {index}: {rule}"));
        let geometry = f.geometry.ok_or_else(|| bad("has no geometry"))?;
        let polygons: Vec<Vec<Vec<Vec<f64>>>> = match geometry.value {
            Value::Polygon(p) => vec![p],
            Value::MultiPolygon(mp) => mp,
            _ => return Err(bad("geometry must be a Polygon or MultiPolygon")),
        };
        let mut shape = Vec::with_capacity(polygons.len());
        for rings in polygons {
            let mut geo_rings = Vec::with_capacity(rings.len());
            if rings.is_empty() {
                return Err(bad("polygon without rings"));
            }
            for ring in rings {
                if ring.len() < 4 {
                    return Err(bad("a ring needs at least 4 positions"));
                }
                vertices += ring.len();
                if vertices > MAX_VERTICES {
                    return Err(Error::Boundaries(format!("{what} file has more than {MAX_VERTICES} vertices")));
                }
                let mut coords = Vec::with_capacity(ring.len());
                for pos in ring {
                    let (lon, lat) = match pos.as_slice() {
                        [lon, lat, ..] => (*lon, *lat),
                        _ => return Err(bad("a position needs longitude and latitude")),
                    };
                    if !lon.is_finite() || !lat.is_finite() || lon.abs() > 180.0 || lat.abs() > 90.0 {
                        return Err(bad("coordinates must be WGS84 degrees (is the file in RD New?)"));
                    }
                    coords.push(geo::Coord { x: lon, y: lat });
                }
                geo_rings.push(geo::LineString::new(coords));
            }
            let exterior = geo_rings.remove(0);
            shape.push(Polygon::new(exterior, geo_rings));
        }
        out.push(Feature { index, props: f.properties.unwrap_or_default(), shape: MultiPolygon::new(shape) });
    }
    Ok(out)
}

/// Longest buurt or wijk name kept (names travel to every phone and every map).
const MAX_NAME_CHARS: usize = 100;

/// A name as the file has it, made safe to show: no control or invisible characters, bounded.
fn name(raw: Option<String>) -> String {
    raw.map(|n| crate::text::clean_label(&n, MAX_NAME_CHARS)).unwrap_or_default()
}

fn optional(props: &serde_json::Map<String, serde_json::Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match props.get(*k)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn required(f: &Feature, keys: &[&str], what: &str) -> Result<String> {
    let v = optional(&f.props, keys).ok_or_else(|| {
        Error::Boundaries(format!("feature {}: no {what} property (tried {})", f.index, keys.join(", ")))
    })?;
    if v.chars().count() > 64 {
        return Err(Error::Boundaries(format!("feature {}: {what} longer than 64 characters", f.index)));
    }
    Ok(v)
}

/// The body of the fuzz target (`core/fuzz`), also replayed over the seed corpus by the test
/// suite: any bytes load or fail with [`Error::Boundaries`], and a loaded set answers lookups.
#[doc(hidden)]
pub fn fuzz_boundaries(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Neighbourhoods::from_geojson(text, Some(text)) {
        Ok(n) => {
            if let Some((a, b, c, d)) = n.extent() {
                for (lat, lon) in [(a, b), (c, d), ((a + c) / 2.0, (b + d) / 2.0), (f64::NAN, b)] {
                    let _ = n.locate(lat, lon);
                }
            }
        }
        Err(Error::Boundaries(_)) => {}
        Err(e) => panic!("the boundaries loader returned a foreign error: {e}"),
    }
}
