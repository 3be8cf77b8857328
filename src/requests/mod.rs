//! Disclosure requests (DESIGN §2, §3): an officer submits, the policy's rules V1–V12 check it
//! mechanically, and every step is an entry committed with the state change. Raw identifiers
//! go only to the vault; entries and sealed details carry their commitments.

pub mod amend;
pub mod decision;
pub mod disclosure;
pub mod emergency_validation;
pub mod get;
pub mod history;
pub mod identifiers;
pub mod list;
pub mod notification;
pub mod order_keys;
pub mod order_statement;
pub mod submit;
pub mod sweep;
mod transition;
mod transition_rows;
pub mod validate;
mod vault_rows;
pub mod withdraw;

pub use transition::idempotency_key;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `POST /v1/requests`. Every field is optional at the parsing stage so that a
/// missing one is reported as a failed rule (V1) and recorded, not refused as malformed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// `court_order`, `investigating_judge_order`, `production_order`, `preservation_request`,
    /// `subpoena` or `other`.
    pub instrument: Option<String>,
    /// Id of the authority that issued the order (may differ from the submitting officer's).
    pub issuing_authority: Option<String>,
    /// Name or role of the ordering judge or prosecutor.
    pub judge_or_prosecutor: Option<String>,
    /// The case file number.
    pub file_number: Option<String>,
    /// Legal basis, e.g. `CPP art. 60-1`.
    pub legal_citation: Option<String>,
    /// Offence category, e.g. `drug_trafficking`, `terrorism`.
    pub offence_category: Option<String>,
    /// A criminal case is open.
    pub criminal_case: Option<bool>,
    /// The person the identifiers belong to is a suspect.
    pub suspect: Option<bool>,
    /// The conduct also breaches the platform's terms of service.
    pub terms_breach: Option<bool>,
    pub targets: Option<Vec<Target>>,
    /// `ip_address`, `phone_number`.
    pub data_categories: Option<Vec<String>>,
    pub time_range: Option<TimeRange>,
    /// RFC 3339: when the order was issued.
    pub issued_at: Option<String>,
    /// RFC 3339: when the order stops being valid.
    pub expires_at: Option<String>,
    pub emergency: Option<Emergency>,
    pub non_disclosure: Option<NonDisclosure>,
    pub order: Option<Order>,
}

/// Most data categories a request may name.
pub const MAX_CATEGORIES: usize = 32;
/// Longest identifier value, kind or category, in bytes.
pub const MAX_TERM: usize = 256;
/// Longest free-text field (file number, citation, judge, justification, …), in bytes.
pub const MAX_TEXT: usize = 4096;

impl SubmitRequest {
    /// Shape limits, checked before any rule and before anything is recorded: list lengths and
    /// string lengths, so that one officer cannot make the ledger store, sign or answer
    /// without bound. The policy's own limits (V7 `max_targets`) are judged, and recorded,
    /// within these.
    pub fn shape_errors(&self) -> Vec<crate::error::FieldError> {
        let mut errors = Vec::new();
        let mut too = |field: String, code: &str, message: String| {
            errors.push(crate::error::FieldError {
                field,
                code: code.into(),
                message,
            })
        };
        let targets = self.targets.as_deref().unwrap_or_default();
        if targets.len() > crate::policy::document::MAX_TARGETS {
            too(
                "targets".into(),
                "too_many",
                format!("at most {} targets", crate::policy::document::MAX_TARGETS),
            );
        }
        for (i, t) in targets.iter().enumerate().take(crate::policy::document::MAX_TARGETS) {
            if t.kind.len() > MAX_TERM || t.value.len() > MAX_TERM {
                too(
                    format!("targets[{i}]"),
                    "too_long",
                    format!("kind and value have at most {MAX_TERM} bytes"),
                );
            }
        }
        let categories = self.data_categories.as_deref().unwrap_or_default();
        if categories.len() > MAX_CATEGORIES {
            too(
                "data_categories".into(),
                "too_many",
                format!("at most {MAX_CATEGORIES} categories"),
            );
        } else if let Some(i) = categories.iter().position(|c| c.len() > MAX_TERM) {
            too(
                format!("data_categories[{i}]"),
                "too_long",
                format!("at most {MAX_TERM} bytes"),
            );
        }
        let texts = [
            ("instrument", self.instrument.as_deref()),
            ("issuing_authority", self.issuing_authority.as_deref()),
            ("judge_or_prosecutor", self.judge_or_prosecutor.as_deref()),
            ("file_number", self.file_number.as_deref()),
            ("legal_citation", self.legal_citation.as_deref()),
            ("offence_category", self.offence_category.as_deref()),
            ("issued_at", self.issued_at.as_deref()),
            ("expires_at", self.expires_at.as_deref()),
            ("time_range.from", self.time_range.as_ref().map(|t| t.from.as_str())),
            ("time_range.to", self.time_range.as_ref().map(|t| t.to.as_str())),
            (
                "emergency.justification",
                self.emergency.as_ref().and_then(|e| e.justification.as_deref()),
            ),
            (
                "non_disclosure.basis",
                self.non_disclosure.as_ref().and_then(|n| n.basis.as_deref()),
            ),
            (
                "non_disclosure.until",
                self.non_disclosure.as_ref().and_then(|n| n.until.as_deref()),
            ),
            (
                "order.document_sha256",
                self.order.as_ref().map(|o| o.document_sha256.as_str()),
            ),
            ("order.signature", self.order.as_ref().map(|o| o.signature.as_str())),
            ("order.kid", self.order.as_ref().map(|o| o.kid.as_str())),
        ];
        // An authority id, never free text: a value here is stored and shown as it is.
        if self
            .issuing_authority
            .as_deref()
            .is_some_and(|a| !a.is_empty() && uuid::Uuid::parse_str(a).is_err())
        {
            too(
                "issuing_authority".into(),
                "not_an_authority_id",
                "issuing_authority is the id of a registered authority (a UUID)".into(),
            );
        }
        for (field, text) in texts {
            if text.is_some_and(|t| t.len() > MAX_TEXT) {
                too(field.into(), "too_long", format!("at most {MAX_TEXT} bytes"));
            }
        }
        errors
    }
}

/// An identifier of the account concerned. The value is normalised and committed; only the
/// vault keeps it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `phone_number`, `ip_address`, `username` or `user_id`.
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Emergency {
    pub justification: Option<String>,
    /// The officer attests to an imminent threat to life or physical integrity.
    pub imminent_harm: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NonDisclosure {
    pub basis: Option<String>,
    /// RFC 3339: the user may be notified from then on.
    pub until: Option<String>,
}

/// The order document, by digest, with the issuing authority's detached signature over the
/// order statement (`disclosure-ledger:order:v2`: this ledger's origin, the issuing authority,
/// `kid`, `issued_at`, `expires_at`, `document_sha256` and the SHA-256 of the JCS form of the
/// body without `order` and `emergency`; exact bytes in `docs/API.md`). The key must be
/// valid and unrevoked both at `issued_at` and when the request is recorded.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub document_sha256: String,
    /// Hex: 64 bytes (Ed25519, or ES256 as r ‖ s).
    pub signature: String,
    /// The issuing authority's key that signed it.
    pub kid: String,
}

/// A request as the API shows it. No raw identifier appears here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub status: String,
    pub authority: String,
    pub issuing_authority: Option<String>,
    pub instrument: String,
    pub country: String,
    pub emergency: bool,
    pub data_categories: Vec<String>,
    pub identifiers: i32,
    pub received_at: String,
    pub due_at: String,
    pub policy_sha256: String,
    pub failed_rules: Vec<String>,
}
