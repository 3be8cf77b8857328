use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, Problem};
use crate::ledger::{hex_hash, merkle, Hash};
use crate::state::AppState;
use crate::store::{queries, with_prefetch, StoreError};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    /// Entry index.
    #[serde(deserialize_with = "crate::body::safe_u64")]
    pub index: u64,
    /// Tree size to prove against (default: the current size).
    #[serde(default, deserialize_with = "crate::body::safe_opt_u64")]
    pub size: Option<u64>,
}

/// RFC 9162 §2.1.3 audit path; hashes are lowercase hex.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub proof: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// Older tree size, at least 1.
    #[serde(deserialize_with = "crate::body::safe_u64")]
    pub from: u64,
    /// Newer tree size, at most the current size.
    #[serde(deserialize_with = "crate::body::safe_u64")]
    pub to: u64,
}

/// RFC 9162 §2.1.4 consistency proof; hashes are lowercase hex.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(hex_hash).collect()
}

/// Proof that an entry is in the tree of a given size.
#[utoipa::path(get, path = "/v1/log/proof/inclusion", tag = "log", params(InclusionParams),
    responses(
        (status = 200, body = InclusionProof),
        (status = 400, description = "Missing or malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Index or size beyond the tree", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/v1/log/proof/inclusion")]
pub async fn inclusion(
    state: web::Data<AppState>,
    params: web::Query<InclusionParams>,
) -> Result<HttpResponse, AppError> {
    let InclusionParams { index, size } = params.into_inner();
    // Without a size the proof is against the whole tree, which must then hold the index.
    let proof = state
        .read_at_least(size.unwrap_or(index.saturating_add(1)), move |conn| {
            let tree = queries::head_size(conn)?;
            let size = size.unwrap_or(tree);
            if size > tree {
                return Err(AppError::not_found(format!(
                    "size {size} is beyond the tree size {tree}"
                )));
            }
            if index >= size {
                return Err(AppError::not_found(format!(
                    "index {index} is not in a tree of size {size}"
                )));
            }
            let (leaf, root, path) = with_prefetch(conn, |r| {
                let leaf = tlog_tiles::HashReader::read_hashes(r, &[merkle::stored_hash_index(0, index)])
                    .map_err(|e| crate::ledger::LedgerError::Proof(e.to_string()))?[0];
                Ok::<_, crate::ledger::LedgerError>((
                    leaf,
                    merkle::root(size, r)?,
                    merkle::inclusion_proof(index, size, r)?,
                ))
            })
            .map_err(StoreError::from)?
            .map_err(AppError::internal)?;
            Ok(InclusionProof {
                index,
                size,
                leaf_hash: hex_hash(&leaf),
                root: hex_hash(&root),
                proof: hexes(&path),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(proof))
}

/// Proof that the tree of size `from` is a prefix of the tree of size `to`.
#[utoipa::path(get, path = "/v1/log/proof/consistency", tag = "log", params(ConsistencyParams),
    responses(
        (status = 200, body = ConsistencyProof),
        (status = 400, description = "Missing or malformed parameter, or from > to", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Size beyond the tree", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/v1/log/proof/consistency")]
pub async fn consistency(
    state: web::Data<AppState>,
    params: web::Query<ConsistencyParams>,
) -> Result<HttpResponse, AppError> {
    let ConsistencyParams { from, to } = params.into_inner();
    if from == 0 {
        return Err(AppError::invalid_parameter("from", "from must be at least 1"));
    }
    if from > to {
        return Err(AppError::invalid_parameter("from", "from must not exceed to"));
    }
    let proof = state
        .read_at_least(to, move |conn| {
            let tree = queries::head_size(conn)?;
            if to > tree {
                return Err(AppError::not_found(format!("size {to} is beyond the tree size {tree}")));
            }
            let path = with_prefetch(conn, |r| merkle::consistency_proof(from, to, r))
                .map_err(StoreError::from)?
                .map_err(AppError::internal)?;
            Ok(ConsistencyProof {
                from,
                to,
                proof: hexes(&path),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(proof))
}
