//! The fuzz harness for every parser that takes a user's text: MLflow filter
//! strings, `order_by` of both searches, page tokens, model names, tag keys,
//! aliases, usernames, version numbers, instants and the gate's durations.
//! Each case is built from a soup of the grammar's own tokens, the
//! characters that have broken parsers before (quotes, backslashes, NUL,
//! bidirectional controls, combining marks, four-byte characters) and
//! mutations of valid inputs; every parser must answer without panicking,
//! and every refusal must be a client error (400), never an internal one.
//!
//! `cargo test --release --lib fuzz -- --ignored` runs a million cases per
//! parser (`FUZZ_CASES`, `FUZZ_SEED` to change or replay a run); the quick
//! variant runs with every `cargo test`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cli::parse_duration;
use crate::domain::filter;
use crate::domain::history::parse_instant;
use crate::domain::model_search::ModelOrder;
use crate::domain::sql::PageToken;
use crate::domain::types::{Alias, ModelName, TagKey, Username, VersionNumber};
use crate::domain::version_search::VersionOrder;
use crate::error::{Error, Result};

/// Pieces of the inputs' grammars and of what broke parsers elsewhere.
const TOKENS: &[&str] = &[
    "name",
    "tags.",
    "tags.`",
    "run_id",
    "source_path",
    "version_number",
    "creation_timestamp",
    "last_updated_timestamp",
    "timestamp",
    "user_id",
    "tags.team",
    "tags.`a b`",
    "=",
    "!=",
    "==",
    "<",
    ">",
    "<=",
    ">=",
    "LIKE",
    "ILIKE",
    "like",
    "IN",
    "NOT",
    "AND",
    "and",
    "OR",
    "(",
    ")",
    ",",
    "'",
    "\"",
    "`",
    "\\",
    "\\'",
    "%",
    "_",
    " ",
    "  ",
    "\t",
    "\n",
    "ASC",
    "DESC",
    "asc",
    "desc",
    "fraud",
    "lk_école",
    "ΣΟΦΙΑ",
    "0",
    "1",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "1e3",
    "0x10",
    "s",
    "m",
    "h",
    "d",
    "1h30m",
    "90s",
    "T",
    "Z",
    "+01:00",
    "2026-11-30",
    "2026-11-30T12:00:00Z",
    "2026-13-45T25:61:61Z",
    ".",
    "..",
    "/",
    "%2F",
    "\u{0}",
    "\u{7f}",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "\u{301}",
    "\u{1F600}",
    "é",
    "ß",
    "ς",
    "latest",
    "v1",
    "{",
    "}",
    ":",
    "[",
    "]",
    "null",
    "true",
];

/// A random input: tokens, random characters, or a long run of one piece.
fn input(rng: &mut StdRng) -> String {
    let mut text = String::new();
    match rng.random_range(0..10) {
        0 => {
            let piece = TOKENS[rng.random_range(0..TOKENS.len())];
            for _ in 0..rng.random_range(1..400) {
                text.push_str(piece);
            }
        }
        1 => {
            for _ in 0..rng.random_range(0..40) {
                let c = match rng.random_range(0..4) {
                    0 => char::from(rng.random_range(0u8..128)),
                    1 => char::from_u32(rng.random_range(0x80..0x800)).unwrap_or('?'),
                    2 => char::from_u32(rng.random_range(0x800..0xd800)).unwrap_or('?'),
                    _ => char::from_u32(rng.random_range(0x10000..0x110000)).unwrap_or('?'),
                };
                text.push(c);
            }
        }
        _ => {
            for _ in 0..rng.random_range(0..16) {
                text.push_str(TOKENS[rng.random_range(0..TOKENS.len())]);
                if rng.random_bool(0.5) {
                    text.push(' ');
                }
            }
        }
    }
    text
}

/// A page token: random text, or a well-formed token's JSON mutated.
fn page_token(rng: &mut StdRng) -> String {
    match rng.random_range(0..3) {
        0 => input(rng),
        1 => {
            let key = match rng.random_range(0..4) {
                0 => serde_json::json!(rng.random::<i64>()),
                1 => serde_json::json!(input(rng)),
                2 => serde_json::json!([input(rng), rng.random::<i64>()]),
                _ => serde_json::Value::Null,
            };
            PageToken::new("models:name", key, rng.random()).encode()
        }
        _ => {
            let mut bytes = serde_json::to_vec(&serde_json::json!({
                "scope": "models:name", "key": input(rng), "id": rng.random::<i64>()
            }))
            .unwrap_or_default();
            for _ in 0..rng.random_range(1..4) {
                if !bytes.is_empty() {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] = rng.random();
                }
            }
            URL_SAFE_NO_PAD.encode(bytes)
        }
    }
}

/// A refusal a client may get: a 4xx.
fn is_client_error(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidParameter(_) | Error::InvalidPageToken | Error::NotFound(_)
    )
}

/// Runs `parse` on `text`: no panic, and any refusal a client error.
fn check<T>(what: &str, text: &str, parse: impl FnOnce(&str) -> Result<T>) {
    match catch_unwind(AssertUnwindSafe(|| parse(text))) {
        Err(_) => panic!("{what} panicked on {text:?}"),
        Ok(Err(error)) if !is_client_error(&error) => {
            panic!("{what} answered {error:?} for {text:?}, not a client error")
        }
        Ok(_) => {}
    }
}

fn run(cases: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..cases {
        let text = input(&mut rng);
        check("the filter parser", &text, filter::parse);
        check("the model order_by", &text, ModelOrder::parse);
        check("the version order_by", &text, VersionOrder::parse);
        check("model names", &text, |t| ModelName::parse(t));
        check("tag keys", &text, |t| TagKey::parse(t));
        check("aliases", &text, |t| Alias::parse(t));
        check("usernames", &text, |t| Username::parse(t));
        check("version numbers", &text, VersionNumber::parse);
        check("instants", &text, parse_instant);
        check("durations", &text, |t| {
            parse_duration(t).map_err(Error::InvalidParameter)
        });
        let token = page_token(&mut rng);
        check("page tokens", &token, |t| {
            let token = PageToken::decode(t, "models:name")?;
            token.int_key().or_else(|_| token.text_key().map(|_| 0))
        });
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_parser_of_user_text_refuses_with_a_client_error_and_never_panics() {
    run(setting("FUZZ_CASES", 20_000), setting("FUZZ_SEED", 1));
}

#[test]
#[ignore = "a million cases per parser: cargo test --release --lib fuzz -- --ignored"]
fn a_million_cases_per_parser() {
    let seed = setting("FUZZ_SEED", 20_261_130);
    let cases = setting("FUZZ_CASES", 1_000_000);
    run(cases, seed);
    println!("fuzz: {cases} cases per parser passed (FUZZ_SEED={seed})");
}
