//! `GET /v1/retention`: what retention has done and will do, for auditors and admins.

use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::due::{due, Due};
use super::shred::{candidates, policy_retention};
use crate::auth::{Caller, Role};
use crate::error::{AppError, Problem};
use crate::ledger::entry::format_time;
use crate::state::AppState;
use crate::store::schema::requests;
use crate::store::{per_backend, DbConnection, StoreError};

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RetentionCounts {
    /// Past their retention, not yet shredded (the next sweep shreds them).
    pub due: u64,
    /// Closed (or waiting for a gag to end) and due later.
    pub scheduled: u64,
    /// Under legal hold.
    pub held: u64,
    /// Shredded.
    pub shredded: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyRetention {
    /// SHA-256 of the policy the requests were validated under.
    pub policy_sha256: String,
    #[serde(flatten)]
    pub counts: RetentionCounts,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionStatus {
    /// SHA-256 of the policy in force, whose `[ledger_retention]` applies to every request.
    pub policy_sha256: Option<String>,
    /// Its periods (humantime), or null: that policy forgets nothing.
    pub after_closure: Option<String>,
    pub after_gag: Option<String>,
    /// The earliest instant a request not yet due will be, if any.
    pub next_due: Option<String>,
    pub totals: RetentionCounts,
    /// The same counts by the policy each request was validated under.
    pub by_policy: Vec<PolicyRetention>,
}

fn bump(c: &mut RetentionCounts, d: &Due, now: chrono::DateTime<Utc>) {
    match d {
        Due::Shredded => c.shredded += 1,
        Due::Held => c.held += 1,
        Due::At(at) if *at <= now => c.due += 1,
        Due::At(_) => c.scheduled += 1,
        Due::Open => {}
    }
}

/// The retention status now.
pub fn status(conn: &mut DbConnection) -> Result<RetentionStatus, StoreError> {
    let now = Utc::now();
    let policy = policy_retention(conn)?;
    let sha_in_force = crate::store::queries::current_policy(conn)?.map(|(_, sha, _)| sha);
    let mut by_policy: std::collections::BTreeMap<String, RetentionCounts> = Default::default();
    let mut totals = RetentionCounts::default();
    let mut next_due = None;
    // Every closed or held request not shredded: what is scheduled counts too. An auditor's call;
    // the sweeper's gauge counts only what is due (`shred::all_due`, which reads only
    // what may be).
    for c in candidates(conn, None, None)? {
        // Without a retention in force nothing is due, but holds still count.
        let d = match &policy {
            Some((_, retention)) => due(&c.facts, retention),
            None if c.facts.legal_hold => Due::Held,
            None => Due::Open,
        };
        if let Due::At(at) = d {
            if at > now && next_due.is_none_or(|n| at < n) {
                next_due = Some(at);
            }
        }
        bump(&mut totals, &d, now);
        bump(by_policy.entry(c.policy_sha256).or_default(), &d, now);
    }
    let shredded: Vec<(String, i64)> = per_backend!(conn, c => requests::table
        .filter(requests::shredded_entry.is_not_null())
        .group_by(requests::policy_sha256)
        .select((requests::policy_sha256, diesel::dsl::count_star()))
        .load(c))?;
    for (sha, n) in shredded {
        totals.shredded += n as u64;
        by_policy.entry(sha).or_default().shredded += n as u64;
    }
    Ok(RetentionStatus {
        policy_sha256: sha_in_force,
        after_closure: policy.as_ref().map(|(_, r)| r.after_closure.clone()),
        after_gag: policy.as_ref().map(|(_, r)| r.after_gag.clone()),
        next_due: next_due.map(format_time),
        totals,
        by_policy: by_policy
            .into_iter()
            .map(|(policy_sha256, counts)| PolicyRetention { policy_sha256, counts })
            .collect(),
    })
}

/// What retention has shredded, holds, and will shred; auditors and admins.
#[utoipa::path(
    get, path = "/v1/retention", tag = "retention",
    responses(
        (status = 200, body = RetentionStatus),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/retention")]
pub async fn view(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require(&[Role::Auditor, Role::Admin])?;
    let status = state.read_at_least(0, |conn| Ok(status(conn)?)).await?;
    Ok(HttpResponse::Ok().json(status))
}
