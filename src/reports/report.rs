//! The report as published: a [`Tally`] narrowed to what the caller may see and to the
//! quarters and country asked for, with the checkpoint it was computed at. The server and the
//! `audit` monitor both build it with [`Report::build`], so a monitor holding the same entries
//! gets the same document.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tally::{median, Declaration, Notifications, Tally};
use crate::log::embargo::embargo_ends;

/// Who is looking: the public sees a quarter once its entries' embargo has ended (DESIGN
/// §4.5); auditors see every quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public { as_of: DateTime<Utc> },
    Auditor,
}

/// Which part of the report to build. Quarters are `YYYY-Qn`, inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Scope {
    pub from: Option<String>,
    pub to: Option<String>,
    pub country: Option<String>,
}

/// The checkpoint the report was computed at: the report covers entries `0..size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportCheckpoint {
    pub size: u64,
    /// Root hash at `size`, lowercase hex.
    pub root: String,
}

/// Figures derived from the live lifecycle for one quarter × country × instrument × routine or
/// emergency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveRow {
    pub quarter: String,
    pub country: String,
    pub instrument: String,
    pub emergency: bool,
    pub received: u64,
    pub identifiers: u64,
    pub categories_requested: BTreeMap<String, u64>,
    /// Requests answered with data (`request.disclosed`): the figure Telegram publishes.
    pub fulfilled: u64,
    pub no_data: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub rejected_by_rule: BTreeMap<String, u64>,
    pub withdrawn: u64,
    pub expired: u64,
    pub accounts_affected: u64,
    pub values: BTreeMap<String, u64>,
    #[schema(value_type = Object)]
    pub notifications: Notifications,
    pub emergency_validated: u64,
    pub emergency_validation_failed: u64,
    pub decisions: u64,
    /// Median milliseconds from receipt to a reviewer's decision, over the decisions recorded
    /// this quarter.
    pub median_ms_to_decision: Option<u64>,
}

/// Per-request historical records (`request.imported`) of one group; `quarter` is when the
/// request occurred, `recorded` when the ledger recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportedRow {
    pub quarter: String,
    pub recorded: String,
    pub country: String,
    pub instrument: String,
    pub emergency: bool,
    pub requests: u64,
    pub identifiers: u64,
    pub fulfilled: u64,
    pub no_data: u64,
    pub rejected: u64,
    pub accounts_affected: u64,
    pub values: BTreeMap<String, u64>,
}

/// Historical figures, shown apart: the ledger attests when it recorded them, not that they
/// happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Imported {
    pub requests: Vec<ImportedRow>,
    /// Aggregate declarations (`aggregate.imported`), one per entry, as declared.
    #[schema(value_type = Vec<Object>)]
    pub aggregates: Vec<Declaration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub checkpoint: ReportCheckpoint,
    /// `public` or `auditor`.
    pub view: String,
    /// The instant the embargo was applied at (RFC 3339).
    pub as_of: String,
    pub scope: Scope,
    pub live: Vec<LiveRow>,
    pub imported: Imported,
}

/// The first day of a `YYYY-Qn` quarter.
/// Only exactly `YYYY-Qn` (four ASCII digits, `-Q`, 1 to 4) is a quarter: `+2025-Q1` or
/// `2025-Q01` would parse as numbers yet compare as other strings.
pub fn quarter_start(q: &str) -> Option<NaiveDate> {
    let b = q.as_bytes();
    if b.len() != 7 || !b[..4].iter().all(u8::is_ascii_digit) || &b[4..6] != b"-Q" || !(b'1'..=b'4').contains(&b[6]) {
        return None;
    }
    let (y, n): (i32, u32) = (q[..4].parse().ok()?, u32::from(b[6] - b'0'));
    NaiveDate::from_ymd_opt(y, (n - 1) * 3 + 1, 1)
}

/// Whether the public may see figures recorded in quarter `q` at `as_of`.
pub fn quarter_released(q: &str, as_of: DateTime<Utc>) -> bool {
    let Some(start) = quarter_start(q) else { return false };
    let time = format!("{}T00:00:00.000Z", start.format("%Y-%m-%d"));
    embargo_ends(Some(""), &time).is_some_and(|end| end <= as_of)
}

impl Scope {
    fn holds_quarter(&self, q: &str) -> bool {
        self.from.as_deref().is_none_or(|f| q >= f) && self.to.as_deref().is_none_or(|t| q <= t)
    }

    fn holds_country(&self, c: &str) -> bool {
        self.country.as_deref().is_none_or(|x| x == c)
    }

    /// A declaration is in scope when its whole period lies within the quarters asked for.
    fn holds_period(&self, from: &str, to: &str) -> bool {
        let start = self.from.as_deref().and_then(quarter_start);
        let end = self.to.as_deref().and_then(quarter_start).and_then(|s| {
            let next = s.checked_add_months(chrono::Months::new(3))?;
            next.pred_opt()
        });
        let (Ok(f), Ok(t)) = (
            NaiveDate::parse_from_str(from, "%Y-%m-%d"),
            NaiveDate::parse_from_str(to, "%Y-%m-%d"),
        ) else {
            return false;
        };
        start.is_none_or(|s| f >= s) && end.is_none_or(|e| t <= e)
    }
}

impl Report {
    pub fn build(tally: &Tally, checkpoint: ReportCheckpoint, audience: Audience, scope: Scope) -> Report {
        let (view, as_of) = match audience {
            Audience::Public { as_of } => ("public", as_of),
            Audience::Auditor => ("auditor", Utc::now()),
        };
        let released = |q: &str| match audience {
            Audience::Public { as_of } => quarter_released(q, as_of),
            Audience::Auditor => true,
        };
        let live = tally
            .live
            .iter()
            .filter(|(g, _)| released(&g.quarter) && scope.holds_quarter(&g.quarter) && scope.holds_country(&g.country))
            .map(|(g, c)| LiveRow {
                quarter: g.quarter.clone(),
                country: g.country.clone(),
                instrument: g.instrument.clone(),
                emergency: g.emergency,
                received: c.received,
                identifiers: c.identifiers,
                categories_requested: c.categories_requested.clone(),
                fulfilled: c.fulfilled,
                no_data: c.no_data,
                rejected: c.rejected,
                rejected_by_reason: c.rejected_by_reason.clone(),
                rejected_by_rule: c.rejected_by_rule.clone(),
                withdrawn: c.withdrawn,
                expired: c.expired,
                accounts_affected: c.accounts_affected,
                values: c.values.clone(),
                notifications: c.notifications.clone(),
                emergency_validated: c.emergency_validated,
                emergency_validation_failed: c.emergency_validation_failed,
                decisions: c.decision_ms.len() as u64,
                median_ms_to_decision: median(&c.decision_ms),
            })
            .collect();
        let requests = tally
            .imported
            .iter()
            .filter(|((recorded, g), _)| {
                released(recorded) && scope.holds_quarter(&g.quarter) && scope.holds_country(&g.country)
            })
            .map(|((recorded, g), c)| ImportedRow {
                quarter: g.quarter.clone(),
                recorded: recorded.clone(),
                country: g.country.clone(),
                instrument: g.instrument.clone(),
                emergency: g.emergency,
                requests: c.requests,
                identifiers: c.identifiers,
                fulfilled: c.fulfilled,
                no_data: c.no_data,
                rejected: c.rejected,
                accounts_affected: c.accounts_affected,
                values: c.values.clone(),
            })
            .collect();
        // Declarations are log-level entries: public at once.
        let aggregates = tally
            .declarations
            .iter()
            .filter(|d| scope.holds_country(&d.country) && scope.holds_period(&d.from, &d.to))
            .cloned()
            .collect();
        Report {
            checkpoint,
            view: view.into(),
            as_of: as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
            scope,
            live,
            imported: Imported { requests, aggregates },
        }
    }

    /// The report as CSV in long form, one figure per line:
    /// `section,quarter,country,instrument,emergency,metric,key,value`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("section,quarter,country,instrument,emergency,metric,key,value\n");
        let mut line = |section: &str, q: &str, c: &str, i: &str, e: &str, metric: &str, key: &str, v: u64| {
            out.push_str(&format!("{section},{q},{c},{i},{e},{metric},{key},{v}\n"));
        };
        for r in &self.live {
            let e = if r.emergency { "emergency" } else { "routine" };
            let mut put = |metric: &str, key: &str, v: u64| {
                line("live", &r.quarter, &r.country, &r.instrument, e, metric, key, v)
            };
            put("received", "", r.received);
            put("identifiers", "", r.identifiers);
            for (k, v) in &r.categories_requested {
                put("categories_requested", k, *v);
            }
            put("fulfilled", "", r.fulfilled);
            put("no_data", "", r.no_data);
            put("rejected", "", r.rejected);
            for (k, v) in &r.rejected_by_reason {
                put("rejected_by_reason", k, *v);
            }
            for (k, v) in &r.rejected_by_rule {
                put("rejected_by_rule", k, *v);
            }
            put("withdrawn", "", r.withdrawn);
            put("expired", "", r.expired);
            put("accounts_affected", "", r.accounts_affected);
            for (k, v) in &r.values {
                put("values", k, *v);
            }
            put("notifications_sent", "", r.notifications.sent);
            put("notifications_delayed", "", r.notifications.delayed);
            put("notifications_waived", "", r.notifications.waived);
            put("emergency_validated", "", r.emergency_validated);
            put("emergency_validation_failed", "", r.emergency_validation_failed);
            put("decisions", "", r.decisions);
            if let Some(m) = r.median_ms_to_decision {
                put("median_ms_to_decision", "", m);
            }
        }
        for r in &self.imported.requests {
            let e = if r.emergency { "emergency" } else { "routine" };
            let mut put = |metric: &str, key: &str, v: u64| {
                line(
                    "imported_requests",
                    &r.quarter,
                    &r.country,
                    &r.instrument,
                    e,
                    metric,
                    key,
                    v,
                )
            };
            put("requests", "", r.requests);
            put("identifiers", "", r.identifiers);
            put("fulfilled", "", r.fulfilled);
            put("no_data", "", r.no_data);
            put("rejected", "", r.rejected);
            put("accounts_affected", "", r.accounts_affected);
            for (k, v) in &r.values {
                put("values", k, *v);
            }
        }
        for d in &self.imported.aggregates {
            let period = d.quarter.clone().unwrap_or_else(|| format!("{}..{}", d.from, d.to));
            let key = format!("entry-{}", d.index);
            line(
                "imported_aggregate",
                &period,
                &d.country,
                "",
                "",
                "fulfilled_requests",
                &key,
                d.fulfilled_requests,
            );
            line(
                "imported_aggregate",
                &period,
                &d.country,
                "",
                "",
                "affected_users",
                &key,
                d.affected_users,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_is_public_thirty_days_after_it_ends() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(!quarter_released("2026-Q3", at("2026-10-30T23:59:59Z")));
        for odd in [
            "2025-Q01",
            "+2025-Q1",
            "2025-Q5",
            "2025-q1",
            "25-Q1",
            "2025-Q1 ",
            "２025-Q1",
        ] {
            assert!(quarter_start(odd).is_none(), "{odd}");
        }
        assert!(quarter_released("2026-Q3", at("2026-10-31T00:00:00Z")));
        assert!(!quarter_released("2026-Q5", at("2030-01-01T00:00:00Z")));
    }
}
