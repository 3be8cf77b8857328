//! Transitions that time drives rather than a person (DESIGN §2, V9): an open request whose
//! order stopped being valid expires (`request.expired`), and an answered emergency request
//! not validated within the policy's window fails validation
//! (`request.emergency_validation_failed`). The server runs [`sweep`] periodically; it is an
//! ordinary append operation, so its checks and writes happen under the head lock.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::list::OPEN_STATES;
use crate::ledger::entry::format_time;
use crate::store::schema::requests;
use crate::store::{per_backend, DbPool, NewEntry, Sequencer, StoreError};

fn entry(kind: &str, id: &str, public: serde_json::Value) -> NewEntry {
    NewEntry {
        kind: kind.into(),
        subject: Some(id.to_string()),
        public: public.as_object().cloned().unwrap_or_default(),
        restricted: None,
    }
}

/// What one sweep appended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Entries appended in all.
    pub entries: usize,
    /// Of which `retention.shredded`.
    pub shredded: usize,
}

/// Appends every time-driven transition now due; then, in an operation of its own (so that a
/// request closed by this sweep starts its retention now), shreds what is past its retention
/// (`retention::shred`), the candidates read first from `pool`, outside the head lock.
pub async fn sweep(sequencer: &Sequencer, pool: &DbPool) -> Result<Swept, StoreError> {
    let ((), appended) = sequencer
        .append(|ctx| -> Result<_, StoreError> {
            let now = Utc::now();
            let now_text = format_time(now);
            let mut entries = Vec::new();
            // One statement for every expiry, in id order for a stable order of entries.
            let mut expired: Vec<String> = per_backend!(&mut *ctx.conn, c => diesel::update(
                requests::table
                    .filter(requests::status.eq_any(OPEN_STATES))
                    .filter(requests::expires_at.lt(&now_text)),
            )
            .set(requests::status.eq("expired"))
            .returning(requests::id)
            .get_results(c))?;
            expired.sort();
            for id in &expired {
                entries.push(entry("request.expired", id, json!({ "reason": "order_expired" })));
            }
            let Some((_, _, policy)) = crate::policy::in_force_for(ctx)? else { return Ok(((), entries)) };
            let window = Duration::hours(policy.deadlines.emergency_validation_hours);
            let answered: Vec<(String, String)> = requests::table
                .filter(requests::emergency.eq(true))
                .filter(requests::status.eq_any(["disclosed", "no_data"]))
                .select((requests::id, requests::received_at))
                .load(ctx.conn)?;
            let mut failed = Vec::new();
            for (id, received) in answered {
                let received = DateTime::parse_from_rfc3339(&received).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if received.with_timezone(&Utc) + window <= now {
                    failed.push(id);
                }
            }
            if !failed.is_empty() {
                diesel::update(requests::table.filter(requests::id.eq_any(&failed)))
                    .set(requests::status.eq("emergency_validation_failed"))
                    .execute(ctx.conn)?;
            }
            for id in &failed {
                entries.push(entry(
                    "request.emergency_validation_failed",
                    id,
                    json!({ "reason": "not_validated_in_time", "window_hours": policy.deadlines.emergency_validation_hours }),
                ));
            }
            Ok(((), entries))
        })
        .await?;
    let pool = pool.clone();
    let due = tokio::task::spawn_blocking(move || -> Result<Vec<String>, StoreError> {
        let mut conn = pool.get()?;
        crate::idempotency::expire(&mut conn, Utc::now())?;
        crate::retention::shred::due_now(&mut conn, Utc::now())
    })
    .await
    .map_err(|e| StoreError::Io(e.to_string()))??;
    let shredded = if due.is_empty() {
        0
    } else {
        let ((), shred) = sequencer
            .append(move |ctx| -> Result<_, StoreError> {
                let first = ctx.next_index;
                Ok(((), crate::retention::shred::shred_due(ctx, first, &due)?))
            })
            .await?;
        shred.entries.len()
    };
    Ok(Swept {
        entries: appended.entries.len() + shredded,
        shredded,
    })
}
