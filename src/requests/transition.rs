//! The lifecycle state machine (DESIGN §2). Every transition is one entry written in the same
//! transaction as the state change, checked against the current state under the head lock;
//! an illegal transition is 409 naming the current state.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::get::load_visible;
use super::submit::RequestRecorded;
use super::transition_rows::{key_taken, read_current_in, write_change_in, Claim, RequestChanges, StoredClaim};
use crate::auth::Claims;
use crate::error::AppError;
use crate::log::EntryReceipt;
use crate::state::AppState;
use crate::store::schema::vault;
use crate::store::{per_backend, AppendCtx, Hint, NewEntry, RequestHint, StoreError};

/// What a transition sees of the request.
pub(super) struct Current {
    pub status: String,
    pub emergency: bool,
    pub data_categories: Vec<String>,
    pub identifiers: i32,
    pub approved_categories: Option<Vec<String>>,
    pub notification: String,
    /// SHA-256 of the policy in force now.
    pub policy_sha256: String,
    /// The policy in force asks two distinct reviewers to approve an emergency request.
    pub four_eyes_emergency: bool,
    /// The reviewer whose approval is the first of two.
    pub first_approver: Option<String>,
    /// What that first approval covered: its categories and number of identifiers.
    pub first_approval: Option<(Vec<String>, i32)>,
    /// Commitments of the request's identifiers (vault); read only for a transition that
    /// asks for them (see [`apply`]), else empty.
    pub commitments: Vec<String>,
}

/// An `Idempotency-Key` retry of a transition: the key (per token subject), the action, and
/// the digest of the body. The same key with the same action, request and body replays the
/// first answer; with anything else it is 409.
#[derive(Clone)]
pub(super) struct Retry {
    pub key: String,
    pub action: &'static str,
    pub body_sha256: String,
}

impl Retry {
    /// The retry a request asks for, if any: `Idempotency-Key` of 1 to 200 visible ASCII
    /// characters.
    pub fn from_request(
        req: &actix_web::HttpRequest,
        action: &'static str,
        body_sha256: String,
    ) -> Result<Option<Retry>, AppError> {
        Ok(idempotency_key(req)?.map(|key| Retry {
            key,
            action,
            body_sha256,
        }))
    }
}

/// The request's `Idempotency-Key`, if any: 1 to 200 visible ASCII characters, else 400.
pub fn idempotency_key(req: &actix_web::HttpRequest) -> Result<Option<String>, AppError> {
    let Some(v) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| AppError::bad_request("Idempotency-Key must be 1 to 200 visible ASCII characters"))
}

/// The op's outcome: applied now, or a retry of one applied before (its entry's index).
enum Applied {
    Now(Box<super::RequestView>),
    Before(u64),
}

/// What a transition changes, and the entry that records it.
#[derive(Clone)]
pub(super) struct Change {
    pub status: Option<&'static str>,
    pub approved_categories: Option<Vec<String>>,
    pub notification: Option<&'static str>,
    pub first_approver: Option<String>,
    pub kind: &'static str,
    pub public: Map<String, Value>,
    pub restricted: Option<Value>,
}

impl Change {
    /// An entry without a change of status (notifications).
    pub fn entry_only(kind: &'static str, public: Value) -> Self {
        Change {
            status: None,
            ..Change::to("", kind, public)
        }
    }

    pub fn to(status: &'static str, kind: &'static str, public: Value) -> Self {
        Change {
            status: (!status.is_empty()).then_some(status),
            approved_categories: None,
            notification: None,
            first_approver: None,
            kind,
            public: public.as_object().cloned().unwrap_or_default(),
            restricted: None,
        }
    }
}

/// The scope of the pending first approval of a four-eyes request, from its entry: one an
/// earlier operation of this batch appended, else the newest in the table. (Read from the
/// table alone, a second approval in the batch of the first found none and was not narrowed
/// to it.)
fn first_approval_scope(ctx: &mut AppendCtx<'_>, id: &str) -> Result<Option<(Vec<String>, i32)>, StoreError> {
    use crate::store::schema::entries;
    let public = match ctx.newest_staged(id, "request.approved") {
        Some(e) => e.public.clone(),
        None => {
            let canonical: Option<String> = entries::table
                .filter(entries::subject.eq(id))
                .filter(entries::kind.eq("request.approved"))
                .order(entries::idx.desc())
                .select(entries::canonical)
                .first(ctx.conn)
                .optional()?;
            let Some(canonical) = canonical else { return Ok(None) };
            let v: Value = serde_json::from_str(&canonical).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            v["public"].as_object().cloned().unwrap_or_default()
        }
    };
    let public = Value::Object(public);
    let categories = public["data_categories"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let identifiers = public["identifiers"].as_i64().unwrap_or(0) as i32;
    Ok(Some((categories, identifiers)))
}

/// 409 unless the request is in one of `from`.
pub(super) fn require_state(current: &Current, from: &[&str]) -> Result<(), AppError> {
    if from.contains(&current.status.as_str()) {
        Ok(())
    } else {
        Err(AppError::conflict(format!(
            "illegal transition: the request is {}",
            current.status
        )))
    }
}

/// Runs `decide` on the current state of request `id` and commits its change with its entry.
/// Officers may act only on their own authority's requests (others are 404 to them).
pub(super) async fn apply<F>(
    state: web::Data<AppState>,
    claims: Claims,
    id: String,
    retry: Option<Retry>,
    wait: crate::log::Wait,
    with_commitments: bool,
    decide: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&Current) -> Result<Change, AppError> + Clone + Send + 'static,
{
    let op_id = id.clone();
    // iss and sub hold no control character (checked), so a newline separates them.
    let subject = format!("{}\n{}", claims.iss, claims.sub);
    let asked = retry.clone().map(|r| (subject.clone(), r));
    let viewer = super::get::viewer(&claims);
    // The operation reads and writes only this request and this claim (`RequestHint`).
    let hint = RequestHint {
        request: id.clone(),
        claim: retry.as_ref().map(|r| (subject.clone(), r.key.clone())),
    };
    let appended = state
        .sequencer
        .append_hinted(Some(Hint::Transition(hint)), move |ctx: &mut AppendCtx<'_>| -> Result<_, AppError> {
            let claim = retry.as_ref().map(|r| Claim {
                subject: &subject,
                retry: r,
                entry_index: ctx.next_index as i64,
            });
            let Some(((view, rules), stored)) = read_current_in(ctx, &op_id, claim.as_ref())? else {
                return Err(AppError::not_found("no request with that id"));
            };
            let (approved_categories, notification, first_approver, shredded_entry) = rules;
            let (mut view, _) = super::get::view_of(view)?;
            if claims.role == crate::auth::Role::Officer && claims.authority.as_deref() != Some(view.authority.as_str()) {
                return Err(AppError::not_found("no request with that id"));
            }
            // A retry is recognised under the head lock, before any rule: of concurrent calls
            // with one key exactly one applies, and the others find its claim here.
            if let (Some(r), Some((action, request, digest, index))) = (&retry, stored) {
                if action == r.action && request == op_id && digest == r.body_sha256 {
                    return Ok((Applied::Before(index as u64), Vec::new()));
                }
                return Err(key_taken());
            }
            // After retention nothing more is recorded of a request: a notification "sent"
            // once the nonce is destroyed would claim what the user can no longer check.
            if let Some(n) = shredded_entry {
                return Err(AppError::gone(format!(
                    "the request's data was destroyed at the end of retention by entry {n}; nothing more can be recorded of it"
                )));
            }
            let (_, policy_sha256, policy) =
                crate::policy::in_force_for(ctx)?.ok_or_else(|| AppError::internal("no policy"))?;
            let parse =
                |s: &str| serde_json::from_str::<Vec<String>>(s).map_err(|e| StoreError::Corrupt(e.to_string()));
            let current = Current {
                status: view.status.clone(),
                emergency: view.emergency,
                data_categories: view.data_categories.clone(),
                identifiers: view.identifiers,
                approved_categories: approved_categories.as_deref().map(parse).transpose()?,
                notification,
                policy_sha256,
                four_eyes_emergency: policy.review.four_eyes_emergency,
                first_approval: match &first_approver {
                    Some(_) => first_approval_scope(ctx, &op_id)?,
                    None => None,
                },
                first_approver,
                // Under the head lock each read is a round trip on PostgreSQL: only the
                // disclosure needs them.
                commitments: if with_commitments {
                    per_backend!(&mut *ctx.conn, c => vault::table
                        .filter(vault::request_id.eq(&op_id))
                        .select(vault::commitment)
                        .load(c))
                    .map_err(StoreError::from)?
                } else {
                    Vec::new()
                },
            };
            let change = decide(&current)?;
            // Nothing is written before every rule has passed: a refused transition leaves
            // nothing, and its key stays unclaimed for a retry that may later apply.
            let changes = RequestChanges {
                status: change.status,
                approved_categories: change
                    .approved_categories
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(AppError::internal)?,
                first_approver: change.first_approver.as_deref(),
                notification: change.notification,
            };
            write_change_in(ctx, &op_id, &changes, claim.as_ref())?;
            // The one column of the view a transition changes.
            if let Some(status) = change.status {
                view.status = status.to_string();
            }
            let entry = NewEntry {
                kind: change.kind.to_string(),
                subject: Some(op_id.clone()),
                public: change.public,
                restricted: change.restricted,
            };
            Ok((Applied::Now(Box::new(view)), vec![entry]))
        })
        .await;
    let (view, appended) = match appended {
        Ok(done) => done,
        // A retry is answered even when its operation could not run (the writer's queue full,
        // the writer without its database, a batch that failed): retries come exactly then.
        // The first answer (or 409 for another call) if its key was claimed, else the error.
        Err(e) if e.status().is_server_error() => {
            let Some((subject, retry)) = asked else { return Err(e) };
            return match claimed(&state, subject, retry.key.clone()).await {
                Ok(Some((action, request, digest, index))) => {
                    if action == retry.action && request == id && digest == retry.body_sha256 {
                        answer_before(&state, id, viewer, index as u64).await
                    } else {
                        Err(key_taken())
                    }
                }
                _ => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    match view {
        Applied::Now(view) => {
            let receipt = EntryReceipt::for_appended(&state, &appended)
                .await?
                .cosigned(&state, wait)
                .await?;
            Ok(HttpResponse::Ok().json(RequestRecorded {
                request: *view,
                receipt,
            }))
        }
        Applied::Before(index) => answer_before(&state, id, viewer, index).await,
    }
}

/// The stored claim of `key` for `subject` (action, request, body digest, entry index), read
/// from the primary: it answers a write whose first call another process may have made a
/// moment ago.
async fn claimed(state: &AppState, subject: String, key: String) -> Result<Option<StoredClaim>, AppError> {
    use crate::store::schema::idempotency_keys as k;
    state
        .read(move |conn| {
            Ok(k::table
                .filter(k::subject.eq(&subject).and(k::idem_key.eq(&key)))
                .select((k::action, k::request_id, k::body_sha256, k::entry_index))
                .first(conn)
                .optional()
                .map_err(StoreError::from)?)
        })
        .await
}

/// The first answer again: the request as it is now, and the receipt of the entry the first
/// call appended at `index`. An officer sees only its own authority's requests (`viewer`).
async fn answer_before(
    state: &AppState,
    id: String,
    viewer: Option<String>,
    index: u64,
) -> Result<HttpResponse, AppError> {
    let (view, _) = state
        .read(move |conn| {
            load_visible(conn, &id, viewer.as_deref())?.ok_or_else(|| AppError::not_found("no request with that id"))
        })
        .await?;
    let receipt = EntryReceipt::for_stored(state, index, 1).await?;
    Ok(HttpResponse::Ok().json(RequestRecorded { request: view, receipt }))
}
