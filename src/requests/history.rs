use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::ledger::{entry::leaf_hash, hex_hash};
use crate::log::EntryReceipt;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestHistory {
    /// The request's entries, in order, as their canonical JSON objects.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Box<RawValue>>,
    /// Inclusion proofs of those entries against one signed checkpoint.
    pub proofs: EntryReceipt,
}

/// A request's history: every entry about it, each with an inclusion proof against the same
/// newest signed checkpoint. Officers see only their own authority's requests.
#[utoipa::path(
    get, path = "/v1/requests/{id}/entries", tag = "requests",
    params(("id" = String, Path, description = "Request id")),
    responses(
        (status = 200, body = RequestHistory),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/requests/{id}/entries")]
pub async fn history(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Officer, Role::Reviewer, Role::Auditor])?.clone();
    let id = id.into_inner();
    let viewer = super::get::viewer(&claims);
    let (leaves, texts) = state
        .read_at_least(0, move |conn| {
            // The officer's authority is part of the lookup: another authority's request costs
            // what a missing one does, nothing of it is read.
            super::get::load_visible(conn, &id, viewer.as_deref())?
                .ok_or_else(|| AppError::not_found("no request with that id"))?;
            // The texts and their leaf hashes from one read.
            let (leaves, texts): (Vec<_>, Vec<_>) = super::get::entry_texts(conn, &id)?
                .into_iter()
                .map(|(i, c)| ((i, hex_hash(&leaf_hash(c.as_bytes()))), c))
                .unzip();
            Ok((leaves, texts))
        })
        .await?;
    let entries = texts
        .into_iter()
        .map(|t| RawValue::from_string(t).map_err(AppError::internal))
        .collect::<Result<_, _>>()?;
    let proofs = EntryReceipt::for_indexes(&state, leaves).await?;
    Ok(HttpResponse::Ok().json(RequestHistory { entries, proofs }))
}
