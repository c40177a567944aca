//! Administration: teams, members, enrolment codes, device credentials.
//!
//! Codes are short enough to type (12 characters of Crockford base32 — 60 bits — shown as
//! `XXXX-XXXX-XXXX`, or scanned as a QR payload), one-time and expiring; credentials are 32
//! random bytes. Credentials are stored as SHA-256 hashes; codes, having less entropy, keyed
//! with the server's secret (HMAC, `crate::secret`), so a copy of the database alone does not
//! give them away. Guessing a code is slowed down by the enrolment endpoint's rate limits
//! (`crate::limits`).

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Result};
use crate::storage::{Device, Member, Redeemed, Role, Storage, Team};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn sha256_hex(s: &str) -> String {
    sha256_hex_of(s.as_bytes())
}

/// SHA-256 of any bytes, lowercase hex (a photo's name on the team server).
pub fn sha256_hex_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A code as typed: upper case, separators dropped, look-alike letters mapped (O→0, I/L→1).
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

pub fn create_team(s: &dyn Storage, name: &str) -> Result<Team> {
    let t = Team {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.trim().to_string(),
        created_ms: now_ms(),
        settings_version: 0,
    };
    if t.name.is_empty() || t.name.chars().count() > 200 {
        return Err(ApiError::bad_request("invalid_team", "a team name has 1..200 characters").into());
    }
    s.create_team(&t)?;
    Ok(t)
}

pub fn add_member(s: &dyn Storage, team_id: &str, name: &str, role: Role, organisation: &str) -> Result<Member> {
    if role == Role::Partner {
        return Err(ApiError::bad_request(
            "partner_needs_referral",
            "a partner is added with the referral target of their organisation",
        )
        .into());
    }
    add(s, team_id, name, role, organisation, None)
}

/// Adds a partner-organisation viewer: someone at the police, a care organisation or a housing
/// corporation who reads, in the browser, the signals the team's leads referred to
/// `referral` (a referral target of the team's categories, e.g. `ref.police`) and nothing else.
pub fn add_partner(s: &dyn Storage, team_id: &str, name: &str, organisation: &str, referral: &str) -> Result<Member> {
    check_referral(s, team_id, referral)?;
    add(s, team_id, name, Role::Partner, organisation, Some(referral.to_string()))
}

/// A referral target of the team's categories (retired ones included: a partner keeps seeing
/// what was referred to them before the code was retired).
pub fn check_referral(s: &dyn Storage, team_id: &str, referral: &str) -> Result<()> {
    let teams = crate::settings::Teams::default();
    let config = teams.config_of(s, team_id)?.ok_or_else(|| ApiError::bad_request("unknown_team", "no such team"))?;
    let known =
        config.taxonomy.get(referral).is_some_and(|c| c.kind == wijkverkenner_core::CategoryKind::ReferralTarget);
    if !known {
        return Err(ApiError::bad_request("unknown_referral", "not a referral target of this team").into());
    }
    Ok(())
}

fn add(
    s: &dyn Storage,
    team_id: &str,
    name: &str,
    role: Role,
    organisation: &str,
    referral: Option<String>,
) -> Result<Member> {
    if s.team(team_id)?.is_none() {
        return Err(ApiError::bad_request("unknown_team", "no such team").into());
    }
    if name.trim().is_empty() || name.chars().count() > 200 || organisation.chars().count() > 200 {
        return Err(ApiError::bad_request("invalid_member", "names and organisations have 1..200 characters").into());
    }
    let m = Member {
        id: uuid::Uuid::now_v7().to_string(),
        team_id: team_id.into(),
        display_name: name.trim().into(),
        role,
        organisation: organisation.trim().into(),
        created_ms: now_ms(),
        disabled_ms: None,
        referral,
    };
    s.add_member(&m)?;
    Ok(m)
}

/// How a code is stored: keyed with the server's secret.
pub fn code_hash(normalised_code: &str) -> String {
    crate::secret::keyed("enrolment code", normalised_code)
}

/// Characters of an enrolment code: 12 of Crockford base32 are 60 bits.
pub const CODE_CHARS: usize = 12;

/// Issues a one-time code for `member_id`, valid for `hours`; returns it as `XXXX-XXXX-XXXX`.
pub fn issue_code(s: &dyn Storage, member_id: &str, hours: u32) -> Result<String> {
    let member = s.member(member_id)?.ok_or_else(|| ApiError::bad_request("unknown_member", "no such member"))?;
    if member.role == Role::Admin {
        return Err(
            ApiError::bad_request("admin_cannot_enrol", "administrators manage devices; they do not sync").into()
        );
    }
    if !member.role.syncs() {
        return Err(ApiError::bad_request(
            "partner_cannot_enrol",
            "partners read referred signals in the browser; they do not sync",
        )
        .into());
    }
    if member.disabled_ms.is_some() {
        return Err(ApiError::bad_request("member_disabled", "this member was disabled").into());
    }
    let mut bytes = [0u8; CODE_CHARS];
    rand::rng().fill_bytes(&mut bytes);
    let code: String = bytes.iter().map(|b| CROCKFORD[(*b & 31) as usize] as char).collect();
    let now = now_ms();
    s.create_enrolment(&code_hash(&code), member_id, now, now + hours.clamp(1, 24 * 14) as i64 * 3_600_000)?;
    Ok(format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..]))
}

/// A login for the review pages: 3..64 characters of lower-case letters, digits, `.`, `-`, `_`.
pub fn check_login(login: &str) -> Result<String, ApiError> {
    let login = login.trim().to_lowercase();
    let ok = (3..=64).contains(&login.len())
        && login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    if !ok {
        return Err(ApiError::bad_request("invalid_login", "a login has 3..64 characters: a-z, 0-9, '.', '-', '_'"));
    }
    Ok(login)
}

/// Issues a one-time set-up link's token for `member_id`'s web account with `login` (a new
/// account, or a new password and second factor for an existing one: a lost authenticator).
/// The member chooses the password on the page; no password ever passes through a command line.
pub fn issue_web_setup(s: &dyn Storage, member_id: &str, login: &str) -> Result<String> {
    let member = s.member(member_id)?.ok_or_else(|| ApiError::bad_request("unknown_member", "no such member"))?;
    if member.disabled_ms.is_some() {
        return Err(ApiError::bad_request("member_disabled", "this member was disabled").into());
    }
    let login = check_login(login)?;
    if s.web_account_by_login(&login)?.is_some_and(|a| a.member_id != member.id) {
        return Err(ApiError::bad_request("login_taken", "another member has this login").into());
    }
    let token = crate::web::auth::token();
    let now = now_ms();
    s.create_web_setup(&crate::storage::WebSetup {
        token_hash: sha256_hex(&token),
        member_id: member.id,
        login,
        totp_secret: crate::web::auth::new_totp_secret(),
        issued_ms: now,
        expires_ms: now + crate::web::SETUP_VALID_MS,
    })?;
    Ok(token)
}

/// What a phone scans to enrol: the server's address and the code, in one line for a QR code.
pub fn enrol_payload(server_url: &str, code: &str) -> String {
    format!("wijkverkenner:enrol?server={}&code={}", server_url.trim_end_matches('/'), code)
}

/// A device name as stored and listed: 1..100 characters, no control characters (a name is
/// printed in the administrator's device list, where a newline could forge a line).
pub fn check_device_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_enrolment",
            "a device name has 1..100 characters and no control characters",
        ));
    }
    Ok(name.to_string())
}

/// A name from storage, for one line of a listing: control characters (from before names were
/// checked) shown as `?`.
pub fn printable(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Trades a code for a new device and its credential (returned once, stored hashed).
pub fn redeem(s: &dyn Storage, code: &str, device_name: &str) -> Result<(Device, String, Member, Team)> {
    redeem_attempt(s, code, None, device_name)
}

/// [`redeem`] for a phone's named attempt (`EnrolRequest::attempt`): the same attempt again
/// with the same code — its answer was lost — gets the same device with a new credential.
pub fn redeem_attempt(
    s: &dyn Storage,
    code: &str,
    attempt: Option<&str>,
    device_name: &str,
) -> Result<(Device, String, Member, Team)> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let credential = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let device = Device {
        id: uuid::Uuid::now_v7().to_string(),
        member_id: String::new(),
        name: check_device_name(device_name)?,
        credential_hash: sha256_hex(&credential),
        created_ms: now_ms(),
        last_seen_ms: None,
        revoked_ms: None,
    };
    let attempt_hash = attempt.map(sha256_hex);
    let code = normalise_code(code);
    let mut redeemed = s.redeem_enrolment(&code_hash(&code), attempt_hash.as_deref(), now_ms(), &device)?;
    if matches!(redeemed, Redeemed::Invalid) {
        // A code issued before codes were keyed (stored as a plain SHA-256): still good until it
        // expires, at most 14 days after the upgrade.
        redeemed = s.redeem_enrolment(&sha256_hex(&code), attempt_hash.as_deref(), now_ms(), &device)?;
    }
    match redeemed {
        Redeemed::Enrolled(m, t, id) => Ok((Device { id, member_id: m.id.clone(), ..device }, credential, *m, t)),
        Redeemed::Invalid => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "invalid_code",
            "this enrolment code is unknown, used or expired; ask your team lead for a new one",
        )
        .into()),
    }
}
