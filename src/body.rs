//! Strict JSON request bodies: the one way a handler reads a body.
//!
//! A handler first authorises its caller ([`crate::auth::Caller::require`]) and only then calls
//! [`json`] (or [`read`] and [`values`]), so a caller without the role makes the server read
//! nothing and learns nothing of the schema. Reading then:
//! 1. refuses a body that is not `application/json` (415) and one over the endpoint's limit,
//!    by its `Content-Length` or while it streams in (413), without buffering beyond the limit;
//! 2. parses it in one pass that refuses a member name repeated in any object, at any depth
//!    (400 naming the member: RFC 8259 §4 leaves duplicates undefined and parsers disagree on
//!    which one wins), and any number that is not an integer within ±(2^53 − 1) (422 naming
//!    the field: I-JSON, RFC 7493 §2.2; an entry holds no other number, DESIGN §4.1, and the
//!    ledger's verifier refuses one);
//! 3. deserialises the endpoint's type, naming the field of a missing or mistyped member
//!    (400) without quoting the value, which may be an identifier.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{AppError, FieldError};

/// Bodies of most endpoints: at most 1 MiB.
pub const DEFAULT_LIMIT: usize = 1 << 20;
/// Most elements of any one array in a body; counted while parsing, so a body of tiny
/// elements is refused at the first one too many, not after it was all built.
pub const MAX_ARRAY_ITEMS: usize = 100_000;
/// The largest integer a body, and so an entry, may hold (RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The media types a body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    /// `application/x-ndjson` or `application/jsonl`: one JSON value per line.
    NdJson,
}

/// The body's media type when it is one of `accepted`, else 415.
pub fn media_type(req: &HttpRequest, accepted: &[MediaType]) -> Result<MediaType, AppError> {
    use actix_web::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
    // One Content-Type, no parameter but charset=utf-8 (RFC 8259 §8.1), and no content coding
    // the server would not undo.
    let mut types = req.headers().get_all(CONTENT_TYPE);
    let value = types.next().and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    let single = types.next().is_none();
    let coded = req
        .headers()
        .get_all(CONTENT_ENCODING)
        .any(|v| !v.to_str().is_ok_and(|v| v.trim().eq_ignore_ascii_case("identity")));
    let params_ok = value.as_deref().is_some_and(|v| {
        v.split(';').skip(1).all(|p| {
            matches!(
                p.trim().replace(' ', "").as_str(),
                "charset=utf-8" | "charset=\"utf-8\""
            )
        })
    });
    let essence = value
        .as_deref()
        .filter(|_| single && !coded && params_ok)
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
    let found = match essence.as_deref() {
        Some("application/json") => Some(MediaType::Json),
        Some("application/x-ndjson" | "application/jsonl") => Some(MediaType::NdJson),
        _ => None,
    };
    match found {
        Some(t) if accepted.contains(&t) => Ok(t),
        _ if accepted.contains(&MediaType::NdJson) => Err(AppError::unsupported_media_type(
            "Content-Type must be application/json or application/x-ndjson",
        )),
        _ => Err(AppError::unsupported_media_type(
            "Content-Type must be application/json",
        )),
    }
}

/// A sender that pauses longer than this between two chunks of its body is cut off (408).
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(5);
/// The whole body must arrive within this, plus a second per MiB of the endpoint's limit.
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the whole body, refusing it (413) as soon as it is known to exceed `limit` bytes, and
/// (408) when the sender trickles it: a pause over [`BODY_IDLE`], or more than
/// [`BODY_DEADLINE`] plus a second per MiB of `limit` in all. A slow sender must not hold a
/// connection and a buffer for as long as it likes.
pub async fn read(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<web::Bytes, AppError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::payload_too_large(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    let deadline = tokio::time::Instant::now() + BODY_DEADLINE + std::time::Duration::from_secs((limit >> 20) as u64);
    loop {
        let next = tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + BODY_IDLE), payload.next());
        let Ok(next) = next.await else {
            return Err(AppError::request_timeout("the request body arrived too slowly"));
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|_| AppError::bad_request("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads an `application/json` body of at most [`DEFAULT_LIMIT`] bytes as a `T`. Call it only
/// after the caller is authorised.
pub async fn json<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload) -> Result<T, AppError> {
    media_type(req, &[MediaType::Json])?;
    let bytes = read(req, payload, DEFAULT_LIMIT).await?;
    parse(&bytes, "")
}

/// [`json`], and the SHA-256 (hex) of the body's bytes, for idempotent retries.
pub async fn json_digest<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(T, String), AppError> {
    use sha2::Digest;
    media_type(req, &[MediaType::Json])?;
    let bytes = read(req, payload, DEFAULT_LIMIT).await?;
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    Ok((parse(&bytes, "")?, digest))
}

/// Parses `bytes` strictly (module comment, step 2) and deserialises a `T`; fields are named
/// below `root` (empty for the body itself).
pub fn parse<T: DeserializeOwned>(bytes: &[u8], root: &str) -> Result<T, AppError> {
    typed(value(bytes, root)?, root)
}

/// One JSON value, strictly parsed: no repeated member name, no number but an I-JSON-safe
/// integer. Errors name the offending field below `root`.
pub fn value(bytes: &[u8], root: &str) -> Result<Value, AppError> {
    let refusal = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Checked {
        path: root.to_string(),
        refusal: &refusal,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, refusal.into_inner()) {
        (_, Some(refusal)) => Err(refusal.into_error()),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(AppError::bad_request(format!(
            "{} is not JSON (line {}, column {})",
            if root.is_empty() { "the request body" } else { root },
            e.line(),
            e.column()
        ))),
    }
}

/// Deserialises a strictly parsed value as a `T`, naming the field of a failure.
pub fn typed<T: DeserializeOwned>(v: Value, root: &str) -> Result<T, AppError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        use serde_path_to_error::Segment;
        let mut path = root.to_string();
        for segment in e.path().iter() {
            path = match segment {
                Segment::Seq { index } => join(&path, &format!("[{index}]")),
                Segment::Map { key } if is_schema_like(key) => join(&path, key),
                Segment::Map { .. } => join(&path, "?"),
                Segment::Enum { .. } | Segment::Unknown => path,
            };
        }
        let (field, message) = describe(&path, &e.inner().to_string());
        AppError::malformed(field, message)
    })
}

/// A query string that does not fit the endpoint, told without serde's text (which quotes
/// values): the parameter when serde names one of ours, else a general message.
pub fn query_error(msg: &str) -> AppError {
    for prefix in ["missing field `", "duplicate field `", "unknown field `"] {
        if let Some(rest) = msg.split(prefix).nth(1) {
            let name = rest.split('`').next().unwrap_or_default();
            if is_schema_like(name) {
                let what = prefix.trim_end_matches(" `").replace("field", "parameter");
                return AppError::invalid_parameter(name, format!("{what}: {name}"));
            }
        }
    }
    AppError::bad_request(
        "a query parameter is missing, repeated or not of its type (integers are decimal and at least 0)",
    )
}

/// `root` and a path below it, as `a.b[3].c`.
fn join(root: &str, below: &str) -> String {
    match (root.is_empty(), below.is_empty()) {
        (_, true) => root.to_string(),
        (true, false) => below.to_string(),
        (false, false) if below.starts_with('[') => format!("{root}{below}"),
        (false, false) => format!("{root}.{below}"),
    }
}

/// The field and a message for serde's error `msg`, which may quote the caller's value (an
/// identifier, perhaps): only what comes from our own schema is kept.
fn describe(path: &str, msg: &str) -> (String, String) {
    let msg = msg.split(" at line ").next().unwrap_or_default();
    let expected = msg.rsplit_once(", expected ").map(|(_, e)| e.to_string());
    let field = if path.is_empty() {
        "body".to_string()
    } else {
        path.to_string()
    };
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        return (join(path, name), format!("missing field `{name}`"));
    }
    if msg.starts_with("unknown field `") {
        // The path already ends with the unknown member's name (or `?`).
        let message = match expected {
            Some(e) => format!("unknown field; expected {e}"),
            None => "unknown field".to_string(),
        };
        return (field, message);
    }
    let message = match expected {
        Some(e) => format!("wrong type or value; expected {e}"),
        None => "wrong type or value".to_string(),
    };
    (field, message)
}

/// A member name that may be repeated back: short and of the characters our own schema uses.
/// Anything else could be a value smuggled into a name.
fn is_schema_like(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `#[serde(deserialize_with)]` for an integer query or path parameter: at most 2^53 − 1, as
/// the spec says of every integer.
pub fn safe_u64<'de, D: de::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = <u64 as serde::Deserialize>::deserialize(d)?;
    if n > MAX_SAFE_INTEGER {
        return Err(de::Error::custom(format!("must be at most {MAX_SAFE_INTEGER}")));
    }
    Ok(n)
}

/// [`safe_u64`] for an optional parameter (used with `#[serde(default)]`).
pub fn safe_opt_u64<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    safe_u64(d).map(Some)
}

/// Why a strictly parsed body was refused.
enum Refusal {
    DuplicateMember(String),
    UnsafeNumber {
        field: String,
        integral: bool,
    },
    /// PostgreSQL cannot store U+0000 in text, SQLite can: refused on both alike.
    NulCharacter(String),
    TooManyItems(String),
}

impl Refusal {
    fn into_error(self) -> AppError {
        match self {
            Refusal::DuplicateMember(field) => AppError::malformed_with_code(
                field,
                "duplicate_member",
                "this member name appears more than once in its object",
            ),
            Refusal::TooManyItems(field) => AppError::unprocessable(
                "an array is longer than the ledger takes; nothing was recorded",
                vec![FieldError {
                    field,
                    code: "too_many".into(),
                    message: format!("at most {MAX_ARRAY_ITEMS} elements"),
                }],
            ),
            Refusal::NulCharacter(field) => AppError::unprocessable(
                "a string holds a NUL character; nothing was recorded",
                vec![FieldError {
                    field,
                    code: "nul_character".into(),
                    message: "text may not contain U+0000".into(),
                }],
            ),
            Refusal::UnsafeNumber { field, integral } => AppError::unprocessable(
                "a number is outside what the ledger can record exactly; nothing was recorded",
                vec![FieldError {
                    field,
                    code: if integral { "out_of_range" } else { "not_an_integer" }.into(),
                    message: if integral {
                        format!("integers must lie within ±{MAX_SAFE_INTEGER} (I-JSON, RFC 7493 §2.2)")
                    } else {
                        "numbers must be integers written without fraction or exponent".to_string()
                    },
                }],
            ),
        }
    }
}

/// A `serde_json::Value` builder that knows where it is and refuses on the first problem. The
/// structured refusal goes through `refusal`, since serde's error type carries only text.
struct Checked<'r> {
    path: String,
    refusal: &'r RefCell<Option<Refusal>>,
}

impl Checked<'_> {
    fn refuse<E: de::Error>(&self, r: Refusal) -> E {
        *self.refusal.borrow_mut() = Some(r);
        E::custom("refused")
    }

    fn child(&self, segment: &str) -> Self {
        Checked {
            path: join(&self.path, segment),
            refusal: self.refusal,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            let field = self.path.clone();
            return Err(self.refuse(Refusal::UnsafeNumber { field, integral: true }));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            let field = self.path.clone();
            return Err(self.refuse(Refusal::UnsafeNumber { field, integral: true }));
        }
        Ok(Value::Number(v.into()))
    }

    /// serde_json reports a fraction, an exponent, and an integer beyond 64 bits as `f64`.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        let integral = v.fract() == 0.0 && v.abs() > MAX_SAFE_INTEGER as f64 || !v.is_finite();
        let field = self.path.clone();
        Err(self.refuse(Refusal::UnsafeNumber { field, integral }))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.visit_string(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        if v.contains('\0') {
            let field = self.path.clone();
            return Err(self.refuse(Refusal::NulCharacter(field)));
        }
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child(&format!("[{}]", out.len())))? {
            if out.len() == MAX_ARRAY_ITEMS {
                let field = self.path.clone();
                return Err(self.refuse(Refusal::TooManyItems(field)));
            }
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let shown = if is_schema_like(&key) {
                key.clone()
            } else {
                "?".to_string()
            };
            if key.contains('\0') {
                let field = join(&self.path, &shown);
                return Err(self.refuse(Refusal::NulCharacter(field)));
            }
            if !seen.insert(key.clone()) {
                let field = join(&self.path, &shown);
                return Err(self.refuse(Refusal::DuplicateMember(field)));
            }
            let v = map.next_value_seed(self.child(&shown))?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> (u16, Vec<(String, String)>) {
        let e = value(body.as_bytes(), "").unwrap_err();
        let p = e.problem();
        (p.status, p.errors.into_iter().map(|f| (f.field, f.code)).collect())
    }

    #[test]
    fn repeated_members_are_refused_at_any_depth() {
        assert_eq!(
            refusal(r#"{"a":1,"a":2}"#),
            (400, vec![("a".into(), "duplicate_member".into())])
        );
        assert_eq!(
            refusal(r#"{"v":{"ip_address":1,"ip_address":2}}"#),
            (400, vec![("v.ip_address".into(), "duplicate_member".into())])
        );
        assert_eq!(refusal(r#"[{"x":[{"k":1,"k":1}]}]"#).1[0].0, "[0].x[0].k".to_string());
        // Escapes spell the same name.
        assert_eq!(refusal(r#"{"a":1,"\u0061":2}"#).0, 400);
    }

    #[test]
    fn numbers_beyond_i_json_or_with_fractions_are_refused() {
        assert_eq!(
            refusal(r#"{"n":9007199254740993}"#),
            (422, vec![("n".into(), "out_of_range".into())])
        );
        assert_eq!(refusal(r#"{"n":-9007199254740992}"#).0, 422);
        assert!(value(br#"{"n":1e400}"#, "").is_err());
        assert_eq!(refusal(r#"{"n":123456789012345678901234567890}"#).0, 422);
        assert_eq!(
            refusal(r#"{"n":[1.5]}"#),
            (422, vec![("n[0]".into(), "not_an_integer".into())])
        );
        assert_eq!(refusal(r#"{"n":1.0}"#).1[0].1, "not_an_integer");
        assert!(value(br#"{"n":9007199254740991,"m":-9007199254740991}"#, "").is_ok());
    }

    #[test]
    fn nul_characters_are_refused_in_values_and_names() {
        assert_eq!(
            refusal(r#"{"name":"a\u0000b"}"#),
            (422, vec![("name".into(), "nul_character".into())])
        );
        assert_eq!(refusal(r#"{"a\u0000":1}"#).0, 422);
        assert_eq!(refusal(r#"["\u0000"]"#).1[0].0, "[0]");
    }

    #[test]
    fn names_that_could_carry_a_value_are_not_repeated_back() {
        let e = value(br#"{"+33612345678":1,"+33612345678":2}"#, "").unwrap_err();
        assert!(!format!("{:?}", e.problem()).contains("3361"));
    }

    #[test]
    fn typed_errors_name_the_field_but_not_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            kind: String,
            n: u32,
        }
        let e = parse::<T>(br#"{"kind":"+33612345678","n":"+33612345678"}"#, "records[2]").unwrap_err();
        let p = e.problem();
        assert_eq!(p.errors[0].field, "records[2].n");
        assert!(!format!("{p:?}").contains("3361"), "{p:?}");
        let e = parse::<T>(br#"{"n":1}"#, "").unwrap_err();
        assert_eq!(e.problem().errors[0].field, "kind");
    }
}
