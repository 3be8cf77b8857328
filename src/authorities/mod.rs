//! Requesting authorities (DESIGN §1): registered by an admin with their country, kind and
//! judicial status; their public keys (Ed25519 or P-256, as PEM or JWK) sign their officers'
//! tokens and their orders. Every change is a ledger entry committed with the row change:
//! `authority.registered`, `authority.key_added`, `authority.key_revoked`,
//! `authority.suspended`, `authority.reinstated`.

pub mod add_key;
pub mod get;
pub mod key;
pub mod list;
pub mod register;
pub mod revoke_key;
pub mod status;
mod store;
pub mod tools;

pub use store::{
    find_active_key, load, load_many_with_key_and_order_uses, load_with_key_and_order_uses, load_without_keys,
    order_uses, ActiveKey,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of body an authority is; `court` and `investigating_judge` are judicial by nature,
/// the `judicial` flag records the registrar's finding for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorityKind {
    Court,
    InvestigatingJudge,
    Prosecutor,
    Police,
    Other,
}

impl AuthorityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityKind::Court => "court",
            AuthorityKind::InvestigatingJudge => "investigating_judge",
            AuthorityKind::Prosecutor => "prosecutor",
            AuthorityKind::Police => "police",
            AuthorityKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// `verified` authorities may act; `suspended` ones may not (their tokens are refused).
pub const STATUS_VERIFIED: &str = "verified";
pub const STATUS_SUSPENDED: &str = "suspended";

/// An authority as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Authority {
    pub id: String,
    /// ISO 3166-1 alpha-3.
    pub country: String,
    pub kind: AuthorityKind,
    pub judicial: bool,
    pub name: String,
    pub domains: Vec<String>,
    /// `verified` or `suspended`.
    pub status: String,
    pub created_at: String,
    pub keys: Vec<key::AuthorityKey>,
}
