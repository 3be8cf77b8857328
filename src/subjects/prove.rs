use actix_web::{post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::error::{AppError, Problem};
use crate::ledger::{commitment, entry::leaf_hash, hex_hash, identifier};
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::{entries, requests, sealed_details, vault};
use crate::store::StoreError;

/// What a notified user was given.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectClaim {
    pub request_id: String,
    /// `phone_number`, `ip_address`, `username` or `user_id`.
    pub kind: String,
    /// The identifier as the user knows it; normalised as the ledger does.
    pub value: String,
    /// The 32-byte nonce, hex.
    pub nonce: String,
}

/// An entry of the request that commits to the identifier, with what it seals.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommittingEntry {
    pub index: u64,
    /// The entry, as its canonical bytes.
    #[schema(value_type = Object)]
    pub entry: Box<RawValue>,
    /// The restricted details its `sealed` commits to; they list the identifier's commitment.
    #[schema(value_type = Object)]
    pub restricted: Box<RawValue>,
    /// Hex salt of `sealed`.
    pub salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubjectProof {
    pub request_id: String,
    /// The identifier commitment (hex) computed from the claim.
    pub commitment: String,
    pub entries: Vec<CommittingEntry>,
    /// Inclusion proofs of those entries against one signed checkpoint.
    pub proofs: EntryReceipt,
}

fn not_found() -> AppError {
    AppError::not_found("no entry of that request commits to that identifier with that nonce")
}

/// Confirms that entries of the request commit to the identifier: for each, the entry, its
/// restricted details and salt (so the caller recomputes `sealed`) and an inclusion proof.
/// Public, but it answers only whoever holds the nonce; everything else is the same 404. Sent
/// as a POST so that the identifier never appears in a URL or an access log.
#[utoipa::path(
    post, path = "/v1/subjects/proof", tag = "subjects",
    request_body = SubjectClaim,
    responses(
        (status = 200, body = SubjectProof),
        (status = 400, description = "Malformed identifier or nonce (the value is not echoed)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No entry of that request commits to it", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Destroyed at the end of retention; the detail names the retention.shredded entry", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many proof requests from this client; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/subjects/proof")]
pub async fn prove(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    // With a leaked nonce, an online search over a country's numbers must take years: each
    // client address gets a few calls a minute.
    if let Some(client) = req.peer_addr().map(|a| a.ip().to_string()) {
        state.subject_limit.check(&client).map_err(|wait| {
            AppError::too_many_requests_for("too many proof requests from this client; try again later", wait)
        })?;
    }
    let claim: SubjectClaim = crate::body::json(&req, payload).await?;
    let normalised = match identifier::normalize(&claim.kind, &claim.value) {
        Ok(n) => n,
        // A national phone number, as the user's notification may spell it: read it in the
        // requesting authority's country, as the ledger did when it was submitted.
        Err(_) if claim.kind == identifier::PHONE_NUMBER && uuid::Uuid::parse_str(&claim.request_id).is_ok() => {
            let id = claim.request_id.to_lowercase();
            let country: Option<String> = state
                .read_at_least(0, move |conn| {
                    Ok(requests::table
                        .filter(requests::id.eq(&id))
                        .select(requests::country)
                        .first(conn)
                        .optional()
                        .map_err(StoreError::from)?)
                })
                .await?;
            identifier::normalize_in(&claim.kind, &claim.value, country.as_deref())
                .map_err(|e| AppError::invalid_parameter("value", e.to_string()))?
        }
        Err(e) => return Err(AppError::invalid_parameter("value", e.to_string())),
    };
    let mut nonce = [0u8; 32];
    hex::decode_to_slice(&claim.nonce, &mut nonce)
        .map_err(|_| AppError::invalid_parameter("nonce", "the nonce is 64 hex digits"))?;
    if uuid::Uuid::parse_str(&claim.request_id).is_err() {
        return Err(not_found());
    }
    let wanted = hex_hash(&commitment::identifier(&claim.kind, &nonce, &normalised));
    let id = claim.request_id.to_lowercase();
    let (id2, wanted2) = (id.clone(), wanted.clone());
    let found: Vec<(u64, String, String, String)> = state
        .read_at_least(0, move |conn| {
            // The commitment first, by index: one lookup that costs the same whether the
            // request does not exist, the nonce is wrong or the identifier is another.
            let owner: Option<String> = vault::table
                .filter(vault::commitment.eq(&wanted2))
                .select(vault::request_id)
                .first(conn)
                .optional()
                .map_err(StoreError::from)?;
            if owner.as_deref() != Some(id2.as_str()) {
                return Ok(Vec::new());
            }
            // Only a caller who holds the nonce gets here: telling them the proof is gone, and
            // by which entry, leaks nothing to anyone else.
            let shredded: Option<i64> = requests::table
                .filter(requests::id.eq(&id2))
                .select(requests::shredded_entry)
                .first(conn)
                .map_err(StoreError::from)?;
            if let Some(n) = shredded {
                return Err(AppError::gone(format!(
                    "the request's sealed details were destroyed at the end of retention by entry {n}; its public entries remain in the log"
                )));
            }
            let rows: Vec<(i64, String, Option<Vec<u8>>, String)> = entries::table
                .inner_join(sealed_details::table.on(sealed_details::entry_idx.eq(entries::idx)))
                .filter(entries::subject.eq(&id2))
                .order(entries::idx.asc())
                .select((
                    entries::idx,
                    entries::canonical,
                    sealed_details::salt,
                    sealed_details::restricted,
                ))
                .load(conn)
                .map_err(StoreError::from)?;
            Ok(rows
                .into_iter()
                .filter_map(|(i, canonical, salt, restricted)| {
                    let salt = salt?; // crypto-shredded: nothing left to prove
                    let r: serde_json::Value = serde_json::from_str(&restricted).ok()?;
                    let listed = r["identifiers"]
                        .as_array()?
                        .iter()
                        .any(|x| x["commitment"].as_str() == Some(wanted2.as_str()));
                    listed.then(|| (i as u64, canonical, restricted, hex::encode(salt)))
                })
                .collect())
        })
        .await?;
    if found.is_empty() {
        return Err(not_found());
    }
    let leaves = found
        .iter()
        .map(|(i, c, _, _)| (*i, hex_hash(&leaf_hash(c.as_bytes()))))
        .collect();
    let proofs = EntryReceipt::for_indexes(&state, leaves).await?;
    let entries = found
        .into_iter()
        .map(|(index, canonical, restricted, salt)| {
            Ok(CommittingEntry {
                index,
                entry: RawValue::from_string(canonical).map_err(AppError::internal)?,
                restricted: RawValue::from_string(restricted).map_err(AppError::internal)?,
                salt,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(HttpResponse::Ok().json(SubjectProof {
        request_id: id,
        commitment: wanted,
        entries,
        proofs,
    }))
}
