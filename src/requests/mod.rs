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
pub mod submit;
pub mod sweep;
mod transition;
pub mod validate;
pub mod withdraw;

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

/// The order document, by digest, with the issuing authority's detached signature over
/// `"disclosure-ledger:order:v1\n" + hex(sha256(document))`.
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
