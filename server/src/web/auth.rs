//! Sign-in for the review pages: passwords (argon2id), the second factor (TOTP, RFC 6238),
//! random tokens, and the lock-out after repeated failures.
//!
//! Nothing here knows HTTP; `web::pages` uses it. Passwords and codes never reach a log.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;

/// Passwords have at least this many characters (no composition rules: length is what counts,
/// as NIST SP 800-63B and the Dutch baseline advise).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// And at most this many (argon2 takes any length; a megabyte "password" is an attack).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// TOTP: 30-second steps, 6 digits, SHA-1 (what every authenticator app supports).
pub const TOTP_STEP_S: i64 = 30;
/// Wrong attempts (password or code) before an account locks.
pub const LOCK_AFTER: u32 = 5;
/// The first lock lasts this long; each further failure while over the limit doubles it.
pub const LOCK_MS: i64 = 5 * 60_000;
/// At most this long.
pub const MAX_LOCK_MS: i64 = 24 * 3_600_000;

/// 32 random bytes, base64url: a session token or a set-up link's token.
pub fn token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes, OWASP's minimum).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Why a new password is refused, if it is.
pub fn password_problem(password: &str, login: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Some("password_short")
    } else if n > MAX_PASSWORD_CHARS {
        Some("password_long")
    } else if password.to_lowercase().contains(&login.to_lowercase()) && !login.is_empty() {
        Some("password_login")
    } else if guessable(password) {
        Some("password_guessable")
    } else {
        None
    }
}

/// A password long enough but made of one idea: few different characters (`aaaaaaaaaaaa`,
/// `121212121212`), a run along the alphabet or the keyboard, or one of the passwords people
/// use most, padded. Length does the rest (NIST SP 800-63B: length, a list of common ones, no
/// composition rules).
fn guessable(password: &str) -> bool {
    let lower = password.to_lowercase();
    let distinct: std::collections::BTreeSet<char> = lower.chars().collect();
    if distinct.len() < 5 {
        return true;
    }
    const RUNS: &[&str] = &["abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm", "azertyuiop"];
    let letters: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    if letters.chars().count() >= 8 && RUNS.iter().any(|r| r.contains(letters.as_str())) {
        return true;
    }
    const COMMON: &[&str] = &[
        "wachtwoord",
        "password",
        "welkom",
        "welcome",
        "qwerty",
        "123456",
        "geheim",
        "letmein",
        "zomer",
        "winter",
        "voorjaar",
        "herfst",
        "utrecht",
        "amsterdam",
        "rotterdam",
        "wijkverkenner",
        "gemeente",
        "admin",
        "teamleider",
    ];
    let stripped: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    COMMON.iter().any(|w| stripped == *w || (stripped.starts_with(w) && stripped.len() <= w.len() + 2))
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new TOTP secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32.
pub fn new_totp_secret() -> String {
    let mut b = [0u8; 20];
    rand::rng().fill_bytes(&mut b);
    base32(&b)
}

pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for &b in bytes {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// The TOTP code of `secret` at time step `step` (RFC 6238 with HMAC-SHA-1, 6 digits).
pub fn totp_at(secret: &[u8], step: i64) -> u32 {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[h.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    bin % 1_000_000
}

/// The time step a code typed at `now_ms` matches, if any: the current step or one either side
/// (a phone's clock a little off), and only a step after `last_step` (a code works once).
pub fn totp_check(secret_b32: &str, code: &str, now_ms: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = code.parse().ok()?;
    let secret = base32_decode(secret_b32)?;
    let now = now_ms.div_euclid(1000 * TOTP_STEP_S);
    // Compared in full each time, so the answer's timing does not tell which step matched.
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        if totp_at(&secret, step) == want && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` URI authenticator apps read from a QR code.
pub fn otpauth_uri(issuer: &str, login: &str, secret_b32: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period={TOTP_STEP_S}",
        enc(issuer),
        enc(login),
        enc(issuer)
    )
}

/// After a failed attempt: the new failure count and until when the account is locked.
pub fn after_failure(failures: u32, now_ms: i64) -> (u32, i64) {
    let failures = failures.saturating_add(1);
    if failures < LOCK_AFTER {
        return (failures, 0);
    }
    let doublings = (failures - LOCK_AFTER).min(16);
    (failures, now_ms + (LOCK_MS << doublings).min(MAX_LOCK_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (8-digit codes there; their last 6 digits here).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [(59i64, 94287082u32), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924)] {
            assert_eq!(totp_at(secret, t / 30), code % 1_000_000, "t = {t}");
        }
    }

    #[test]
    fn codes_work_once_and_near_now() {
        let secret = new_totp_secret();
        let raw = base32_decode(&secret).unwrap();
        assert_eq!(raw.len(), 20);
        let now = 1_800_000_000_000i64;
        let step = now / 30_000;
        let code = format!("{:06}", totp_at(&raw, step));
        assert_eq!(totp_check(&secret, &code, now, 0), Some(step));
        assert_eq!(totp_check(&secret, &code, now, step), None, "used once");
        assert_eq!(totp_check(&secret, &code, now + 30_000, 0), Some(step), "one step late");
        assert_eq!(totp_check(&secret, &code, now + 120_000, 0), None, "too late");
        assert_eq!(totp_check(&secret, "12345", now, 0), None);
        assert_eq!(totp_check(&secret, "abcdef", now, 0), None);
    }

    #[test]
    fn passwords() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert_eq!(password_problem("short", "x"), Some("password_short"));
        assert_eq!(password_problem("sanne.jansen-2026!", "sanne.jansen"), Some("password_login"));
        for weak in
            ["aaaaaaaaaaaa", "121212121212", "abcdefghijklmn", "Wachtwoord2026!", "Welkom12345678", "qwertyuiopas"]
        {
            assert_eq!(password_problem(weak, "marieke"), Some("password_guessable"), "{weak}");
        }
        for fine in ["een lange zin als wachtwoord", "paard batterij nietje", "Vrijdagavond-Overvecht-7"] {
            assert_eq!(password_problem(fine, "marieke"), None, "{fine}");
        }
        assert_eq!(password_problem("a long enough phrase", "sanne"), None);
    }

    #[test]
    fn lockout_doubles() {
        let now = 0;
        assert_eq!(after_failure(0, now), (1, 0));
        assert_eq!(after_failure(3, now), (4, 0));
        assert_eq!(after_failure(4, now), (5, LOCK_MS));
        assert_eq!(after_failure(5, now), (6, 2 * LOCK_MS));
        assert_eq!(after_failure(40, now).1, MAX_LOCK_MS);
    }
}
