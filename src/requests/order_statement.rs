//! The order statement: the exact bytes an issuing authority signs for rule V3.
//!
//! A signature over the document digest alone (`disclosure-ledger:order:v1`) proved only that
//! the authority once signed *a* document: nothing bound it to what the request says the order
//! is (the identifiers and data asked for, the offence, the instrument, the dates), to the key's
//! holder at a given time, or to this ledger. An officer could widen the scope, change what
//! the rules judge, back-date the order before a key's revocation, or replay an order signed
//! for another platform. Version 2 signs all of that (security review, issue 16 item 2):
//!
//! ```text
//! disclosure-ledger:order:v2
//! origin <the ledger's log origin, the first line of its checkpoints>
//! issuing_authority <authority id>
//! kid <key id>
//! issued_at <issued_at exactly as in the request body>
//! expires_at <expires_at exactly as in the request body, or "-" when absent>
//! document_sha256 <64 lowercase hex digits>
//! scope_sha256 <hex SHA-256 of the RFC 8785 (JCS) form of the request body without order and emergency>
//! ```
//!
//! Each line ends with `\n` (also the last one), UTF-8, no other whitespace. `scope_sha256`
//! covers every member of the request body the court asserts — instrument, judge, file number,
//! citation, offence and its conditions, targets, categories, time range, non-disclosure, and
//! the members on their own lines again — that is, the body without `order` (which holds the
//! signature) and `emergency` (the officer's attestation, not the court's), with members whose
//! value is `null` left out at any depth. The body holds only strings, booleans, arrays and
//! objects, so sorting keys and writing compact UTF-8 JSON gives the JCS form, and an authority
//! can sign with its own tools. Values are taken as sent, never normalised, so that what is
//! signed is what the officer submitted; a value on its own line holding a line break or
//! another control character cannot be signed unambiguously and fails V3.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SubmitRequest;

/// The first line of every version-2 statement.
pub const TAG: &str = "disclosure-ledger:order:v2";

/// Why a request has no statement to check a signature against: the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsignable {
    pub field: &'static str,
    pub message: &'static str,
}

/// Members of a request body that are not the court's to sign: `order` holds the signature,
/// `emergency` is the officer's attestation.
const NOT_SIGNED: &[&str] = &["order", "emergency"];

fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// `hex(SHA-256(JCS(body without order and emergency, null members left out)))`.
pub fn scope_sha256(r: &SubmitRequest) -> String {
    let mut body = serde_json::to_value(r).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        for name in NOT_SIGNED {
            map.remove(*name);
        }
    }
    // Strings, booleans, arrays and objects only: canonicalisation cannot fail.
    let canonical = crate::ledger::entry::jcs(&without_nulls(body)).unwrap_or_default();
    hex::encode(Sha256::digest(canonical))
}

/// The statement for `r` at the ledger `origin`, with the order's own `kid` and digest.
///
/// # Errors
/// [`Unsignable`] naming the first field that is missing or holds a control character.
pub fn statement(origin: &str, r: &SubmitRequest) -> Result<String, Unsignable> {
    let order = r.order.as_ref().ok_or(Unsignable {
        field: "order",
        message: "the order is missing",
    })?;
    let line = |field: &'static str, value: Option<&str>| -> Result<String, Unsignable> {
        match value {
            None | Some("") => Err(Unsignable {
                field,
                message: "the order statement needs this field",
            }),
            Some(v) if v.chars().any(char::is_control) => Err(Unsignable {
                field,
                message: "a control character cannot be part of a signed order statement",
            }),
            Some(v) => Ok(v.to_string()),
        }
    };
    let origin = line("order", Some(origin))?;
    let issuer = line("issuing_authority", r.issuing_authority.as_deref())?;
    let kid = line("order.kid", Some(&order.kid))?;
    let issued_at = line("issued_at", r.issued_at.as_deref())?;
    let expires_at = match r.expires_at.as_deref() {
        None => "-".to_string(),
        Some(e) => line("expires_at", Some(e))?,
    };
    let digest = line("order.document_sha256", Some(&order.document_sha256))?;
    Ok(format!(
        "{TAG}\norigin {origin}\nissuing_authority {issuer}\nkid {kid}\nissued_at {issued_at}\nexpires_at {expires_at}\ndocument_sha256 {digest}\nscope_sha256 {}\n",
        scope_sha256(r)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::{Order, Target, TimeRange};

    fn body() -> SubmitRequest {
        SubmitRequest {
            issuing_authority: Some("court-1".into()),
            issued_at: Some("2026-11-01T10:00:00Z".into()),
            targets: Some(vec![Target {
                kind: "phone_number".into(),
                value: "+33 6 12 34 56 78".into(),
            }]),
            data_categories: Some(vec!["ip_address".into()]),
            time_range: Some(TimeRange {
                from: "2026-10-01T00:00:00Z".into(),
                to: "2026-11-01T00:00:00Z".into(),
            }),
            order: Some(Order {
                document_sha256: "ab".repeat(32),
                signature: String::new(),
                kid: "k1".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_statement_names_every_bound_field_on_its_own_line() {
        let s = statement("ledger.example/log", &body()).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], TAG);
        assert_eq!(lines[1], "origin ledger.example/log");
        assert_eq!(lines[5], "expires_at -");
        assert!(s.ends_with('\n'));
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn any_change_of_scope_origin_or_dates_changes_the_statement() {
        let base = statement("o", &body()).unwrap();
        let mut changes: Vec<SubmitRequest> = Vec::new();
        let mut b = body();
        b.targets.as_mut().unwrap()[0].value = "+33 6 12 34 56 79".into();
        changes.push(b);
        let mut b = body();
        b.data_categories = Some(vec!["ip_address".into(), "phone_number".into()]);
        changes.push(b);
        let mut b = body();
        b.time_range.as_mut().unwrap().from = "2026-01-01T00:00:00Z".into();
        changes.push(b);
        let mut b = body();
        b.issued_at = Some("2026-10-01T10:00:00Z".into());
        changes.push(b);
        let mut b = body();
        b.expires_at = Some("2027-01-01T00:00:00Z".into());
        changes.push(b);
        let mut b = body();
        b.suspect = Some(true);
        changes.push(b);
        let mut b = body();
        b.offence_category = Some("terrorism".into());
        changes.push(b);
        let mut b = body();
        b.instrument = Some("court_order".into());
        changes.push(b);
        for b in changes {
            assert_ne!(statement("o", &b).unwrap(), base);
        }
        // The officer's emergency attestation is not the court's to sign.
        let mut b = body();
        b.emergency = Some(crate::requests::Emergency {
            justification: Some("threat to life".into()),
            imminent_harm: Some(true),
        });
        assert_eq!(statement("o", &b).unwrap(), base);
        assert_ne!(statement("other", &body()).unwrap(), base);
    }

    #[test]
    fn a_line_break_in_a_bound_field_is_unsignable() {
        let mut b = body();
        b.issuing_authority = Some("court-1\nkid k9".into());
        assert_eq!(statement("o", &b).unwrap_err().field, "issuing_authority");
        let mut b = body();
        b.issued_at = None;
        assert_eq!(statement("o", &b).unwrap_err().field, "issued_at");
    }
}
