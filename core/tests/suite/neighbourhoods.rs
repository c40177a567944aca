//! Buurt tagging on Utrecht's real boundaries: inside, on and near borders, outside the city,
//! and clear errors for files that are not boundaries.

use crate::common;

use common::*;
use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use wijkverkenner_core::*;

fn utrecht() -> Neighbourhoods {
    Neighbourhoods::from_geojson(&buurt_geojson(), Some(&wijk_geojson())).unwrap()
}

/// The buurt polygons straight from the file, independent of the loader.
fn raw_buurten() -> Vec<(String, MultiPolygon<f64>)> {
    let doc: serde_json::Value = serde_json::from_str(&buurt_geojson()).unwrap();
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let rings: Vec<LineString<f64>> = f["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|ring| {
                    ring.as_array()
                        .unwrap()
                        .iter()
                        .map(|p| Coord { x: p[0].as_f64().unwrap(), y: p[1].as_f64().unwrap() })
                        .collect()
                })
                .collect();
            let mut rings = rings.into_iter();
            let poly = Polygon::new(rings.next().unwrap(), rings.collect());
            (f["properties"]["KODE"].as_str().unwrap().to_string(), MultiPolygon::new(vec![poly]))
        })
        .collect()
}

#[test]
fn loads_all_111_buurten_with_their_wijk() {
    let n = utrecht();
    assert_eq!(n.len(), 111);
    let p = n.places().find(|p| p.buurt_code == "0111").unwrap();
    assert_eq!(p.wijk_code.as_deref(), Some("01"));
    assert_eq!(p.wijk_name.as_deref(), Some("WEST"));
}

#[test]
fn known_places_land_in_their_buurt() {
    let n = utrecht();
    // Interior points of every buurt (a vertex nudged towards the centroid would not always be
    // inside; use the polygon's own interior point).
    use geo::InteriorPoint;
    for (code, shape) in raw_buurten() {
        let p = shape.interior_point().unwrap();
        let got = n.locate(p.y(), p.x()).map(|pl| pl.buurt_code.clone());
        assert_eq!(got.as_deref(), Some(code.as_str()), "interior point of {code}");
    }
}

#[test]
fn points_on_and_near_borders_are_tagged_consistently() {
    let n = utrecht();
    let buurten = raw_buurten();
    let mut on_border = 0;
    for (code, shape) in buurten.iter().step_by(3) {
        let ring = &shape.0[0].exterior().0;
        for w in ring.windows(2).step_by(7) {
            // Exactly on a border vertex and on an edge's midpoint: tagged with a buurt whose
            // closed polygon holds the point (lowest code on a shared border), never dropped.
            let mid = Coord { x: (w[0].x + w[1].x) / 2.0, y: (w[0].y + w[1].y) / 2.0 };
            for (c, is_vertex) in [(w[0], true), (mid, false)] {
                let owners: Vec<&String> = buurten
                    .iter()
                    .filter(|(_, s)| geo::Intersects::intersects(s, &Point::from(c)))
                    .map(|(k, _)| k)
                    .collect();
                // A vertex is on its own polygon; a computed midpoint may miss the edge by an ulp.
                assert!(!is_vertex || owners.contains(&code), "{code}: vertex not on its own polygon");
                let got = n.locate(c.y, c.x).map(|p| &p.buurt_code);
                assert_eq!(got, owners.iter().min().copied(), "{code}: border point tagged with the lowest code");
                on_border += 1;
            }
            // A metre or so off the edge on either side: the buurt that strictly contains it.
            let (dx, dy) = (w[1].x - w[0].x, w[1].y - w[0].y);
            let len = (dx * dx + dy * dy).sqrt();
            if len == 0.0 {
                continue;
            }
            let (nx, ny) = (-dy / len * 1.5e-5, dx / len * 1.5e-5);
            for side in [1.0, -1.0] {
                let q = Point::new(mid.x + side * nx, mid.y + side * ny);
                let strict: Vec<&String> = buurten.iter().filter(|(_, s)| s.contains(&q)).map(|(k, _)| k).collect();
                let got = n.locate(q.y(), q.x()).map(|p| p.buurt_code.clone());
                // Off the city's outer edge or in a sliver between polygons nothing contains it.
                if let Some(k) = strict.first() {
                    assert_eq!(got.as_ref(), Some(*k));
                }
            }
        }
    }
    assert!(on_border > 100);
}

#[test]
fn points_outside_the_city_are_untagged_not_errors() {
    let n = utrecht();
    assert!(n.locate(52.3676, 4.9041).is_none(), "Amsterdam");
    assert!(n.locate(51.9244, 4.4777).is_none(), "Rotterdam");
    assert!(n.locate(0.0, 0.0).is_none());
    assert!(n.locate(f64::NAN, 5.1).is_none());
    let (min_lat, min_lon, max_lat, max_lon) = n.extent().unwrap();
    assert!(n.locate(max_lat + 0.001, (min_lon + max_lon) / 2.0).is_none(), "just north of the city");
    assert!(n.locate((min_lat + max_lat) / 2.0, min_lon - 0.001).is_none(), "just west of the city");
}

#[test]
fn the_index_agrees_with_brute_force_on_a_grid() {
    let n = utrecht();
    let b = MultiPolygon::new(raw_buurten().into_iter().flat_map(|(_, s)| s.0).collect()).bounding_rect().unwrap();
    let mut tagged = 0;
    for i in 0..=60 {
        for j in 0..=60 {
            let lat = b.min().y - 0.01 + (b.height() + 0.02) * i as f64 / 60.0;
            let lon = b.min().x - 0.01 + (b.width() + 0.02) * j as f64 / 60.0;
            let a = n.locate(lat, lon).map(|p| &p.buurt_code);
            let brute = n.locate_without_index(lat, lon).map(|p| &p.buurt_code);
            assert_eq!(a, brute, "{lat},{lon}");
            tagged += a.is_some() as u32;
        }
    }
    assert!(tagged > 1000, "{tagged}");
}

#[test]
fn other_property_spellings_load_too() {
    // The CBS wijk- en buurtkaart spells the properties differently.
    let cbs = buurt_geojson()
        .replace("\"KODE\"", "\"buurtcode\"")
        .replace("\"NAAM\"", "\"buurtnaam\"")
        .replace("\"WIJKKODE\"", "\"wijkcode\"");
    let n = Neighbourhoods::from_geojson(&cbs, None).unwrap();
    assert_eq!(n.len(), 111);
    assert!(n.places().all(|p| p.wijk_code.is_some() && p.wijk_name.is_none()));
}

#[test]
fn malformed_files_give_clear_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "not GeoJSON"),
        ("{", "not GeoJSON"),
        (r#"{"type":"Point","coordinates":[5,52]}"#, "FeatureCollection"),
        (r#"{"type":"FeatureCollection","features":[]}"#, "no features"),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"KODE":"1"},"geometry":null}]}"#,
            "no geometry",
        ),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"KODE":"1"},"geometry":{"type":"Point","coordinates":[5,52]}}]}"#,
            "Polygon or MultiPolygon",
        ),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[5,52],[5.1,52],[5.1,52.1],[5,52]]]}}]}"#,
            "no code property",
        ),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"KODE":"1"},"geometry":{"type":"Polygon","coordinates":[[[136000,455000],[137000,455000],[137000,456000],[136000,455000]]]}}]}"#,
            "WGS84",
        ),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"KODE":"1"},"geometry":{"type":"Polygon","coordinates":[[[5,52],[5.1,52],[5,52]]]}}]}"#,
            "at least 4 positions",
        ),
    ];
    for (doc, expect) in cases {
        match Neighbourhoods::from_geojson(doc, None) {
            Err(Error::Boundaries(msg)) => assert!(msg.contains(expect), "{doc}: {msg}"),
            other => panic!("{doc}: expected a boundaries error, got {other:?}"),
        }
    }
    let twice = buurt_geojson().replace("\"KODE\": \"0111\"", "\"KODE\": \"0112\"");
    assert!(matches!(Neighbourhoods::from_geojson(&twice, None), Err(Error::Boundaries(m)) if m.contains("twice")));
}

#[test]
fn records_and_walks_are_tagged_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let walk = store.start_walk(new_walk(0)).unwrap();
    let amsterdam = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: observation(""),
            created: at(1),
            location: Some(location(1, 52.3676, 4.9041)),
        })
        .unwrap();
    assert_eq!(amsterdam.buurt, None, "outside the city: untagged, stored all the same");
    let centre = store
        .add_record(NewRecord {
            walk_id: walk.id,
            body: observation(""),
            created: at(2),
            location: Some(location(2, CENTRE.0, CENTRE.1)),
        })
        .unwrap();
    let expected = utrecht().locate(CENTRE.0, CENTRE.1).unwrap().clone();
    assert_eq!(centre.buurt.as_deref(), Some(expected.buurt_code.as_str()));
    assert_eq!(centre.wijk, expected.wijk_code);
    let ended = store.end_walk(&walk.id, at(10)).unwrap();
    assert_eq!(ended.buurten, vec![expected.buurt_code]);
}

#[test]
fn the_fuzz_target_holds_on_its_seed_corpus_and_mutations() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/boundaries");
    let mut seeds: Vec<Vec<u8>> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    assert!(seeds.len() >= 5);
    seeds.push(buurt_geojson().into_bytes());
    // Deterministic byte mutations of every seed, like a very short fuzzing run.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for seed in &seeds {
        wijkverkenner_core::neighbourhood::fuzz_boundaries(seed);
        for _ in 0..if seed.len() > 100_000 { 20 } else { 300 } {
            let mut m = seed.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if m.is_empty() {
                    break;
                }
                let i = (x as usize) % m.len();
                match x % 3 {
                    0 => m[i] = (x >> 8) as u8,
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, b"-.e9,[]{}\"0"[(x >> 16) as usize % 11]),
                }
            }
            wijkverkenner_core::neighbourhood::fuzz_boundaries(&m);
        }
    }
}
