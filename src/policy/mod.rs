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

/// Parsed policies by the SHA-256 of their document. A memo of a pure function keyed by
/// content, not configuration: the same digest always parses to the same policy, so it is
/// safe to share between instances in one process. Parsing a policy's TOML on every
/// submission cost a share of the writer's time under the head lock (issue 12).
static PARSED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Policy>>>> =
    std::sync::OnceLock::new();

/// Most parsed policies kept (a ledger adopts a handful in its life).
const PARSED_MAX: usize = 64;

/// The policy in force: `(name, sha256, parsed)`, parsed once per document.
///
/// # Errors
/// A database error, or [`StoreError::Corrupt`] when the stored document no longer parses.
pub fn in_force(
    conn: &mut crate::store::DbConnection,
) -> Result<Option<(String, String, std::sync::Arc<Policy>)>, StoreError> {
    let row = crate::store::queries::current_policy_name(conn)?;
    row.map(|(name, sha)| parsed(conn, name, sha)).transpose()
}

/// [`in_force`] for an append operation: the batch reads which policy is in force once
/// ([`AppendCtx::policy_in_force`]).
///
/// # Errors
/// As [`in_force`].
pub fn in_force_for(ctx: &mut AppendCtx<'_>) -> Result<Option<(String, String, std::sync::Arc<Policy>)>, StoreError> {
    let row = ctx.policy_in_force()?;
    row.map(|(name, sha)| parsed(ctx.conn, name, sha)).transpose()
}

/// The policy with digest `sha`, parsed once per process.
fn parsed(
    conn: &mut crate::store::DbConnection,
    name: String,
    sha: String,
) -> Result<(String, String, std::sync::Arc<Policy>), StoreError> {
    let memo = PARSED.get_or_init(Default::default);
    if let Some(p) = memo.lock().unwrap_or_else(|p| p.into_inner()).get(&sha) {
        return Ok((name, sha, p.clone()));
    }
    let document: String = policies::table
        .filter(policies::sha256.eq(&sha))
        .select(policies::document)
        .first(conn)?;
    let parsed = std::sync::Arc::new(
        Policy::parse(&document).map_err(|e| StoreError::Corrupt(format!("policy in force: {e}")))?,
    );
    let mut memo = memo.lock().unwrap_or_else(|p| p.into_inner());
    if memo.len() >= PARSED_MAX {
        memo.clear();
    }
    memo.insert(sha.clone(), parsed.clone());
    Ok((name, sha, parsed))
}

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
    ctx.policy_changed();
    let public: Map<String, Value> = json!({ "name": name, "policy_sha256": sha })
        .as_object()
        .cloned()
        .unwrap_or_default();
    Ok(NewEntry::log_level(EntryKind::POLICY_ADOPTED, public))
}
