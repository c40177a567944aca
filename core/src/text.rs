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

/// Characters that change how text around them is shown without being seen themselves: zero
/// width spaces and joiners, bidirectional overrides and isolates, the byte-order mark. In a
/// label or name they can hide text or reverse it.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A one-line label (a category's name): not blank, at most `max_chars`, no control
/// characters (not even a newline) and no invisible formatting characters.
pub fn check_label(field: &'static str, text: &str, max_chars: usize) -> Result<()> {
    if text.chars().count() > max_chars {
        return Err(Error::invalid(field, format!("longer than {max_chars} characters")));
    }
    if text.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(Error::invalid(field, "contains control or invisible characters"));
    }
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    Ok(())
}

/// A name from a file (a buurt's): control and invisible characters dropped, spaces trimmed,
/// at most `max_chars`.
pub fn clean_label(text: &str, max_chars: usize) -> String {
    let kept: String = text.chars().filter(|c| !c.is_control() && !is_invisible(*c)).collect();
    kept.trim().chars().take(max_chars).collect::<String>().trim_end().to_string()
}

/// Like [`check`], and not blank.
pub fn check_required(field: &'static str, text: &str, max_chars: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    check(field, text, max_chars)
}
