//! Photos attached to observations and signals: the JPEG cleaner.
//!
//! A photo is the easiest way to identify a resident by accident, and its metadata adds the
//! rest: EXIF carries the GPS position, the time and the phone's make and model, XMP and IPTC
//! often repeat them, a comment may hold anything, and an embedded thumbnail is a second copy
//! of the picture that editing the first does not change. The shell scales and re-encodes the
//! picture with the platform's codecs (long edge within the team's limit, baseline or
//! progressive JPEG); the core then cleans what it is handed by rewriting the file from its
//! segments, keeping only what the pixels need:
//!
//! - kept: the quantisation and Huffman tables, the frame header, the restart interval, the
//!   scans with their entropy-coded data, and the 12-byte Adobe segment that says how colour is
//!   coded (it carries nothing else);
//! - removed: every other application segment (JFIF and its thumbnails, EXIF with GPS and
//!   device and its thumbnail, XMP, ICC profiles, MPF, IPTC in Photoshop's segment, makers'
//!   segments), comments, and anything after the end-of-image marker (where phones append
//!   second images and makers' trailers); a fresh, minimal JFIF header takes the first's place;
//! - refused, with [`PhotoError`]: what is not a JPEG, is truncated or malformed, is larger
//!   than the limits, or is a kind the cleaner cannot be sure of (arithmetic-coded, lossless,
//!   hierarchical, 12-bit, CMYK, a height given after the scan).
//!
//! Nothing is decoded: the pixels are the shell's bytes, untouched (the tests decode both and
//! compare). Why a parser of our own and not a crate: docs/adr/0011-jpeg-cleaner.md.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::{PhotoId, RecordId};

/// Photos one record may carry.
pub const MAX_PHOTOS_PER_RECORD: u32 = 5;

/// A photo as the store knows it (never its bytes: [`crate::Store::photo_bytes`] reads those).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub id: PhotoId,
    pub record_id: RecordId,
    /// Its place among the record's photos, from 0.
    pub position: u32,
    pub width: u32,
    pub height: u32,
    /// Bytes of the cleaned file.
    pub size: u64,
    /// SHA-256 of the cleaned file, lowercase hex: how the team server names and checks it.
    pub sha256: String,
    pub added_ms: i64,
    /// Whether this phone holds the bytes.
    pub on_phone: bool,
    /// Bytes the team server has confirmed; `size` when it holds the whole photo.
    pub uploaded_bytes: u64,
    /// The team server refused it (its reason's code): it stays on this phone, unsent.
    pub upload_refused: Option<String>,
}

impl Photo {
    /// The team holds it whole.
    pub fn uploaded(&self) -> bool {
        self.uploaded_bytes == self.size
    }

    /// How it travels (`crate::sync::wire::PhotoRef`).
    pub fn to_ref(&self) -> crate::sync::wire::PhotoRef {
        crate::sync::wire::PhotoRef {
            id: self.id.to_string(),
            record_id: self.record_id.to_string(),
            position: self.position,
            sha256: self.sha256.clone(),
            size: self.size,
            width: self.width,
            height: self.height,
        }
    }
}

/// What the core accepts from a shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhotoLimits {
    /// The file as handed over, in bytes.
    pub max_bytes: usize,
    /// The longer of width and height, in pixels (the team's setting; the shell scales first).
    pub max_long_edge: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        // A 2048-pixel photo at the platforms' usual quality is 0.3–1.5 MB.
        PhotoLimits { max_bytes: 8 * 1024 * 1024, max_long_edge: 2048 }
    }
}

/// Why a photo was refused. The messages name the problem, never the photo's content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is not a JPEG file")]
    NotJpeg,
    #[error("the photo is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the photo is {width}×{height} pixels; its long edge may be at most {max}")]
    TooManyPixels { width: u32, height: u32, max: u32 },
    #[error("the JPEG file is damaged: {0}")]
    Malformed(&'static str),
    #[error("this kind of JPEG cannot be cleaned: {0}")]
    Unsupported(&'static str),
}

/// What the cleaner took out of a photo, for the shell to show ("location removed").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// EXIF segments (GPS position, time, device, thumbnail).
    pub exif: u32,
    /// XMP packets, main and extended.
    pub xmp: u32,
    /// Photoshop segments with IPTC captions, keywords, places.
    pub iptc: u32,
    /// Comment segments.
    pub comments: u32,
    /// Other application segments: JFIF (and its thumbnails), ICC profiles, MPF, makers' own.
    pub other_segments: u32,
    /// Bytes after the end-of-image marker.
    pub trailing_bytes: usize,
}

impl Removed {
    /// Did the photo carry any metadata at all?
    pub fn any(&self) -> bool {
        self.exif + self.xmp + self.iptc + self.comments + self.other_segments > 0 || self.trailing_bytes > 0
    }
}

/// A cleaned photo: its bytes and its size in pixels.
#[derive(Clone, PartialEq, Eq)]
pub struct CleanPhoto {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub removed: Removed,
}

impl fmt::Debug for CleanPhoto {
    // Never the bytes: a debug print must not put a photo into a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanPhoto")
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("removed", &self.removed)
            .finish()
    }
}

/// The JFIF header every cleaned photo starts with: version 1.01, no units, 1:1 pixels, no
/// thumbnail.
const JFIF: [u8; 18] =
    [0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

/// Scans a photo may have: a sequential photo has one (or one a component), platforms'
/// progressive encoders write about ten.
pub const MAX_SCANS: u32 = 32;

fn be16(b: &[u8], at: usize) -> u32 {
    u32::from(b[at]) << 8 | u32::from(b[at + 1])
}

/// Cleans a JPEG as described in the module's documentation.
pub fn clean_jpeg(input: &[u8], limits: PhotoLimits) -> Result<CleanPhoto, PhotoError> {
    if input.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge { max: limits.max_bytes });
    }
    if input.len() < 4 || input[0] != 0xFF || input[1] != SOI {
        return Err(PhotoError::NotJpeg);
    }
    let mut out = Vec::with_capacity(input.len() + JFIF.len());
    out.extend_from_slice(&[0xFF, SOI]);
    out.extend_from_slice(&JFIF);
    let mut removed = Removed::default();
    let mut frame: Option<(u32, u32, u8)> = None;
    let mut scans = 0u32;
    let mut pos = 2;
    loop {
        // A marker: 0xFF, any number of fill bytes 0xFF, the marker's code.
        if pos >= input.len() {
            return Err(PhotoError::Malformed("it ends before its end-of-image marker"));
        }
        if input[pos] != 0xFF {
            return Err(PhotoError::Malformed("data between its segments"));
        }
        while pos < input.len() && input[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = input.get(pos) else {
            return Err(PhotoError::Malformed("it ends inside a marker"));
        };
        pos += 1;
        match marker {
            EOI => {
                if frame.is_none() || scans == 0 {
                    return Err(PhotoError::Malformed("it has no image data"));
                }
                out.extend_from_slice(&[0xFF, EOI]);
                removed.trailing_bytes = input.len() - pos;
                let (width, height, _) = frame.unwrap_or_default();
                return Ok(CleanPhoto { bytes: out, width, height, removed });
            }
            SOI => return Err(PhotoError::Malformed("a second start-of-image marker")),
            0x00 | 0x01 | 0xD0..=0xD7 => return Err(PhotoError::Malformed("a marker out of place")),
            0x02..=0xBF => return Err(PhotoError::Malformed("a reserved marker")),
            _ => {}
        }
        // Every other marker starts a segment with a 16-bit length that counts itself.
        if pos + 2 > input.len() {
            return Err(PhotoError::Malformed("it ends inside a segment's length"));
        }
        let length = be16(input, pos) as usize;
        if length < 2 {
            return Err(PhotoError::Malformed("a segment shorter than its length field"));
        }
        let end = pos + length;
        if end > input.len() {
            return Err(PhotoError::Malformed("a segment runs past the end of the file"));
        }
        let payload = &input[pos + 2..end];
        let segment = &input[pos - 2..end]; // with its marker
        match marker {
            // Frames: baseline, extended sequential and progressive, Huffman-coded.
            0xC0..=0xC2 => {
                if frame.is_some() {
                    return Err(PhotoError::Unsupported("more than one frame"));
                }
                if payload.len() < 6 {
                    return Err(PhotoError::Malformed("a frame header too short"));
                }
                if payload[0] != 8 {
                    return Err(PhotoError::Unsupported("samples of other than 8 bits"));
                }
                let (height, width, components) = (be16(payload, 1), be16(payload, 3), payload[5]);
                if components != 1 && components != 3 {
                    return Err(PhotoError::Unsupported("other than greyscale or colour (CMYK)"));
                }
                if payload.len() != 6 + 3 * usize::from(components) {
                    return Err(PhotoError::Malformed("a frame header of the wrong length"));
                }
                if height == 0 {
                    return Err(PhotoError::Unsupported("a height given after the image data"));
                }
                if width == 0 {
                    return Err(PhotoError::Malformed("a width of zero"));
                }
                if width.max(height) > limits.max_long_edge {
                    return Err(PhotoError::TooManyPixels { width, height, max: limits.max_long_edge });
                }
                frame = Some((width, height, components));
                out.extend_from_slice(segment);
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xCC | 0xDC | 0xDE | 0xDF | 0xF0..=0xFD => {
                return Err(PhotoError::Unsupported("lossless, hierarchical or arithmetic-coded JPEG"));
            }
            // Tables and the restart interval: what decoding needs.
            0xC4 | 0xDB => out.extend_from_slice(segment),
            0xDD => {
                if payload.len() != 2 {
                    return Err(PhotoError::Malformed("a restart interval of the wrong length"));
                }
                out.extend_from_slice(segment);
            }
            SOS => {
                let Some((_, _, components)) = frame else {
                    return Err(PhotoError::Malformed("image data before the frame header"));
                };
                let in_scan = payload.first().copied().unwrap_or(0);
                if in_scan == 0 || in_scan > components || payload.len() != 4 + 2 * usize::from(in_scan) {
                    return Err(PhotoError::Malformed("a scan header of the wrong length"));
                }
                out.extend_from_slice(segment);
                // The entropy-coded data runs to the next marker that is not a stuffed 0xFF00
                // or a restart marker.
                let start = end;
                let mut p = start;
                loop {
                    match input.get(p) {
                        None => return Err(PhotoError::Malformed("image data runs past the end of the file")),
                        Some(0xFF) => match input.get(p + 1) {
                            Some(0x00 | 0xD0..=0xD7) => p += 2,
                            Some(_) => break,
                            None => return Err(PhotoError::Malformed("image data runs past the end of the file")),
                        },
                        Some(_) => p += 1,
                    }
                }
                out.extend_from_slice(&input[start..p]);
                scans += 1;
                if scans > MAX_SCANS {
                    // Every scan of a progressive photo is a pass over all its pixels for
                    // whoever decodes it (the server's thumbnail, a lead's browser): a photo of
                    // thousands of tiny scans would hold a core for minutes.
                    return Err(PhotoError::Unsupported("more scans than any camera writes"));
                }
                pos = p;
                continue;
            }
            // Adobe's colour-transform segment, exactly as the standard defines it: kept (it
            // says whether a three-component image is YCbCr or RGB; nothing personal fits).
            0xEE if payload.len() == 12 && payload.starts_with(b"Adobe") => out.extend_from_slice(segment),
            // Our own header (a photo cleaned before): replaced by itself.
            0xE0 if segment == JFIF => {}
            0xE0..=0xEF => match marker {
                0xE1 if payload.starts_with(b"Exif\0") => removed.exif += 1,
                0xE1 if payload.starts_with(b"http://ns.adobe.com/") => removed.xmp += 1,
                0xED => removed.iptc += 1,
                _ => removed.other_segments += 1,
            },
            0xFE => removed.comments += 1,
            _ => return Err(PhotoError::Malformed("an unknown marker")),
        }
        pos = end;
    }
}

/// For the fuzz target: any input is refused with an error or cleaned into a file the cleaner
/// takes again unchanged, with no metadata left, no larger than the input and a fresh header.
#[doc(hidden)]
pub fn fuzz_clean(data: &[u8]) {
    let limits = PhotoLimits { max_bytes: 1 << 20, max_long_edge: 1 << 16 };
    if let Ok(clean) = clean_jpeg(data, limits) {
        assert!(clean.bytes.len() <= data.len() + JFIF.len());
        let again =
            clean_jpeg(&clean.bytes, PhotoLimits { max_bytes: 2 << 20, ..limits }).expect("a cleaned photo is clean");
        assert_eq!(again.bytes, clean.bytes, "cleaning is idempotent");
        assert!(!again.removed.any(), "nothing left to remove");
        assert_eq!((again.width, again.height), (clean.width, clean.height));
    }
}
