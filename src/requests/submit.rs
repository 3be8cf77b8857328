use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Duration;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::validate::{validate, AuthorityFacts, Facts, Failure, OrderKey};
use super::vault_rows::{self, RequestWithVault, VaultRow};
use super::{RequestView, SubmitRequest};
use crate::auth::{Caller, Role};
use crate::authorities::{self, key::KeyAlg, STATUS_VERIFIED};
use crate::error::{AppError, FieldError, Problem};
use crate::ledger::{commitment, entry::format_time, hex_hash, identifier};
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::{authority_keys, requests, vault};
use crate::store::{AppendCtx, DbConnection, Hint, NewEntry, StoreError, SubmissionHint};

/// A recorded request and the receipt of its entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestRecorded {
    pub request: RequestView,
    pub receipt: EntryReceipt,
}

fn authority_facts(conn: &mut DbConnection, id: &str) -> Result<Option<AuthorityFacts>, StoreError> {
    Ok(authorities::load_without_keys(conn, id)?.map(facts_of))
}

/// The answers of one read for every hinted submission of a batch, by order digest; each is
/// taken once.
#[allow(clippy::type_complexity)]
struct SubmissionReads(
    std::collections::HashMap<String, Result<Option<(authorities::Authority, bool, bool)>, StoreError>>,
);

/// Submissions on offer in a batch from which one read serves them: it costs three
/// statements, against one per submission.
const BATCH_READ_MIN: usize = 4;

/// [`authorities::load_with_key_and_order_uses`] inside the operation of a submission appended
/// with a [`SubmissionHint`]: on PostgreSQL, the first such operation of a batch that offers at
/// least [`BATCH_READ_MIN`] reads the answers of all of them (three statements) and each takes
/// its own, instead of one round trip each under the head lock. SQLite, in process, reads each.
fn issuer_with_order_uses(
    ctx: &mut AppendCtx<'_>,
    issuer: &str,
    kid: &str,
    order_sha256: &str,
    not_this: &str,
    requester: Option<&str>,
) -> Result<Option<(authorities::Authority, bool, bool)>, StoreError> {
    let hinted = not_this.is_empty()
        && ctx.reads.worth_one_read(ctx.conn, BATCH_READ_MIN, |h| {
            matches!(h, Hint::Submission(s) if s.order_sha256 == order_sha256
                && s.issuer == issuer && s.kid == kid && s.requester.as_deref() == requester)
        });
    if hinted && ctx.reads.memo::<SubmissionReads>().is_none() {
        let wanted: Vec<(&str, &str, &str, Option<&str>)> = ctx
            .reads
            .hints()
            .iter()
            .filter_map(|h| match h {
                Hint::Submission(s) => Some((
                    s.issuer.as_str(),
                    s.kid.as_str(),
                    s.order_sha256.as_str(),
                    s.requester.as_deref(),
                )),
                _ => None,
            })
            .collect();
        let memo = authorities::load_many_with_key_and_order_uses(ctx.conn, &wanted)?;
        ctx.reads.set_memo(SubmissionReads(memo));
    }
    if hinted {
        if let Some(SubmissionReads(answers)) = ctx.reads.memo::<SubmissionReads>() {
            if let Some(answer) = answers.remove(order_sha256) {
                return answer;
            }
        }
    }
    authorities::load_with_key_and_order_uses(ctx.conn, issuer, kid, order_sha256, not_this, requester)
}

fn facts_of(a: authorities::Authority) -> AuthorityFacts {
    AuthorityFacts {
        verified: a.status == STATUS_VERIFIED,
        id: a.id,
        country: a.country,
        kind: a.kind,
        judicial: a.judicial,
    }
}

fn order_key(conn: &mut DbConnection, issuer: &str, kid: &str) -> Result<Option<OrderKey>, StoreError> {
    type Row = (String, String, String, Option<String>, Option<String>);
    let row: Option<Row> = authority_keys::table
        .filter(authority_keys::authority_id.eq(issuer).and(authority_keys::kid.eq(kid)))
        .select((
            authority_keys::alg,
            authority_keys::jwk,
            authority_keys::not_before,
            authority_keys::not_after,
            authority_keys::revoked_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(alg, jwk, not_before, not_after, revoked_at)| {
        Some(OrderKey {
            alg: KeyAlg::parse(&alg)?,
            jwk: serde_json::from_str(&jwk).ok()?,
            not_before,
            not_after,
            revoked_at,
        })
    }))
}

/// Instruments and data categories the request row and its entries may name; anything else a
/// caller sent (rules V5 have already judged the raw value) is kept as `other`, because a
/// free-text field can hold an identifier.
pub(crate) const INSTRUMENTS: &[&str] = &[
    "court_order",
    "investigating_judge_order",
    "production_order",
    "preservation_request",
    "subpoena",
    "other",
];
pub(crate) const CATEGORIES: &[&str] = &["ip_address", "phone_number", "username", "user_id", "content", "other"];

fn public_term<'a>(value: &'a str, known: &[&'static str]) -> &'a str {
    if known.contains(&value) {
        value
    } else {
        "other"
    }
}

/// The members of a JSON object built with `json!`, as a [`NewEntry`]'s `public` wants them.
pub(crate) fn object(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A stable pseudonym for the submitting officer: enough to tell officers apart in an audit,
/// not their name.
fn officer_pseudonym(authority: &str, sub: &str) -> String {
    hex::encode(&Sha256::digest(format!("disclosure-ledger:officer:v1\0{authority}\0{sub}"))[..12])
}

/// Failures of one rule kept in full; beyond them the rule's failures are counted in one.
const FAILURES_PER_RULE: usize = 5;

/// Each rule's failures as stored and answered: the first few in full, then one that counts
/// the rest, so that a list of 1,000 bad elements costs six rows, not 1,000.
fn collapse(failures: Vec<super::validate::Failure>) -> Vec<super::validate::Failure> {
    let mut out: Vec<super::validate::Failure> = Vec::new();
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for f in failures {
        let seen = match counts.iter_mut().find(|(rule, _)| *rule == f.rule) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counts.push((f.rule, 1));
                1
            }
        };
        if seen <= FAILURES_PER_RULE {
            out.push(f);
        }
    }
    for (rule, n) in counts.into_iter().filter(|(_, n)| *n > FAILURES_PER_RULE) {
        let first = out.iter().find(|f| f.rule == rule);
        let code = first.map_or("failed", |f| f.code);
        // The list the failures are in: `targets` for `targets[7].value`.
        let field = first
            .map(|f| f.field.split(['[', '.']).next().unwrap_or_default().to_string())
            .unwrap_or_default();
        out.push(super::validate::Failure {
            rule,
            field,
            code,
            message: format!("and {} more failures of this rule", n - FAILURES_PER_RULE),
        });
    }
    out
}

/// One submission (or amendment) as the sequencer records it.
pub(super) struct Submission {
    pub body: SubmitRequest,
    /// The officer's authority, from the token.
    pub authority: Option<String>,
    pub sub: String,
    pub idempotency_key: Option<String>,
    pub request_sha256: String,
    /// The id of a request in `clarification_requested` that this body replaces.
    pub amending: Option<String>,
    /// See [`Facts::order_verified_with`]; from [`verify_order_early`].
    pub order_verified_with: Option<Value>,
}

/// Before the head lock: verifies the order's signature with the issuing authority's key
/// `kid` and returns that key's JWK when it verifies. The key is the one kept in
/// [`AppState::order_keys`] when the signature verifies with it; otherwise it is read on the
/// blocking pool (and kept). Under the lock the key is read again; only if it is the same JWK
/// is the verification not repeated, so a key changed in between (or kept from before a
/// change) is judged afresh. Everything else of V3 (validity windows, revocation) is judged
/// under the lock.
///
/// The verification itself runs on the async worker: one signature check of a statement of
/// bounded size (a hash of the order's scope, not the body; Ed25519 about 50 µs here, ES256
/// a few times that), less than handing it to the blocking pool costs.
pub(super) async fn verify_order_early(state: &AppState, body: &SubmitRequest) -> Result<Option<Value>, AppError> {
    let (Some(issuer), Some(order)) = (body.issuing_authority.clone(), body.order.clone()) else {
        return Ok(None);
    };
    let Ok(statement) = super::order_statement::statement(state.signer.origin(), body) else {
        return Ok(None);
    };
    let kept = state.order_keys.get(&issuer, &order.kid);
    if let Some(key) = &kept {
        if super::validate::signature_valid(key, statement.as_bytes(), &order.signature) {
            return Ok(Some(key.jwk.clone()));
        }
        // Not with the key kept: read it again, in case it is no longer the stored one.
    }
    let (i, kid) = (issuer.clone(), order.kid.clone());
    let Some(key) = state.read(move |conn| Ok(order_key(conn, &i, &kid)?)).await? else {
        return Ok(None);
    };
    if kept.is_some_and(|k| k.alg == key.alg && k.jwk == key.jwk) {
        // The same key: it was just refused.
        return Ok(None);
    }
    state.order_keys.put(&issuer, &order.kid, key.clone());
    Ok(super::validate::signature_valid(&key, statement.as_bytes(), &order.signature).then_some(key.jwk))
}

pub(super) struct Outcome {
    pub view: RequestView,
    pub failures: Vec<Failure>,
}

/// The append operation: validate under the head lock (so V12 sees every earlier request),
/// store the row and the vault, and return `request.received` plus `request.validated` or
/// `request.rejected`.
/// `amending`: the id of a request in `clarification_requested` that this body replaces; it
/// keeps its id, receipt time and deadline, and its first entry is `request.amended`.
/// `None` (nothing written): the submission's `Idempotency-Key` already names another request
/// of its authority, found by the unique index as the row is inserted rather than by a read
/// before it (under the head lock every statement is a round trip on PostgreSQL). That insert
/// must stay the first write of this function, so that `None` leaves nothing behind.
pub(super) fn record(
    ctx: &mut AppendCtx<'_>,
    submission: Submission,
) -> Result<Option<(Outcome, Vec<NewEntry>)>, AppError> {
    let Submission {
        body,
        authority,
        sub,
        idempotency_key,
        request_sha256,
        amending,
        order_verified_with,
    } = submission;
    // The entries' own instant: their time, the quarter and the deadline agree.
    let now = ctx.time;
    let (_, policy_sha256, policy) =
        crate::policy::in_force_for(ctx)?.ok_or_else(|| AppError::internal("no policy in force"))?;
    // The issuer, the order's key and rule V12's question (does another request already use
    // this order?) in one read; a court submitting its own order (the usual case) is also the
    // requester, read once.
    let not_this = amending.clone().unwrap_or_default();
    let mut order_uses = None;
    let (issuer, key) = match (body.issuing_authority.as_deref(), &body.order) {
        (Some(i), Some(o)) if !i.is_empty() => {
            match issuer_with_order_uses(ctx, i, &o.kid, &o.document_sha256, &not_this, authority.as_deref())? {
                Some((mut a, other, same)) => {
                    order_uses = Some((other, same));
                    let key = a.keys.pop().map(|k| OrderKey {
                        alg: k.alg,
                        jwk: k.jwk,
                        not_before: k.not_before,
                        not_after: k.not_after,
                        revoked_at: k.revoked_at,
                    });
                    (Some(facts_of(a)), key)
                }
                None => (None, None),
            }
        }
        (Some(i), None) if !i.is_empty() => (authority_facts(ctx.conn, i)?, None),
        _ => (None, None),
    };
    let requester = match &authority {
        Some(a) if issuer.as_ref().is_some_and(|i| &i.id == a) => issuer.clone(),
        Some(a) => authority_facts(ctx.conn, a)?,
        None => None,
    };
    let (other, same) = match (order_uses, &body.order) {
        (Some(uses), _) => uses,
        (None, Some(o)) => authorities::order_uses(ctx.conn, &o.document_sha256, &not_this, authority.as_deref())?,
        (None, None) => (false, false),
    };
    // Normalise and commit each identifier; a value that does not normalise is counted but
    // never stored.
    let mut problems = Vec::new();
    let mut committed = Vec::new();
    for (i, t) in body.targets.iter().flatten().enumerate() {
        // A national phone number is read as the requesting authority's country writes it.
        let country = requester.as_ref().map(|r| r.country.as_str());
        match identifier::normalize_in(&t.kind, &t.value, country) {
            Ok(normalised) => {
                let nonce = commitment::fresh_nonce();
                let c = hex_hash(&commitment::identifier(&t.kind, &nonce, &normalised));
                committed.push((t.kind.clone(), normalised, nonce, c));
            }
            Err(e) => problems.push((i, e.to_string())),
        }
    }
    let facts = Facts {
        requester: requester.clone(),
        issuer,
        order_key: key,
        same_order_from_other_authority: other,
        same_order_from_same_authority: same,
        target_problems: problems,
        now,
        origin: ctx.origin.to_string(),
        order_verified_with,
    };
    let failures = collapse(validate(&policy, &body, &facts));
    let passed = failures.is_empty();

    // Time-ordered (RFC 9562 §5.7): a new id lands at the end of the B-trees keyed by it (the
    // requests and vault tables, `entries_by_subject`), so a batch dirties their last pages
    // instead of one random page per index; random v4 ids cost about a sixth of the
    // submissions' throughput on SQLite. The millisecond it carries is public anyway, as the
    // time of the request's first entry.
    let id = amending.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let emergency = body.emergency.is_some();
    let hours = if emergency {
        policy.deadlines.emergency_hours
    } else {
        policy.deadlines.normal_hours
    };
    let due_at = format_time(now + Duration::hours(hours));
    let received_at = format_time(now);
    let instrument = public_term(body.instrument.as_deref().unwrap_or_default(), INSTRUMENTS).to_string();
    let country = requester.as_ref().map(|r| r.country.clone()).unwrap_or_default();
    let authority_kind = requester.as_ref().map(|r| r.kind.as_str()).unwrap_or("unknown");
    let categories: Vec<String> = body
        .data_categories
        .iter()
        .flatten()
        .map(|c| public_term(c, CATEGORIES).to_string())
        .collect();
    let status = if passed { "under_review" } else { "rejected" };
    let failed_rules: Vec<&str> = {
        let mut r: Vec<&str> = failures.iter().map(|f| f.rule).collect();
        r.dedup();
        r
    };
    let mut reasons: Vec<&str> = failures.iter().map(|f| f.code).collect();
    reasons.sort();
    reasons.dedup();
    let authority_id = authority.clone().unwrap_or_default();

    let expires_at = body
        .expires_at
        .as_deref()
        .and_then(crate::ledger::entry::parse_instant)
        .map(format_time);
    let failed_json = json!(failures.iter().map(field_error).collect::<Vec<_>>()).to_string();
    // The vault keeps raw identifiers only for requests that may lead to a disclosure: a
    // refused request leaves none, and an amendment replaces what the request held before.
    let vault_rows: Vec<VaultRow> = committed
        .iter()
        .filter(|_| passed)
        .map(|(kind, normalised, nonce, c)| VaultRow {
            kind: kind.clone(),
            value: normalised.clone(),
            nonce: nonce.to_vec(),
            commitment: c.clone(),
        })
        .collect();
    let (received_at, due_at) = if let Some(existing) = &amending {
        // The amended request keeps when it was received and its deadline.
        let (received_at, due_at): (String, String) = requests::table
            .filter(requests::id.eq(existing))
            .select((requests::received_at, requests::due_at))
            .first(ctx.conn)
            .map_err(StoreError::from)?;
        diesel::update(requests::table.filter(requests::id.eq(existing)))
            .set((
                requests::issuing_authority_id.eq(body.issuing_authority.as_deref().filter(|s| !s.is_empty())),
                requests::instrument.eq(&instrument),
                requests::emergency.eq(emergency),
                requests::status.eq(status),
                requests::order_sha256.eq(body.order.as_ref().map(|o| o.document_sha256.clone())),
                requests::policy_sha256.eq(&policy_sha256),
                requests::data_categories.eq(json!(categories).to_string()),
                requests::identifiers.eq(body.targets.as_ref().map_or(0, |t| t.len() as i32)),
                requests::failed_rules.eq(&failed_json),
                requests::expires_at.eq(&expires_at),
                // A first approval of a four-eyes review covered the order as it was.
                requests::first_approver.eq(None::<String>),
            ))
            .execute(ctx.conn)
            .map_err(StoreError::from)?;
        diesel::delete(vault::table.filter(vault::request_id.eq(&id)))
            .execute(ctx.conn)
            .map_err(StoreError::from)?;
        vault_rows::insert_each(ctx.conn, &id, &vault_rows, &received_at)?;
        (received_at, due_at)
    } else {
        let row = (
            requests::id.eq(&id),
            requests::authority_id.eq(&authority_id),
            requests::issuing_authority_id.eq(body.issuing_authority.as_deref().filter(|s| !s.is_empty())),
            requests::officer.eq(officer_pseudonym(&authority_id, &sub)),
            requests::instrument.eq(&instrument),
            requests::country.eq(&country),
            requests::emergency.eq(emergency),
            requests::status.eq(status),
            requests::order_sha256.eq(body.order.as_ref().map(|o| o.document_sha256.clone())),
            requests::policy_sha256.eq(&policy_sha256),
            requests::received_at.eq(&received_at),
            requests::due_at.eq(&due_at),
            requests::data_categories.eq(json!(categories).to_string()),
            requests::identifiers.eq(body.targets.as_ref().map_or(0, |t| t.len() as i32)),
            requests::failed_rules.eq(&failed_json),
            requests::idempotency_key.eq(&idempotency_key),
            requests::expires_at.eq(&expires_at),
            requests::request_sha256.eq(&request_sha256),
        );
        // Any other conflict is impossible: `id` is a fresh UUID. On PostgreSQL the vault rows
        // are written by the same statement, and only if the request's row was.
        let inserted = match &mut *ctx.conn {
            DbConnection::Postgresql(c) => RequestWithVault::new(
                diesel::insert_into(requests::table)
                    .values(row)
                    .on_conflict_do_nothing(),
                &vault_rows,
                &received_at,
            )
            .get_result::<i64>(c),
            DbConnection::Sqlite(c) => diesel::insert_into(requests::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)
                .map(|n| n as i64),
        }
        .map_err(StoreError::from)?;
        if inserted == 0 {
            return Ok(None);
        }
        if let DbConnection::Sqlite(_) = ctx.conn {
            vault_rows::insert_each(ctx.conn, &id, &vault_rows, &received_at)?;
        }
        (received_at, due_at)
    };

    let restricted = json!({
        "authority": authority_id,
        "officer": officer_pseudonym(&authority_id, &sub),
        "issuing_authority": body.issuing_authority,
        "judge_or_prosecutor": body.judge_or_prosecutor,
        "case_reference": body.file_number,
        "citation": body.legal_citation,
        "offence": body.offence_category,
        "criminal_case": body.criminal_case,
        "suspect": body.suspect,
        "terms_breach": body.terms_breach,
        "time_range": body.time_range,
        "issued_at": body.issued_at,
        "expires_at": body.expires_at,
        "emergency": body.emergency,
        "non_disclosure": body.non_disclosure,
        "order": body.order,
        "identifiers": committed.iter().map(|(kind, _, _, c)| json!({ "kind": kind, "commitment": c })).collect::<Vec<_>>(),
        "identifiers_not_normalised": facts.target_problems.len(),
        "due_at": due_at,
    });
    let received = NewEntry {
        kind: if amending.is_some() {
            "request.amended"
        } else {
            "request.received"
        }
        .into(),
        subject: Some(id.clone()),
        public: object(json!({
            "country": country,
            "authority_kind": authority_kind,
            "instrument": instrument,
            "emergency": emergency,
            "data_categories": categories,
            "identifiers": body.targets.as_ref().map_or(0, |t| t.len()),
            "quarter": crate::reports::tally::quarter_of(now),
        })),
        restricted: Some(restricted),
    };
    let decision = if passed {
        NewEntry {
            kind: "request.validated".into(),
            subject: Some(id.clone()),
            public: object(json!({ "result": "pass", "failed_rules": [], "policy_sha256": policy_sha256 })),
            restricted: None,
        }
    } else {
        NewEntry {
            kind: "request.rejected".into(),
            subject: Some(id.clone()),
            public: object(json!({
                "result": "fail",
                "failed_rules": failed_rules,
                "reasons": reasons,
                "policy_sha256": policy_sha256,
            })),
            restricted: None,
        }
    };
    let view = RequestView {
        id,
        status: status.to_string(),
        authority: authority_id,
        issuing_authority: body.issuing_authority.filter(|s| !s.is_empty()),
        instrument,
        country,
        emergency,
        data_categories: categories,
        identifiers: body.targets.as_ref().map_or(0, |t| t.len() as i32),
        received_at,
        due_at,
        policy_sha256,
        failed_rules: failed_rules.iter().map(|s| s.to_string()).collect(),
    };
    Ok(Some((Outcome { view, failures }, vec![received, decision])))
}

/// Submit a disclosure request. Validation (V1–V12 of the policy in force) is recorded either
/// way: 201 with a receipt when it passes, 422 listing every failed rule — with the same
/// receipt — when it does not.
#[utoipa::path(
    post, path = "/v1/requests", tag = "requests",
    request_body = SubmitRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    responses(
        (status = 201, body = RequestRecorded),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an officer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Recorded and rejected: every failed rule, plus `request` and `receipt`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/v1/requests")]
pub async fn submit(
    state: web::Data<AppState>,
    caller: Caller,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let claims = caller.require(&[Role::Officer])?.clone();
    let wait = crate::log::Wait::from_query(&http)?;
    let body: SubmitRequest = crate::body::json(&http, payload).await?;
    let shape = body.shape_errors();
    if !shape.is_empty() {
        return Err(AppError::unprocessable(
            "the request exceeds the ledger's shape limits; nothing was recorded",
            shape,
        ));
    }
    // A key is per authority: an officer token without one (its submission is rejected)
    // gets no replay, rather than another such caller's answer.
    let idempotency_key = super::transition::idempotency_key(&http)?.filter(|_| claims.authority.is_some());
    let request_sha256 = hex::encode(Sha256::digest(serde_json::to_vec(&body).map_err(AppError::internal)?));
    // No read for an earlier use of the key before the operation: the requests' unique index
    // finds it as the row is inserted, under the head lock, and `record` then writes nothing
    // and the first answer is replayed below (or 409 for another body). A retry costs a
    // refused insert; every first submission is spared a read.
    let order_verified_with = verify_order_early(&state, &body).await?;
    let authority = claims.authority.clone();
    let sub = claims.sub.clone();
    let (key, sha) = (idempotency_key.clone(), request_sha256.clone());
    // What the operation reads (its issuer and rule V12's question) and writes (a new request
    // under this key): see `SubmissionHint`.
    let hint = match (body.issuing_authority.as_deref(), &body.order) {
        (Some(i), Some(o)) if !i.is_empty() => Some(Hint::Submission(SubmissionHint {
            issuer: i.to_string(),
            kid: o.kid.clone(),
            order_sha256: o.document_sha256.clone(),
            requester: authority.clone(),
            idempotency: idempotency_key
                .clone()
                .map(|k| (authority.clone().unwrap_or_default(), k)),
        })),
        _ => None,
    };
    let appended = state
        .sequencer
        .append_hinted(hint, move |ctx| {
            // Of concurrent submissions with one key exactly one is recorded, and every other
            // one replays its answer: the key's unique index decides, under the head lock.
            let submission = Submission {
                body,
                authority,
                sub,
                idempotency_key,
                request_sha256,
                amending: None,
                order_verified_with,
            };
            Ok::<_, AppError>(record(ctx, submission)?.map_or((None, Vec::new()), |(o, e)| (Some(o), e)))
        })
        .await;
    let (outcome, appended) = match appended {
        Ok(done) => done,
        // A retry is answered even when its operation could not run (the writer's queue
        // full, the writer without its database, a batch that failed): retries come exactly
        // then. The first answer (or 409 for another body) if there is one, else the error.
        Err(e) => {
            if let (Some(key), Some(authority)) = (&key, &claims.authority) {
                match super::get::replay(&state, authority, key, &sha).await {
                    Ok(Some(first)) => return Ok(first),
                    Err(other_body) if other_body.status() == actix_web::http::StatusCode::CONFLICT => {
                        return Err(other_body)
                    }
                    _ => {}
                }
            }
            return Err(e);
        }
    };
    let Some(outcome) = outcome else {
        let (key, authority) = (key.unwrap_or_default(), claims.authority.clone().unwrap_or_default());
        return super::get::replay(&state, &authority, &key, &sha)
            .await?
            .ok_or_else(|| AppError::internal("an idempotent submission vanished"));
    };
    let receipt = EntryReceipt::for_appended(&state, &appended)
        .await?
        .cosigned(&state, wait)
        .await?;
    Ok(respond(
        outcome.view,
        outcome.failures.iter().map(field_error).collect(),
        receipt,
        false,
    ))
}

pub(super) fn field_error(f: &Failure) -> FieldError {
    FieldError {
        field: f.field.clone(),
        code: f.code.to_string(),
        message: format!("{}: {}", f.rule, f.message),
    }
}

/// 201 (or 200 for a replay) when the request passed validation (no `errors`), else 422
/// problem+json with the failed rules and the same `request` and `receipt` members.
pub(super) fn respond(view: RequestView, errors: Vec<FieldError>, receipt: EntryReceipt, replay: bool) -> HttpResponse {
    if errors.is_empty() {
        // Written straight from the structs, not through a `Value` first.
        let status = if replay {
            actix_web::http::StatusCode::OK
        } else {
            actix_web::http::StatusCode::CREATED
        };
        return HttpResponse::build(status)
            .content_type("application/json")
            .json(RequestRecorded { request: view, receipt });
    }
    let (status, body) = respond_parts(view, errors, receipt, replay);
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(body)
}

/// The status and body of [`respond`]: 201 (200 for a replay) with the request and its
/// receipt, or 422 problem+json carrying them when validation failed (`errors`).
pub(super) fn respond_parts(
    view: RequestView,
    errors: Vec<FieldError>,
    receipt: EntryReceipt,
    replay: bool,
) -> (actix_web::http::StatusCode, serde_json::Value) {
    use actix_web::http::StatusCode;
    if errors.is_empty() {
        let status = if replay { StatusCode::OK } else { StatusCode::CREATED };
        let body = serde_json::to_value(RequestRecorded { request: view, receipt }).unwrap_or_default();
        return (status, body);
    }
    let problem = AppError::unprocessable(
        "the request fails the policy's rules; it is recorded as rejected",
        errors,
    )
    .problem();
    let mut body = serde_json::to_value(problem).unwrap_or_default();
    body["request"] = serde_json::to_value(&view).unwrap_or_default();
    body["receipt"] = serde_json::to_value(&receipt).unwrap_or_default();
    (StatusCode::UNPROCESSABLE_ENTITY, body)
}
