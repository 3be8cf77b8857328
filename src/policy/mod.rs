//! Policies: the legal-validity rules in force, as a document whose SHA-256 every decision
//! names. Adopting one is itself a ledger entry (`policy.adopted`), so a change such as
//! Telegram's of September 2024 is visible in the log.

pub mod adopt;
pub mod current;
pub mod document;

pub use document::Policy;

use diesel::prelude::*;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::ledger::EntryKind;
use crate::store::{schema::policies, AppendCtx, NewEntry, StoreError};

/// The built-in default, adopted as entry 0 of a new ledger.
pub const DEFAULT_NAME: &str = "telegram-2024-09";
pub const DEFAULT_DOCUMENT: &str = include_str!("../../policies/telegram-2024-09.toml");

pub fn document_sha256(document: &str) -> String {
    hex::encode(Sha256::digest(document.as_bytes()))
}

/// The append operation: store the document and return its `policy.adopted` entry.
pub fn adoption(ctx: &mut AppendCtx<'_>, name: &str, document: &str) -> Result<NewEntry, StoreError> {
    let sha = document_sha256(document);
    diesel::insert_into(policies::table)
        .values((
            policies::adopted_entry.eq(ctx.next_index as i64),
            policies::name.eq(name),
            policies::sha256.eq(&sha),
            policies::document.eq(document),
        ))
        .execute(ctx.conn)?;
    let public: Map<String, Value> = json!({ "name": name, "policy_sha256": sha })
        .as_object()
        .cloned()
        .unwrap_or_default();
    Ok(NewEntry::log_level(EntryKind::POLICY_ADOPTED, public))
}
