//! The OpenAPI document served at `/openapi.json`. Its schemas are generated from the Rust
//! types the server and the phones decode with (`schemars`), so they cannot drift from what
//! the server accepts; the per-kind entity schemas are put together here from the content
//! types (observation, conversation, signal, walk fields), the place and the review fields.
//! `tests/schema.rs` checks real pushes of real phones against it.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use wijkverkenner_core::sync::codec::{PlaceField, WalkFields};
use wijkverkenner_core::sync::wire::{
    EnrolRequest, EnrolResponse, Entity, ErrorBody, PhotoFetch, PhotoList, PhotoListRequest, PhotoOffer, PhotoUpload,
    SettingsRequest, SyncRequest, SyncResponse, MAX_PULL, PHOTO_CHUNK_BYTES, PROTOCOL_VERSION,
};
use wijkverkenner_core::{Conversation, Observation, Signal, SignalStatus, Taxonomy, TeamSettings};

use crate::api::MIN_PROTOCOL;

/// Every error code the server answers with, its HTTP status and when (docs/sync-protocol.md
/// has the same table).
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("malformed", 400, "the body is not JSON, or does not match the request's schema"),
    ("bad_encoding", 400, "the body is not valid zstd (415 for an encoding other than zstd)"),
    ("invalid_request", 400, "a push with an entity twice or an id that is not a lowercase UUID; a pull_limit outside 1..5000; a negative cursor"),
    ("invalid_enrolment", 400, "a device name that is empty, longer than 100 characters or has control characters; a code or attempt of the wrong length"),
    ("unauthorized", 401, "no, a malformed, an unknown or a wrong credential"),
    ("device_revoked", 401, "the device was revoked; `wipe` is true: delete the store and its key"),
    ("forbidden", 403, "an administrator's device"),
    ("invalid_code", 403, "an enrolment code that is unknown, used, cancelled or expired (indistinguishable)"),
    ("not_found", 404, "no such endpoint"),
    ("method_not_allowed", 405, "the endpoint takes another method"),
    ("request_timeout", 408, "the body stalled for 30 s, or took longer than 10 minutes"),
    ("payload_too_large", 413, "a body over 8 MiB on the wire, 16 MiB unpacked (4 KiB either way for enrolment)"),
    ("too_many_changes", 413, "more than 2,000 entities in one push"),
    ("bad_encoding", 415, "a content encoding other than zstd"),
    ("protocol_unsupported", 426, "a protocol version outside the server's range; the message says which side to update"),
    ("rate_limited", 429, "too many wrong enrolment codes, or a device over its push budget; wait `Retry-After` seconds"),
    ("invalid_photo", 400, "a photo's description breaks a rule: ids, a hash of 64 lowercase hex digits, 1..8 MiB, a long edge of 1..2048 px, a place 0..4"),
    ("invalid_chunk", 400, "a photo's chunk that ends past the photo's size"),
    ("not_author", 403, "a photo offered for a record of another member"),
    ("unknown_photo", 404, "no such photo, or one of a record the caller may not see (indistinguishable)"),
    ("record_unknown", 409, "a photo offered for a record the team does not hold (yet), or the caller may not see: push the record first"),
    ("photo_conflict", 409, "a photo id or a record's place taken by another photo"),
    ("photo_not_allowed", 422, "a photo offered for a conversation"),
    ("record_frozen", 422, "a photo offered for a reviewed or referred record"),
    ("photo_hash_mismatch", 422, "a photo's bytes, all arrived, do not match its hash: they were dropped"),
    ("photo_not_clean", 422, "a photo that carries metadata, or other dimensions than offered: its bytes were dropped"),
    ("photo_refused", 422, "a photo the JPEG cleaner refuses (not a baseline or progressive Huffman JPEG within limits): its bytes were dropped"),
    ("photo_quota", 507, "the team's or the member's photos are at their quota"),
    ("internal", 500, "the server failed; try again later"),
];

/// Why a pushed change was refused (`rejected[].code`), with the push answered 200.
pub const REJECTION_CODES: &[(&str, &str)] = &[
    ("invalid", "the entity breaks a rule (shape, limit, code, time), or together with the team's version it would"),
    ("clock_out_of_range", "a clock before 2026 or more than two days ahead of the server"),
    ("clock_reused", "another value under a clock the team already holds for that field"),
    ("not_author", "only the author creates a walk or record, changes its content, answers, deletes"),
    ("lead_only", "only a team lead sets a review status, referral, question or 'reviewed'"),
    ("frozen", "the record was reviewed, or the signal referred: only a lead changes it now"),
    ("status_transition", "the status cannot go there from the team's current status"),
    ("walk_not_found", "a new record not in an existing walk of its own author"),
    ("identity_conflict", "the id exists with another kind, author, walk or creation time"),
    ("not_a_member", "a walk participant given as a member is not a member of this team"),
    ("quarantined", "an administrator took the entity out of sync"),
    ("unreadable", "the team's stored version cannot be read; an administrator must repair it"),
    ("server_only", "the review log, which only the team server writes"),
];

/// The document, as JSON text (built once).
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string_pretty(&build()).expect("a JSON value serialises"))
}

/// The schema of `T` and everything it refers to, added to `defs`.
fn add<T: JsonSchema>(gen: &mut schemars::SchemaGenerator) -> Value {
    gen.subschema_for::<T>().to_value()
}

fn object_of(defs: &Map<String, Value>, name: &str) -> Map<String, Value> {
    defs.get(name).and_then(|v| v.as_object()).cloned().unwrap_or_else(|| panic!("no schema for {name}"))
}

/// The fields of a record kind: its content, `location`, and the review fields.
fn record_fields(defs: &Map<String, Value>, content: &str, signal: bool) -> Value {
    let mut schema = object_of(defs, content);
    let props = schema.get_mut("properties").and_then(|p| p.as_object_mut()).expect("a struct's properties");
    let text = json!({"type": ["string", "null"], "minLength": 1, "maxLength": 4000});
    props.insert("location".into(), json!({"$ref": "#/components/schemas/PlaceField"}));
    props.insert("review_question".into(), text.clone());
    props.insert("review_answer".into(), text);
    props.insert(
        "reviewed_ms".into(),
        json!({"type": ["integer", "null"], "description": "When a lead marked it reviewed (UTC ms)."}),
    );
    props.insert(
        "review_log".into(),
        json!({"type": "array", "maxItems": 50, "items": {"$ref": "#/components/schemas/ReviewStep"},
               "description": "Who decided what when; written by the team server only (protocol 4). A phone sends back what it received, or nothing."}),
    );
    if signal {
        props.insert(
            "review_status".into(),
            json!({"anyOf": [{"$ref": "#/components/schemas/SignalStatus"}, {"type": "null"}]}),
        );
        props.insert("review_referral".into(), json!({"type": ["string", "null"], "minLength": 1, "maxLength": 64}));
    }
    let required = schema.entry("required").or_insert(json!([]));
    required.as_array_mut().expect("required is a list").push(json!("location"));
    schema.insert("additionalProperties".into(), json!(false));
    Value::Object(schema)
}

/// An entity of one kind: the common entity schema with this kind's fields (none when deleted).
fn entity_of(common: &Map<String, Value>, kind: &str, fields: &str) -> Value {
    let mut schema = common.clone();
    {
        let props = schema.get_mut("properties").and_then(|p| p.as_object_mut()).expect("entity properties");
        props.insert("kind".into(), json!({"const": kind}));
        if kind == "walk" {
            props.remove("walk_id");
        }
    }
    if kind != "walk" {
        let required = schema.entry("required").or_insert(json!([]));
        let list = required.as_array_mut().expect("required is a list");
        if !list.contains(&json!("walk_id")) {
            list.push(json!("walk_id"));
        }
    }
    schema.insert("if".into(), json!({"properties": {"deleted": {"const": true}}, "required": ["deleted"]}));
    schema.insert(
        "then".into(),
        json!({"properties": {"fields": {"type": "object", "maxProperties": 0}, "clocks": {"type": "object", "maxProperties": 0}}}),
    );
    schema.insert(
        "else".into(),
        json!({"properties": {"fields": {"$ref": format!("#/components/schemas/{fields}")}}, "required": ["fields"]}),
    );
    Value::Object(schema)
}

fn build() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
    let mut gen = settings.into_generator();
    add::<SyncRequest>(&mut gen);
    add::<SyncResponse>(&mut gen);
    add::<EnrolRequest>(&mut gen);
    add::<EnrolResponse>(&mut gen);
    add::<ErrorBody>(&mut gen);
    add::<Taxonomy>(&mut gen);
    add::<SettingsRequest>(&mut gen);
    add::<TeamSettings>(&mut gen);
    add::<Observation>(&mut gen);
    add::<Conversation>(&mut gen);
    add::<Signal>(&mut gen);
    add::<SignalStatus>(&mut gen);
    add::<wijkverkenner_core::review::ReviewStep>(&mut gen);
    add::<PlaceField>(&mut gen);
    add::<WalkFields>(&mut gen);
    add::<Entity>(&mut gen);
    add::<PhotoOffer>(&mut gen);
    add::<PhotoUpload>(&mut gen);
    add::<PhotoListRequest>(&mut gen);
    add::<PhotoList>(&mut gen);
    add::<PhotoFetch>(&mut gen);
    let mut defs = gen.take_definitions(true);
    // The protocol range is the server's (the types only know the newest version).
    for request in ["SyncRequest", "EnrolRequest", "SettingsRequest", "PhotoOffer", "PhotoListRequest", "PhotoFetch"] {
        defs[request]["properties"]["protocol"]["minimum"] = json!(MIN_PROTOCOL);
    }

    defs.insert("ObservationFields".into(), record_fields(&defs, "Observation", false));
    defs.insert("ConversationFields".into(), record_fields(&defs, "Conversation", false));
    defs.insert("SignalFields".into(), record_fields(&defs, "Signal", true));
    let common = object_of(&defs, "Entity");
    for (name, kind, fields) in [
        ("WalkEntity", "walk", "WalkFields"),
        ("ObservationEntity", "observation", "ObservationFields"),
        ("ConversationEntity", "conversation", "ConversationFields"),
        ("SignalEntity", "signal", "SignalFields"),
    ] {
        defs.insert(name.into(), entity_of(&common, kind, fields));
    }
    defs.insert(
        "Entity".into(),
        json!({
            "description": "A walk or record as it travels; one schema per kind. Identity (kind, id, walk_id, author_id, created_ms, created_offset_s) never changes; `fields` holds the rest, `clocks` the clock of each field's last change (a field without one dates from creation). A tombstone (`deleted`) has no fields.",
            "oneOf": [
                {"$ref": "#/components/schemas/WalkEntity"},
                {"$ref": "#/components/schemas/ObservationEntity"},
                {"$ref": "#/components/schemas/ConversationEntity"},
                {"$ref": "#/components/schemas/SignalEntity"}
            ]
        }),
    );

    let error = |statuses: &[u16]| -> Value {
        Value::Object(
            statuses.iter().map(|s| (s.to_string(), json!({"$ref": "#/components/responses/Error"}))).collect(),
        )
    };
    let with = |mut base: Value, extra: Value| {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        base
    };
    let codes: Vec<Value> = ERROR_CODES.iter().map(|(c, s, w)| json!({"code": c, "status": s, "when": w})).collect();
    let refusals: Vec<Value> = REJECTION_CODES.iter().map(|(c, w)| json!({"code": c, "when": w})).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Wijkverkenner team server",
            "version": PROTOCOL_VERSION.to_string(),
            "description": format!(
                "Enrolment and sync for Wijkverkenner phones, protocol {MIN_PROTOCOL}..{PROTOCOL_VERSION}. The rules — merge, rights, clocks, need-to-know, paging — are in docs/sync-protocol.md. Bodies are JSON; send them with Content-Encoding: zstd and Accept-Encoding: zstd (plain JSON is accepted too). Texts are limited in characters (Unicode code points). Every error, whatever its status, answers with an ErrorBody; the codes are listed in x-error-codes, the reasons a pushed change can be refused in x-rejection-codes."
            ),
            "license": {"name": "EUPL-1.2"}
        },
        "x-error-codes": codes,
        "x-rejection-codes": refusals,
        "paths": {
            "/health": {"get": {
                "summary": "Liveness, storage backend and protocol range",
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status", "storage", "protocol"],
                    "properties": {
                        "status": {"const": "ok"},
                        "storage": {"enum": ["sqlite", "postgres"]},
                        "protocol": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2,
                                     "description": "[oldest, newest] protocol version this server speaks"}
                    }}}}}}
            }},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "the OpenAPI document"}}}},
            "/v1/enrol": {"post": {
                "summary": "Trade a one-time enrolment code for a device credential",
                "description": "Anyone can call this: bodies are at most 4 KiB, wrong codes are rate-limited per address (five free in ten minutes, then a growing wait) and overall (sixty a minute).",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnrolRequest"}}}},
                "responses": with(json!({"200": {"description": "enrolled", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnrolResponse"}}}}}),
                                  error(&[400, 403, 408, 413, 415, 426, 429]))
            }},
            "/v1/sync": {"post": {
                "summary": "Push local changes and pull the team's changes in one round trip",
                "description": format!("A push is acknowledged whole; changes the rules refuse are listed in `rejected` with a code and the team's version. The pull is a page of at most min(pull_limit, {MAX_PULL}) entities and 8 MiB."),
                "security": [{"device": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncRequest"}}}},
                "responses": with(json!({"200": {"description": "push acknowledged; a page of the feed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncResponse"}}}}}),
                                  error(&[400, 401, 403, 408, 413, 415, 426, 429]))
            }},
            "/v1/settings": {"post": {
                "summary": "The team's settings: categories, office hours and buurt boundaries",
                "description": "Every sync answer names the team's settings by a tag (`settings`); a phone that holds another tag fetches them here and takes them whole. The boundaries are a GeoJSON FeatureCollection with `code`, `name`, `wijk_code` and `wijk_name` per buurt; the document is at most 32 MiB.",
                "security": [{"device": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingsRequest"}}}},
                "responses": with(json!({"200": {"description": "the team's settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TeamSettings"}}}}}),
                                  error(&[400, 401, 403, 408, 413, 415, 426]))
            }},
            "/v1/taxonomy": {"get": {
                "summary": "The team's categories: codes, Dutch and English labels, which signal categories are sensitive (need-to-know), which are retired",
                "security": [{"device": []}],
                "responses": with(json!({"200": {"description": "the taxonomy", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Taxonomy"}}}}}),
                                  error(&[401, 403]))
            }},
            "/v1/photos/offer": {"post": {
                "summary": "Announce a photo of one of the member's observations or signals, before sending its bytes",
                "description": "The record must be with the team already (push it first: `record_unknown` means try again after the next sync). An offer sent again is answered with where the upload stands; `received` is where the next chunk starts. An offer reserves the photo's size against the team's and the member's quota.",
                "security": [{"device": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoOffer"}}}},
                "responses": with(json!({"200": {"description": "where the upload stands", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoUpload"}}}}}),
                                  error(&[400, 401, 403, 408, 409, 413, 415, 422, 426, 507]))
            }},
            "/v1/photos/{id}/bytes": {"post": {
                "summary": "One chunk of a photo's bytes, at the offset the server holds",
                "description": format!("The body is the chunk, at most {PHOTO_CHUNK_BYTES} bytes, zstd-framed like every body (or as it is); the query is `offset=<bytes>`. A chunk at another offset than `received` changes nothing and is answered with the state (a retry after a lost answer, a replay). When the last byte arrives the server checks the whole photo — its SHA-256 and that the core's JPEG cleaner leaves it unchanged — and answers `stored`, or refuses it with 422 and drops its bytes."),
                "security": [{"device": []}],
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                    {"name": "offset", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}}
                ],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": with(json!({"200": {"description": "where the upload stands", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoUpload"}}}}}),
                                  error(&[400, 401, 403, 404, 408, 413, 415, 422, 429]))
            }},
            "/v1/photos/list": {"post": {
                "summary": "The stored photos of records the phone holds, as far as its member may see them",
                "description": "Records the member may not see (need-to-know: a colleague's sensitive signal, a record withdrawn or deleted) are left out without a word.",
                "security": [{"device": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoListRequest"}}}},
                "responses": with(json!({"200": {"description": "the photos", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoList"}}}}}),
                                  error(&[400, 401, 403, 408, 413, 415, 426]))
            }},
            "/v1/photos/fetch": {"post": {
                "summary": "One photo's cleaned JPEG, or with `thumbnail` the server's thumbnail of it (long edge 320 px), for whom may see its record; every fetch of a whole photo is written to the audit trail (503 when it cannot be)",
                "security": [{"device": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoFetch"}}}},
                "responses": with(json!({"200": {"description": "the photo", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}}),
                                  error(&[400, 401, 403, 404, 408, 413, 415, 426, 429, 503]))
            }}
        },
        "components": {
            "securitySchemes": {"device": {"type": "http", "scheme": "bearer", "description": "<device id>.<credential> as returned by /v1/enrol"}},
            "responses": {"Error": {"description": "refused; see x-error-codes", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}},
            "schemas": defs
        }
    })
}
