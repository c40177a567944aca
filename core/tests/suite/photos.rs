//! The JPEG cleaner (issue 13): photos carrying GPS EXIF, XMP, IPTC, an embedded thumbnail,
//! an ICC profile, comments and a trailer come out with none of them and with the same pixels
//! (both decoded and compared); malformed, oversized and unsupported files are refused, and
//! no input makes the cleaner panic or leave metadata behind.

use jpeg_encoder::{ColorType, Encoder};
use proptest::prelude::*;
use wijkverkenner_core::photo::{clean_jpeg, fuzz_clean, PhotoError, PhotoLimits, MAX_PHOTOS_PER_RECORD};
use wijkverkenner_core::*;

use crate::common::*;

const CANARY: &[u8] = b"WV-CANARY-7f3a";

/// A photo-like picture: gradients and noise, so that the scans are not trivial.
fn pixels(width: u16, height: u16, channels: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::with_capacity(usize::from(width) * usize::from(height) * channels);
    for y in 0..height {
        for x in 0..width {
            for c in 0..channels {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let base = (u32::from(x) * 255 / u32::from(width)) + (u32::from(y) * 3 + c as u32 * 70);
                out.push(((base + (state & 31)) % 256) as u8);
            }
        }
    }
    out
}

/// How a test photo is encoded.
#[derive(Clone, Copy)]
struct Options {
    progressive: bool,
    restart: Option<u16>,
    colour: ColorType,
}

const BASELINE: Options = Options { progressive: false, restart: None, colour: ColorType::Rgb };

fn encode(width: u16, height: u16, o: Options, app: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let channels = match o.colour {
        ColorType::Luma => 1,
        ColorType::Cmyk | ColorType::CmykAsYcck => 4,
        _ => 3,
    };
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out, 85);
    e.set_progressive(o.progressive);
    if let Some(r) = o.restart {
        e.set_restart_interval(r);
    }
    for (n, data) in app {
        e.add_app_segment(*n, data.clone()).unwrap();
    }
    e.encode(&pixels(width, height, channels, u32::from(width) * 31 + u32::from(height)), width, height, o.colour)
        .unwrap();
    out
}

/// A TIFF structure as EXIF carries it: IFD0 with make, model, description (the canary) and
/// a pointer to the GPS IFD (52.09° N, 5.12° E, Utrecht), and IFD1 with an embedded JPEG
/// thumbnail.
fn exif(thumbnail: &[u8]) -> Vec<u8> {
    // Little-endian TIFF: header, IFD0 (4 entries) at 8, GPS IFD (4 entries), IFD1 (2
    // entries), then the values.
    let mut t: Vec<u8> = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    let ifd = |n: usize| 2 + n * 12 + 4;
    let (ifd0, gps) = (8usize, 8 + ifd(4));
    let ifd1 = gps + ifd(4);
    let mut values = Vec::new();
    let value_at = |bytes: &[u8], values: &mut Vec<u8>| -> u32 {
        let at = ifd1 + ifd(2) + values.len();
        values.extend_from_slice(bytes);
        if values.len() % 2 == 1 {
            values.push(0);
        }
        at as u32
    };
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    let make = value_at(b"Fairphone\0", &mut values);
    let model = value_at(b"FP5 serial 1234\0", &mut values);
    let mut description = CANARY.to_vec();
    description.push(0);
    let desc = value_at(&description, &mut values);
    let rational = |parts: [(u32, u32); 3]| {
        parts.iter().flat_map(|(a, b)| [a.to_le_bytes(), b.to_le_bytes()]).flatten().collect::<Vec<u8>>()
    };
    let lat = value_at(&rational([(52, 1), (5, 1), (2400, 100)]), &mut values);
    let lon = value_at(&rational([(5, 1), (7, 1), (1200, 100)]), &mut values);
    let thumb = value_at(thumbnail, &mut values);
    assert_eq!(t.len(), ifd0);
    t.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut t, 0x010E, 2, description.len() as u32, desc);
    entry(&mut t, 0x010F, 2, 10, make);
    entry(&mut t, 0x0110, 2, 16, model);
    entry(&mut t, 0x8825, 4, 1, gps as u32);
    t.extend_from_slice(&(ifd1 as u32).to_le_bytes());
    assert_eq!(t.len(), gps);
    t.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    entry(&mut t, 0x0002, 5, 3, lat);
    entry(&mut t, 0x0003, 2, 2, u32::from_le_bytes(*b"E\0\0\0"));
    entry(&mut t, 0x0004, 5, 3, lon);
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), ifd1);
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0201, 4, 1, thumb);
    entry(&mut t, 0x0202, 4, 1, thumbnail.len() as u32);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&values);
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&t);
    segment
}

fn xmp() -> Vec<u8> {
    let mut s = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    s.extend_from_slice(
        b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
          <rdf:Description xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"52,5.4N\" \
          exif:GPSLongitude=\"5,7.2E\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" dc:description=\"",
    );
    s.extend_from_slice(CANARY);
    s.extend_from_slice(b"\"/></rdf:RDF></x:xmpmeta>");
    s
}

/// Photoshop's segment with an IPTC caption (2:120) and city (2:90).
fn iptc() -> Vec<u8> {
    let mut data = Vec::new();
    for (tag, text) in [(120u8, CANARY), (90, b"Utrecht".as_slice())] {
        data.extend_from_slice(&[0x1C, 2, tag]);
        data.extend_from_slice(&(text.len() as u16).to_be_bytes());
        data.extend_from_slice(text);
    }
    let mut s = b"Photoshop 3.0\0".to_vec();
    s.extend_from_slice(b"8BIM");
    s.extend_from_slice(&0x0404u16.to_be_bytes());
    s.extend_from_slice(&[0, 0]); // empty name, padded
    s.extend_from_slice(&(data.len() as u32).to_be_bytes());
    s.extend_from_slice(&data);
    if data.len() % 2 == 1 {
        s.push(0);
    }
    s
}

fn icc() -> Vec<u8> {
    let mut s = b"ICC_PROFILE\0\x01\x01".to_vec();
    s.extend_from_slice(b"desc: Fairphone FP5 camera profile ");
    s.extend_from_slice(CANARY);
    s
}

/// `jpeg` with a segment inserted before its first scan.
fn insert_before_scan(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let sos = segments(jpeg).into_iter().find(|(m, _)| *m == 0xDA).unwrap().1;
    let mut out = jpeg[..sos].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[sos..]);
    out
}

/// The markers of a file's segments up to its first scan, with their offsets.
fn segments(jpeg: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut p = 2;
    while p + 4 <= jpeg.len() && jpeg[p] == 0xFF {
        let m = jpeg[p + 1];
        out.push((m, p));
        if m == 0xDA {
            break;
        }
        p += 2 + usize::from(u16::from_be_bytes([jpeg[p + 2], jpeg[p + 3]]));
    }
    out
}

fn decode(jpeg: &[u8]) -> (Vec<u8>, u16, u16) {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    let pixels = d.decode().expect("decodes");
    let info = d.info().unwrap();
    (pixels, info.width, info.height)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A photo with every kind of metadata a phone or an editor writes.
fn loaded(o: Options) -> (Vec<u8>, Vec<u8>) {
    let thumbnail = encode(40, 30, BASELINE, &[]);
    let mut comment = b"taken by ".to_vec();
    comment.extend_from_slice(CANARY);
    let mut jpeg = encode(
        640,
        480,
        o,
        &[(1, exif(&thumbnail)), (1, xmp()), (2, icc()), (13, iptc()), (11, b"SAMSUNG maker data Galaxy".to_vec())],
    );
    jpeg = insert_before_scan(&jpeg, 0xFE, &comment);
    // A trailer after the image, where phones append a second image (MPF) or makers' data.
    jpeg.extend_from_slice(&thumbnail);
    jpeg.extend_from_slice(CANARY);
    (jpeg, thumbnail)
}

#[test]
fn every_kind_of_metadata_goes_and_the_pixels_stay() {
    let variants = [
        BASELINE,
        Options { progressive: true, ..BASELINE },
        Options { restart: Some(4), ..BASELINE },
        Options { progressive: true, restart: Some(2), ..BASELINE },
        Options { colour: ColorType::Luma, ..BASELINE },
    ];
    for o in variants {
        let (jpeg, thumbnail) = loaded(o);
        assert!(contains(&jpeg, CANARY) && contains(&jpeg, b"Exif\0\0"));
        let clean = clean_jpeg(&jpeg, PhotoLimits::default()).unwrap();
        assert_eq!((clean.width, clean.height), (640, 480));
        let r = &clean.removed;
        assert_eq!((r.exif, r.xmp, r.iptc, r.comments), (1, 1, 1, 1), "{r:?}");
        assert_eq!(r.other_segments, 3, "JFIF, ICC and the maker's segment: {r:?}");
        assert_eq!(r.trailing_bytes, thumbnail.len() + CANARY.len());
        // Nothing of the metadata is left: no canary, no EXIF, no thumbnail's scan, no GPS.
        for needle in [CANARY, b"Exif", b"http://ns.adobe.com", b"Photoshop", b"ICC_PROFILE", b"Fairphone", b"SAMSUNG"]
        {
            assert!(!contains(&clean.bytes, needle), "{}", String::from_utf8_lossy(needle));
        }
        let thumb_scan = &thumbnail[segments(&thumbnail).last().unwrap().1..thumbnail.len() - 2];
        assert!(!contains(&clean.bytes, &thumb_scan[..64.min(thumb_scan.len())]));
        // Only our JFIF header and the segments decoding needs.
        let markers: Vec<u8> = segments(&clean.bytes).into_iter().map(|(m, _)| m).collect();
        assert_eq!(markers[0], 0xE0);
        assert!(markers[1..].iter().all(|m| matches!(m, 0xC0..=0xC2 | 0xC4 | 0xDB | 0xDD | 0xDA)), "{markers:x?}");
        assert!(clean.bytes.ends_with(&[0xFF, 0xD9]));
        // The same picture, pixel for pixel.
        assert_eq!(decode(&clean.bytes), decode(&jpeg));
        // Cleaning a clean photo changes nothing.
        let again = clean_jpeg(&clean.bytes, PhotoLimits::default()).unwrap();
        assert_eq!(again.bytes, clean.bytes);
        assert!(!again.removed.any());
    }
}

#[test]
fn what_cannot_be_cleaned_is_refused() {
    let limits = PhotoLimits::default();
    let jpeg = encode(64, 48, BASELINE, &[]);
    assert_eq!(clean_jpeg(b"", limits), Err(PhotoError::NotJpeg));
    assert_eq!(clean_jpeg(b"\x89PNG\r\n\x1a\n....", limits), Err(PhotoError::NotJpeg));
    assert_eq!(
        clean_jpeg(&jpeg, PhotoLimits { max_bytes: jpeg.len() - 1, ..limits }),
        Err(PhotoError::TooLarge { max: jpeg.len() - 1 })
    );
    assert_eq!(
        clean_jpeg(&jpeg, PhotoLimits { max_long_edge: 63, ..limits }),
        Err(PhotoError::TooManyPixels { width: 64, height: 48, max: 63 })
    );
    // Cut anywhere before its end: refused, never half a photo.
    for cut in 0..jpeg.len() - 1 {
        assert!(clean_jpeg(&jpeg[..cut], limits).is_err(), "cut at {cut}");
    }
    let sof = segments(&jpeg).into_iter().find(|(m, _)| *m == 0xC0).unwrap().1;
    let patched = |at: usize, byte: u8| {
        let mut j = jpeg.clone();
        j[at] = byte;
        clean_jpeg(&j, limits)
    };
    assert!(matches!(patched(sof + 1, 0xC9), Err(PhotoError::Unsupported(_))), "arithmetic coding");
    assert!(matches!(patched(sof + 1, 0xC3), Err(PhotoError::Unsupported(_))), "lossless");
    assert!(matches!(patched(sof + 4, 12), Err(PhotoError::Unsupported(_))), "12-bit samples");
    let mut dnl = jpeg.clone();
    dnl[sof + 5] = 0;
    dnl[sof + 6] = 0;
    assert!(matches!(clean_jpeg(&dnl, limits), Err(PhotoError::Unsupported(_))), "height after the scan");
    let cmyk = encode(64, 48, Options { colour: ColorType::Cmyk, ..BASELINE }, &[]);
    assert!(matches!(clean_jpeg(&cmyk, limits), Err(PhotoError::Unsupported(_))), "CMYK");
    // A segment whose length runs past the end, and one shorter than its length field.
    let mut long = jpeg.clone();
    long.splice(2..2, [0xFF, 0xE1, 0xFF, 0xFF]);
    assert!(matches!(clean_jpeg(&long, limits), Err(PhotoError::Malformed(_))));
    let mut short = jpeg.clone();
    short.splice(2..2, [0xFF, 0xE1, 0x00, 0x01]);
    assert!(matches!(clean_jpeg(&short, limits), Err(PhotoError::Malformed(_))));
    // A frame but no image data.
    let mut no_scan = jpeg[..segments(&jpeg).last().unwrap().1].to_vec();
    no_scan.extend_from_slice(&[0xFF, 0xD9]);
    assert!(matches!(clean_jpeg(&no_scan, limits), Err(PhotoError::Malformed(_))));
    // Thousands of tiny scans (each a pass over every pixel for a decoder): refused past
    // what a camera writes; as many as that are fine.
    let sos = segments(&jpeg).last().unwrap().1;
    let scans = |n: usize| {
        let mut j = jpeg[..sos].to_vec();
        for _ in 0..n {
            j.extend_from_slice(&jpeg[sos..jpeg.len() - 2]);
        }
        j.extend_from_slice(&[0xFF, 0xD9]);
        clean_jpeg(&j, limits)
    };
    assert!(scans(wijkverkenner_core::photo::MAX_SCANS as usize).is_ok());
    assert!(matches!(scans(wijkverkenner_core::photo::MAX_SCANS as usize + 1), Err(PhotoError::Unsupported(_))));
    // The messages name the problem, not the photo.
    for e in [PhotoError::Malformed("x"), PhotoError::Unsupported("y"), PhotoError::NotJpeg] {
        assert!(!e.to_string().contains("WV-"));
    }
}

fn small_photo() -> Vec<u8> {
    encode(24, 16, Options { restart: Some(1), ..BASELINE }, &[(1, exif(b"\xFF\xD8\xFF\xD9"))])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any damage to a photo is refused or cleaned into a clean photo; never a panic.
    #[test]
    fn damaged_photos_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12)) {
        let mut jpeg = small_photo();
        for (at, byte, kind) in edits {
            let i = at.index(jpeg.len());
            match kind {
                0 => jpeg[i] = byte,
                1 => jpeg.insert(i, byte),
                _ => { jpeg.remove(i); }
            }
            if jpeg.is_empty() { break; }
        }
        fuzz_clean(&jpeg);
    }

    /// Random bytes behind a start-of-image marker.
    #[test]
    fn random_files_never_panic(tail in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut data = vec![0xFF, 0xD8];
        data.extend_from_slice(&tail);
        fuzz_clean(&data);
    }

    /// Application segments and comments of any content, anywhere before the scan, are all
    /// removed, and the picture stays.
    #[test]
    fn any_metadata_segment_is_removed(
        inserts in prop::collection::vec((prop_oneof![0xE0u8..=0xEF, Just(0xFE)], prop::collection::vec(any::<u8>(), 0..300), any::<prop::sample::Index>()), 1..6),
        secret in prop::collection::vec(any::<u8>(), 16..17),
    ) {
        let jpeg = small_photo();
        let mut with = jpeg.clone();
        for (marker, mut payload, at) in inserts {
            payload.extend_from_slice(&secret);
            // Between two segments before the scan.
            let points = segments(&with);
            let p = points[at.index(points.len())].1;
            let mut seg = vec![0xFF, marker];
            seg.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
            seg.extend_from_slice(&payload);
            with.splice(p..p, seg);
        }
        let clean = clean_jpeg(&with, PhotoLimits::default()).unwrap();
        prop_assert!(!contains(&clean.bytes, &secret));
        prop_assert_eq!(decode(&clean.bytes), decode(&jpeg));
        prop_assert_eq!(clean.bytes, clean_jpeg(&jpeg, PhotoLimits::default()).unwrap().bytes);
    }
}

// --- In the store ------------------------------------------------------------------------

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let p = e.unwrap().path();
        p.is_file() && contains(&std::fs::read(&p).unwrap(), needle)
    })
}

fn record_with(store: &Store, body: RecordBody) -> Record {
    let walk = match store.active_walk().unwrap() {
        Some(walk) => walk,
        None => store.start_walk(new_walk(0)).unwrap(),
    };
    store
        .add_record(NewRecord {
            walk_id: walk.id,
            body,
            created: at(5),
            location: Some(location(5, CENTRE.0, CENTRE.1)),
        })
        .unwrap()
}

#[test]
fn a_photo_is_stored_clean_and_goes_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let r = record_with(&store, observation("Rolluik altijd half open"));
    let (jpeg, _) = loaded(BASELINE);
    let photo = store.attach_photo(&r.id, &jpeg).unwrap();
    assert_eq!(
        (photo.width, photo.height, photo.position, photo.on_phone, photo.uploaded_bytes),
        (640, 480, 0, true, 0)
    );
    let bytes = store.photo_bytes(&photo.id).unwrap();
    assert_eq!(bytes, clean_jpeg(&jpeg, PhotoLimits::default()).unwrap().bytes);
    assert_eq!(photo.size, bytes.len() as u64);
    assert_eq!(photo.sha256.len(), 64);
    assert!(!contains(&bytes, CANARY));
    assert_eq!(store.photos(&r.id).unwrap(), vec![photo.clone()]);
    // A second photo comes after the first; a damaged one is refused and nothing is stored.
    let second = store.attach_photo(&r.id, &encode(320, 200, BASELINE, &[])).unwrap();
    assert_eq!(second.position, 1);
    let err = store.attach_photo(&r.id, &jpeg[..jpeg.len() / 2]).unwrap_err();
    assert!(matches!(err, Error::Photo(PhotoError::Malformed(_))), "{err}");
    assert_eq!(store.photos(&r.id).unwrap().len(), 2);
    // Removing one photo; deleting the record takes the rest, bytes and all.
    store.remove_photo(&second.id).unwrap();
    assert_eq!(store.photos(&r.id).unwrap(), vec![photo.clone()]);
    store.delete_record(&r.id).unwrap();
    assert!(matches!(store.photo_bytes(&photo.id), Err(Error::NotFound(_))));
    assert!(store.photos(&r.id).unwrap().is_empty());
}

#[test]
fn conversations_carry_no_photos_and_records_carry_a_few() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let jpeg = encode(64, 48, BASELINE, &[]);
    let talk = record_with(&store, conversation("Gesprek met de ondernemer"));
    assert!(matches!(store.attach_photo(&talk.id, &jpeg), Err(Error::Invalid { field: "photo", .. })));
    let sig = record_with(&store, signal("Steeds andere jongens bij de deur"));
    for _ in 0..MAX_PHOTOS_PER_RECORD {
        store.attach_photo(&sig.id, &jpeg).unwrap();
    }
    assert!(matches!(store.attach_photo(&sig.id, &jpeg), Err(Error::Invalid { field: "photo", .. })));
    assert!(matches!(store.attach_photo(&RecordId::new(), &jpeg), Err(Error::NotFound(_))));
    assert!(matches!(store.photo_bytes(&PhotoId::new()), Err(Error::NotFound(_))));
    assert!(matches!(store.remove_photo(&PhotoId::new()), Err(Error::NotFound(_))));
}

/// The canary: a string planted in a photo's EXIF is found in no file of the store, while the
/// photo's own image data is (a plaintext store, so that the search could find either); and
/// once the photo is removed its image data is gone from the files too (secure_delete).
#[test]
fn no_trace_of_the_metadata_in_the_stores_files() {
    let dir = tempfile::tempdir().unwrap();
    let (jpeg, _) = loaded(Options { progressive: true, ..BASELINE });
    let scan = {
        let clean = clean_jpeg(&jpeg, PhotoLimits::default()).unwrap().bytes;
        let at = segments(&clean).last().unwrap().1;
        clean[at + 200..at + 264].to_vec()
    };
    let photo = {
        let store = Store::open(dir.path().join("plain.db"), Encryption::PlaintextForTestsOnly).unwrap();
        store.set_identity(&identity()).unwrap();
        let r = record_with(&store, observation("Afval naast de container"));
        store.attach_photo(&r.id, &jpeg).unwrap()
    };
    assert!(files_contain(dir.path(), &scan), "the photo is in the store");
    for needle in [CANARY, b"Exif".as_slice(), b"Fairphone", b"Photoshop"] {
        assert!(!files_contain(dir.path(), needle), "{}", String::from_utf8_lossy(needle));
    }
    {
        let store = Store::open(dir.path().join("plain.db"), Encryption::PlaintextForTestsOnly).unwrap();
        store.remove_photo(&photo.id).unwrap();
    }
    assert!(!files_contain(dir.path(), &scan), "a removed photo's bytes are overwritten");
    // Encrypted, the photo itself is not readable either.
    let enc = tempfile::tempdir().unwrap();
    let store = store_in(enc.path());
    let r = record_with(&store, observation("Afval"));
    store.attach_photo(&r.id, &jpeg).unwrap();
    drop(store);
    assert!(!files_contain(enc.path(), &scan) && !files_contain(enc.path(), CANARY));
}
