//! The server's own secret, and the data directory's permissions.
//!
//! Enrolment codes have 60 bits: enough against guessing over the network (rate limits), not
//! against a copy of the database, where a plain SHA-256 of every code could be searched
//! offline. So low-entropy secrets are stored keyed: HMAC-SHA256 with a 32-byte key kept in a
//! file of its own (`server.secret` in the data directory, or `--secret-file`), never in the
//! database — a stolen database dump or backup alone reveals no code. Several server
//! processes on one PostgreSQL share the file. High-entropy secrets (256-bit credentials and
//! tokens) stay plain SHA-256: nothing to search.
//!
//! Secrets the server must read again — the TOTP secrets of the review pages' second factor —
//! and the documents of sensitive signals are sealed under keys derived from the same file
//! ([`seal`], [`entity_for_storage`]).
//!
//! The data directory is 0700 and its files 0600: the database holds every record, and the
//! secret file the key.

use hmac::{Hmac, KeyInit, Mac};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Result};

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Reads the key from `path`; when there is none and `create`, makes one (32 random bytes as
/// hex, 0600), written to a temporary file, synced and linked into place so another process
/// starting at the same moment either wins or reads the finished key. Refuses a key file that
/// others may read (it may have leaked: make a new one) and one that is not a key.
pub fn load(path: &Path, create: bool) -> Result<()> {
    let key = read_or_create(path, create)?;
    if let Some(had) = KEY.get() {
        if *had != key {
            return Err(Error::Other("a different server secret is already loaded".into()));
        }
        return Ok(());
    }
    let _ = KEY.set(key);
    Ok(())
}

fn read_or_create(path: &Path, create: bool) -> Result<[u8; 32]> {
    let shown = path.display();
    for _ in 0..50 {
        match std::fs::metadata(path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(Error::Other(format!(
                        "{shown} may be read by others (mode {:o}): make a new secret (issued codes stop working) and keep it 0600",
                        meta.permissions().mode() & 0o777
                    )));
                }
                let text =
                    std::fs::read_to_string(path).map_err(|e| Error::Other(format!("cannot read {shown}: {e}")))?;
                if text.is_empty() {
                    // Another process is writing it this moment (it links the file only once
                    // written, so this is a file made by hand): wait a little.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                return parse(text.trim())
                    .ok_or_else(|| Error::Other(format!("{shown} is not a server secret (64 hexadecimal digits)")));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                let temp = path.with_extension(format!("new-{}", std::process::id()));
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&temp)
                    .and_then(|mut f| f.write_all(hex.as_bytes()).and_then(|_| f.sync_all()));
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&temp);
                    return Err(Error::Other(format!("cannot write {}: {e}", temp.display())));
                }
                // A link fails if the name exists: of two processes one key wins, whole.
                let linked = std::fs::hard_link(&temp, path);
                let _ = std::fs::remove_file(&temp);
                match linked {
                    Ok(()) => {
                        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                        }
                        return Ok(key);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(Error::Other(format!("cannot create {shown}: {e}"))),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Other(format!(
                    "{shown} is missing, and this database was set up with a server secret: restore the file \
                     (or pass --secret-file); codes issued with another key do not work"
                )))
            }
            Err(e) => return Err(Error::Other(format!("cannot read {shown}: {e}"))),
        }
    }
    Err(Error::Other(format!("{shown} stays empty: remove it to make a new secret")))
}

/// The check value of the loaded key, stored in the database at its first start: a server
/// started with another key file refuses to run instead of issuing codes that cannot work.
pub fn check_value() -> String {
    keyed("key check", "wijkverkenner")
}

fn parse(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

/// HMAC-SHA256 of `value` for `purpose` under the server's key, as hex. Without a loaded key
/// (the library inside one test process) a random one for this process: consistent within
/// it, and never a weaker, unkeyed hash.
pub fn keyed(purpose: &str, value: &str) -> String {
    mac(purpose, value).iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(purpose: &str, value: &str) -> [u8; 32] {
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        key
    });
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().into()
}

/// How a sealed value starts (then base64 of nonce and ciphertext with its tag).
const SEALED: &str = "sealed1:";

/// A secret the server must read again (a second factor's TOTP secret) sealed for the
/// database: ChaCha20-Poly1305 (ring) under a key derived from the server's key for
/// `purpose`, a random nonce, `purpose` as associated data. A copy of the database alone
/// reveals no second factor.
pub fn seal(purpose: &str, plain: &str) -> String {
    use base64::Engine;
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &mac("seal", purpose)).expect("a 32-byte key"));
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let mut data = plain.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.as_bytes()), &mut data)
        .expect("sealing a short value");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    format!("{SEALED}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
}

/// The value [`seal`] sealed for `purpose`. A value stored before sealing existed comes back
/// as it is (it is sealed when next written); one sealed under another key, or changed, is an
/// error — never a value that would let anyone in.
pub fn unseal(purpose: &str, stored: &str) -> Result<String> {
    use base64::Engine;
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
    let Some(sealed) = stored.strip_prefix(SEALED) else { return Ok(stored.to_string()) };
    let broken = || Error::Other(format!("a sealed {purpose} does not open with this server's secret"));
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed).map_err(|_| broken())?;
    if bytes.len() < 12 + 16 {
        return Err(broken());
    }
    let (nonce, data) = bytes.split_at(12);
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &mac("seal", purpose)).expect("a 32-byte key"));
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken())?;
    let mut data = data.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut data).map_err(|_| broken())?;
    String::from_utf8(plain.to_vec()).map_err(|_| broken())
}

/// The data directory made (if needed) and closed to others: the directory 0700, every file
/// in it 0600 (SQLite gives its WAL and shared-memory files the database file's mode).
pub fn private_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Other(format!("data directory: {e}")))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::Other(format!("data directory: {e}")))?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Other(format!("data directory: {e}")))?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            private_file(&entry.path())?;
        }
    }
    Ok(())
}

/// A file readable and writable by the server's user only; created empty when missing.
pub fn private_file(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| Error::Other(format!("cannot restrict {}: {e}", path.display())))
}

/// The purpose the leads' comments in the review history are sealed for.
const COMMENT: &str = "review comment";

/// A lead's comment as the database keeps it: sealed (free text about a case, often about a
/// sensitive signal).
pub fn comment_for_storage(comment: Option<&str>) -> Option<String> {
    comment.map(|c| seal(COMMENT, c))
}

/// A stored comment, opened (one from before sealing comes back as it is).
pub fn comment_from_storage(stored: Option<String>) -> Result<Option<String>> {
    stored.map(|c| unseal(COMMENT, &c)).transpose()
}

/// The purpose sensitive entities are sealed for.
const SENSITIVE_ENTITY: &str = "sensitive entity";

/// An entity's document as the database keeps it: sealed when it is sensitive (a signal in a
/// need-to-know category), so that a copy of the database alone does not reveal it; as it is
/// otherwise.
pub fn entity_for_storage(doc: String, sensitive: bool) -> String {
    if sensitive {
        seal(SENSITIVE_ENTITY, &doc)
    } else {
        doc
    }
}

/// A stored entity's document, opened if it was sealed ([`entity_for_storage`]).
pub fn entity_from_storage(stored: String) -> Result<String> {
    if stored.starts_with(SEALED) {
        unseal(SENSITIVE_ENTITY, &stored)
    } else {
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_for_its_purpose_only_and_a_changed_one_not_at_all() {
        let sealed = seal("totp secret", "JBSWY3DPEHPK3PXP");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP") && sealed.starts_with(SEALED));
        assert_ne!(sealed, seal("totp secret", "JBSWY3DPEHPK3PXP"), "a fresh nonce each time");
        assert_eq!(unseal("totp secret", &sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        assert!(unseal("another purpose", &sealed).is_err());
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 3;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        assert!(unseal("totp secret", std::str::from_utf8(&changed).unwrap()).is_err());
        assert!(unseal("totp secret", "sealed1:AAAA").is_err());
        assert_eq!(unseal("totp secret", "LEGACYPLAIN").unwrap(), "LEGACYPLAIN", "stored before sealing");
    }
}
