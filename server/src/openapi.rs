//! The OpenAPI document served at `/openapi.json`.

/// The document, as JSON text.
pub fn document() -> &'static str {
    include_str!("../openapi.json")
}
