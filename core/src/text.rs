//! Rules for free text typed in the field.

use crate::error::{Error, Result};

/// Long texts: the gist of a conversation, a signal's description.
pub const LONG: usize = 4_000;
/// Short texts: a purpose, a guest's role, an organisation.
pub const SHORT: usize = 200;
/// Most codes a list of categories may hold.
pub const MAX_CODES: usize = 20;

/// Checks length (in characters) and refuses control characters other than newline and tab.
pub(crate) fn check(field: &'static str, text: &str, max_chars: usize) -> Result<()> {
    if text.len() > max_chars * 4 || text.chars().count() > max_chars {
        return Err(Error::invalid(field, format!("longer than {max_chars} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Like [`check`], and not blank.
pub fn check_required(field: &'static str, text: &str, max_chars: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    check(field, text, max_chars)
}
