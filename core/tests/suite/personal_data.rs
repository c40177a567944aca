//! The personal-data detector: properties that hold for any text, and its fuzz target on its
//! seeds. (Precision and recall on a labelled set of field notes: issue 10, next.)

use proptest::prelude::*;
use wijkverkenner_core::personal_data::find;

proptest! {
    /// Any text: findings in order, within the text, on character boundaries, none overlapping;
    /// the redacted text leaves no structured piece standing alone.
    #[test]
    fn any_text_is_scanned_and_redacted_safely(text in "\\PC{0,200}", digits in "[0-9 +()\\-./a-zA-Z@]{0,60}") {
        for t in [text.clone(), digits.clone(), format!("{text} {digits}")] {
            let found = find(&t);
            let mut at = 0;
            for f in &found {
                prop_assert!(f.start >= at && f.start < f.end && f.end <= t.len());
                prop_assert!(t.is_char_boundary(f.start) && t.is_char_boundary(f.end));
                at = f.end;
            }
            // The same checks, and the redaction's, as the fuzz target's.
            wijkverkenner_core::personal_data::fuzz_find(t.as_bytes());
        }
    }
}

#[test]
fn the_fuzz_target_holds_on_its_seed_corpus_and_mutations() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/personal_data");
    let seeds: Vec<Vec<u8>> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    assert!(seeds.len() >= 5);
    // Deterministic byte mutations of every seed, like a very short fuzzing run.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for seed in &seeds {
        wijkverkenner_core::personal_data::fuzz_find(seed);
        for _ in 0..2000 {
            let mut m = seed.clone();
            for _ in 0..3 {
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
                    _ => m.insert(i, b"0123456789 -.+()@ABNL"[(x >> 16) as usize % 21]),
                }
            }
            wijkverkenner_core::personal_data::fuzz_find(&m);
        }
    }
}
