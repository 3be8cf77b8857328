//! Telegram's published figures (`datasets/telegram/telegram-transparency-2024-2026.json`, CC BY 4.0: per
//! country, rows `{from, to, requests, users}` of fulfilled requests and affected users, some
//! for a quarter, some cumulative) as import records, and a check of the dataset itself:
//! where a cumulative row disagrees with the sum of the quarter rows it spans.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::record::{is_quarter, parse_date};

#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    pub from: String,
    pub to: String,
    pub requests: u64,
    pub users: u64,
}

/// Country (alpha-3) → rows, as published.
pub type Dataset = BTreeMap<String, Vec<Row>>;

pub fn load(bytes: &[u8]) -> Result<Dataset, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// One aggregate import record per quarter row, in the dataset's order by country.
pub fn quarter_records(data: &Dataset, source: &str, source_sha256: &str) -> Vec<Value> {
    data.iter()
        .flat_map(|(country, rows)| {
            rows.iter().filter(|r| is_quarter(&r.from, &r.to)).map(move |r| {
                json!({
                    "type": "aggregate",
                    "external_id": format!("telegram:{country}:{}-{}", r.from, r.to),
                    "country": country,
                    "from": r.from,
                    "to": r.to,
                    "fulfilled_requests": r.requests,
                    "affected_users": r.users,
                    "source": source,
                    "source_sha256": source_sha256,
                })
            })
        })
        .collect()
}

/// A cumulative row that the quarter rows do not add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    pub country: String,
    pub from: String,
    pub to: String,
    pub requests: u64,
    pub users: u64,
    /// Sums over the quarter rows the dataset has within the span.
    pub quarters_requests: u64,
    pub quarters_users: u64,
    /// Quarters of the span without a quarter row (`YYYY-Qn`).
    pub missing_quarters: Vec<String>,
}

/// The calendar quarters a span covers, as `(year, quarter)`, if it starts and ends on
/// quarter boundaries.
fn quarters_of(from: NaiveDate, to: NaiveDate) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    let (mut y, mut q) = (from.year(), (from.month() - 1) / 3 + 1);
    while (y, q) <= (to.year(), (to.month() - 1) / 3 + 1) {
        out.push((y, q));
        (y, q) = if q == 4 { (y + 1, 1) } else { (y, q + 1) };
    }
    out
}

/// Every cumulative row whose figures differ from the sum of the quarter rows the dataset has
/// within its span. A quarter without a row counts as zero; the quarters missing are listed,
/// since they may explain a difference.
pub fn check(data: &Dataset) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (country, rows) in data {
        let mut quarters: BTreeMap<(i32, u32), &Row> = BTreeMap::new();
        for r in rows.iter().filter(|r| is_quarter(&r.from, &r.to)) {
            if let Some(f) = parse_date(&r.from) {
                quarters.insert((f.year(), (f.month() - 1) / 3 + 1), r);
            }
        }
        for r in rows.iter().filter(|r| !is_quarter(&r.from, &r.to)) {
            let (Some(f), Some(t)) = (parse_date(&r.from), parse_date(&r.to)) else {
                continue;
            };
            let span = quarters_of(f, t);
            let present: Vec<&Row> = span.iter().filter_map(|k| quarters.get(k).copied()).collect();
            let missing: Vec<String> = span
                .iter()
                .filter(|k| !quarters.contains_key(k))
                .map(|(y, q)| format!("{y}-Q{q}"))
                .collect();
            let (qr, qu) = present.iter().fold((0, 0), |(a, b), x| (a + x.requests, b + x.users));
            if qr != r.requests || qu != r.users {
                out.push(Disagreement {
                    country: country.clone(),
                    from: r.from.clone(),
                    to: r.to.clone(),
                    requests: r.requests,
                    users: r.users,
                    quarters_requests: qr,
                    quarters_users: qu,
                    missing_quarters: missing,
                });
            }
        }
    }
    out
}
