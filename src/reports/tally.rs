//! The transparency report's arithmetic (DESIGN §6, "reports"): a pure fold over entries in
//! log order, reading only their public members, so that anyone holding the entries — the
//! server, the `audit` monitor, a journalist with a script — gets the same numbers.
//!
//! Every figure is attributed to the quarter of the entry that records it (a request received
//! in March and fulfilled in April counts as received in Q1 and fulfilled in Q2), which is
//! what a platform's quarterly figures mean and why a quarter's figures are final, and public,
//! once its entries' embargo (DESIGN §4.5) has ended. The request's coarse dimensions
//! (country, instrument, emergency) come from its `request.received` entry, which always
//! precedes the events that refer to it.
//!
//! Historical records are kept apart: `request.imported` rows by the quarter the request
//! occurred in (and the quarter the ledger recorded it in, which governs their embargo), and
//! `aggregate.imported` declarations one by one, as declared, never summed with live figures.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ledger::LedgerError;

/// The grouping of live figures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Group {
    /// `YYYY-Qn`, the quarter of the entry recording the event.
    pub quarter: String,
    /// ISO 3166-1 alpha-3 of the requesting authority.
    pub country: String,
    pub instrument: String,
    pub emergency: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    pub sent: u64,
    pub delayed: u64,
    pub waived: u64,
}

/// Live figures of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// `request.received` entries (an amendment is not a new request).
    pub received: u64,
    /// Identifiers named by the requests received.
    pub identifiers: u64,
    /// Requests received naming each data category.
    pub categories_requested: BTreeMap<String, u64>,
    /// `request.disclosed` entries: Telegram's "fulfilled requests".
    pub fulfilled: u64,
    pub no_data: u64,
    /// Rejections, by the platform's validation or by a reviewer.
    pub rejected: u64,
    /// Reason codes (validation failures and reviewers' reasons), each counted per rejection.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Failed rules of DESIGN §3 (V1–V12), each counted per rejection.
    pub rejected_by_rule: BTreeMap<String, u64>,
    pub withdrawn: u64,
    pub expired: u64,
    pub accounts_affected: u64,
    /// Values disclosed per data category.
    pub values: BTreeMap<String, u64>,
    pub notifications: Notifications,
    /// Emergency disclosures validated after the fact, and those whose validation failed (or
    /// did not come within the policy's window).
    pub emergency_validated: u64,
    pub emergency_validation_failed: u64,
    /// Milliseconds from receipt to each reviewer decision (final approval or rejection).
    pub decision_ms: Vec<u64>,
}

/// Figures from `request.imported` entries of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedCell {
    pub requests: u64,
    pub identifiers: u64,
    pub fulfilled: u64,
    pub no_data: u64,
    pub rejected: u64,
    pub accounts_affected: u64,
    pub values: BTreeMap<String, u64>,
}

/// One `aggregate.imported` entry, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub index: u64,
    pub country: String,
    /// `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    pub to: String,
    /// `YYYY-Qn` when the period is exactly one calendar quarter.
    pub quarter: Option<String>,
    pub fulfilled_requests: u64,
    pub affected_users: u64,
    pub source: String,
    pub source_sha256: String,
}

#[derive(Debug, Clone)]
struct Known {
    group: Group,
    received_ms: i64,
}

/// The fold state. Serializable so that a monitor can keep it between runs and feed only new
/// entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Per request seen: its group and receipt time, to attribute its later entries.
    #[serde(with = "known_rows")]
    requests: HashMap<String, Known>,
    #[serde(with = "as_pairs")]
    pub live: BTreeMap<Group, Cell>,
    /// Keyed by the quarter the ledger recorded the entry in, then the group (whose quarter is
    /// the one the request occurred in).
    #[serde(with = "as_pairs")]
    pub imported: BTreeMap<(String, Group), ImportedCell>,
    pub declarations: Vec<Declaration>,
}

/// The members of an entry the report reads.
#[derive(Deserialize)]
struct View<'a> {
    index: u64,
    #[serde(borrow)]
    time: &'a str,
    #[serde(borrow)]
    kind: &'a str,
    subject: Option<String>,
    public: Public,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Public {
    country: Option<String>,
    instrument: Option<String>,
    emergency: Option<bool>,
    data_categories: Option<Vec<String>>,
    identifiers: Option<u64>,
    failed_rules: Option<Vec<String>>,
    reasons: Option<Vec<String>>,
    by: Option<String>,
    scope: Option<String>,
    accounts_affected: Option<u64>,
    values: Option<BTreeMap<String, u64>>,
    // request.imported
    quarter: Option<String>,
    outcome: Option<String>,
    // aggregate.imported
    from: Option<String>,
    to: Option<String>,
    fulfilled_requests: Option<u64>,
    affected_users: Option<u64>,
    source: Option<String>,
    source_sha256: Option<String>,
}

/// `YYYY-Qn` of an instant.
pub fn quarter_of(t: DateTime<Utc>) -> String {
    format!("{}-Q{}", t.year(), (t.month() - 1) / 3 + 1)
}

/// `YYYY-Qn` when `from..=to` (`YYYY-MM-DD`) is exactly one calendar quarter.
pub fn exact_quarter(from: NaiveDate, to: NaiveDate) -> Option<String> {
    let q = (from.month() - 1) / 3;
    let start = NaiveDate::from_ymd_opt(from.year(), q * 3 + 1, 1)?;
    let next = if q == 3 {
        NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(from.year(), q * 3 + 4, 1)?
    };
    (from == start && to.succ_opt()? == next).then(|| format!("{}-Q{}", from.year(), q + 1))
}

/// Figures saturate at 2^53 − 1 rather than wrap or exceed it: each is at most that, but a sum
/// over many entries need not be, and a report is JSON that every reader must take exactly
/// (I-JSON, RFC 7493 §2.2; the spec's bound).
fn add(total: &mut u64, n: u64) {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    *total = total.saturating_add(n).min(MAX_SAFE);
}

fn bad(index: u64, what: &str) -> LedgerError {
    LedgerError::MalformedEntry(format!("entry {index}: {what}"))
}

impl Tally {
    /// Folds one entry (its canonical bytes). Entries must come in log order; kinds the report
    /// does not count are ignored.
    pub fn feed(&mut self, canonical: &[u8]) -> Result<(), LedgerError> {
        let e: View = serde_json::from_slice(canonical).map_err(|err| LedgerError::MalformedEntry(err.to_string()))?;
        let at = DateTime::parse_from_rfc3339(e.time)
            .map_err(|_| bad(e.index, "time is not RFC 3339"))?
            .with_timezone(&Utc);
        let quarter = quarter_of(at);
        let p = e.public;
        match e.kind {
            "request.received" => {
                let id = e.subject.ok_or_else(|| bad(e.index, "request entry without subject"))?;
                let group = Group {
                    quarter: quarter.clone(),
                    country: p.country.unwrap_or_default(),
                    instrument: p.instrument.unwrap_or_default(),
                    emergency: p.emergency.unwrap_or(false),
                };
                let cell = self.live.entry(group.clone()).or_default();
                cell.received += 1;
                add(&mut cell.identifiers, p.identifiers.unwrap_or(0));
                for c in p.data_categories.unwrap_or_default() {
                    *cell.categories_requested.entry(c).or_default() += 1;
                }
                self.requests.insert(
                    id,
                    Known {
                        group,
                        received_ms: at.timestamp_millis(),
                    },
                );
            }
            "request.imported" => {
                let group = Group {
                    quarter: p
                        .quarter
                        .ok_or_else(|| bad(e.index, "request.imported without quarter"))?,
                    country: p.country.unwrap_or_default(),
                    instrument: p.instrument.unwrap_or_default(),
                    emergency: p.emergency.unwrap_or(false),
                };
                let cell = self.imported.entry((quarter, group)).or_default();
                cell.requests += 1;
                add(&mut cell.identifiers, p.identifiers.unwrap_or(0));
                match p.outcome.as_deref() {
                    Some("fulfilled") => cell.fulfilled += 1,
                    Some("no_data") => cell.no_data += 1,
                    Some("rejected") => cell.rejected += 1,
                    _ => {}
                }
                add(&mut cell.accounts_affected, p.accounts_affected.unwrap_or(0));
                for (c, n) in p.values.unwrap_or_default() {
                    add(cell.values.entry(c).or_default(), n);
                }
            }
            "aggregate.imported" => {
                let from = p.from.ok_or_else(|| bad(e.index, "aggregate without from"))?;
                let to = p.to.ok_or_else(|| bad(e.index, "aggregate without to"))?;
                let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad(e.index, "bad date"));
                let quarter = exact_quarter(parse(&from)?, parse(&to)?);
                self.declarations.push(Declaration {
                    index: e.index,
                    country: p.country.unwrap_or_default(),
                    from,
                    to,
                    quarter,
                    fulfilled_requests: p.fulfilled_requests.unwrap_or(0),
                    affected_users: p.affected_users.unwrap_or(0),
                    source: p.source.unwrap_or_default(),
                    source_sha256: p.source_sha256.unwrap_or_default(),
                });
            }
            kind if kind.starts_with("request.") || kind.starts_with("notification.") => {
                let Some(known) = e.subject.as_ref().and_then(|s| self.requests.get(s)) else {
                    return Ok(()); // an imported request's later entries, or none we count
                };
                let group = Group {
                    quarter,
                    ..known.group.clone()
                };
                let since = (at.timestamp_millis() - known.received_ms).max(0) as u64;
                let cell = self.live.entry(group).or_default();
                match kind {
                    "request.disclosed" => {
                        cell.fulfilled += 1;
                        add(&mut cell.accounts_affected, p.accounts_affected.unwrap_or(0));
                        for (c, n) in p.values.unwrap_or_default() {
                            add(cell.values.entry(c).or_default(), n);
                        }
                    }
                    "request.no_data" => cell.no_data += 1,
                    "request.withdrawn" => cell.withdrawn += 1,
                    "request.expired" => cell.expired += 1,
                    "request.rejected" => {
                        cell.rejected += 1;
                        for r in p.reasons.unwrap_or_default() {
                            *cell.rejected_by_reason.entry(r).or_default() += 1;
                        }
                        for r in p.failed_rules.unwrap_or_default() {
                            *cell.rejected_by_rule.entry(r).or_default() += 1;
                        }
                        if p.by.as_deref() == Some("reviewer") {
                            cell.decision_ms.push(since);
                        }
                    }
                    "request.approved" if p.scope.as_deref() != Some("pending_second_approval") => {
                        cell.decision_ms.push(since)
                    }
                    "request.emergency_validated" => cell.emergency_validated += 1,
                    "request.emergency_validation_failed" => cell.emergency_validation_failed += 1,
                    "notification.sent" => cell.notifications.sent += 1,
                    "notification.delayed" => cell.notifications.delayed += 1,
                    "notification.waived" => cell.notifications.waived += 1,
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The per-request index as rows `[id, quarter, country, instrument, emergency, received_ms]`:
/// it is most of a monitor's state, and member names would double its size.
mod known_rows {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Group, Known};

    type Row = (String, String, String, String, bool, i64);

    pub fn serialize<S: Serializer>(map: &HashMap<String, Known>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter().map(|(id, k)| {
            let g = &k.group;
            (id, &g.quarter, &g.country, &g.instrument, g.emergency, k.received_ms)
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<String, Known>, D::Error> {
        Ok(Vec::<Row>::deserialize(d)?
            .into_iter()
            .map(|(id, quarter, country, instrument, emergency, received_ms)| {
                let group = Group {
                    quarter,
                    country,
                    instrument,
                    emergency,
                };
                (id, Known { group, received_ms })
            })
            .collect())
    }
}

/// Maps with structured keys, kept as lists of pairs: JSON object keys are strings.
mod as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// The median of a list of durations (the lower middle for an even count), without floats.
pub fn median(values: &[u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    let mid = (v.len() - 1) / 2;
    Some(*v.select_nth_unstable(mid).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_quarter_only_when_it_covers_exactly_one() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            exact_quarter(d("2024-10-01"), d("2024-12-31")).as_deref(),
            Some("2024-Q4")
        );
        assert_eq!(
            exact_quarter(d("2025-04-01"), d("2025-06-30")).as_deref(),
            Some("2025-Q2")
        );
        assert_eq!(exact_quarter(d("2024-01-01"), d("2024-09-30")), None);
        assert_eq!(exact_quarter(d("2024-01-02"), d("2024-03-31")), None);
    }

    #[test]
    fn a_tally_kept_between_runs_attributes_later_entries_like_one_that_never_stopped() {
        let received = r#"{"index":0,"time":"2026-02-01T10:00:00.000Z","kind":"request.received","subject":"r1",
            "public":{"country":"FRA","instrument":"court_order","emergency":false,"identifiers":2}}"#;
        let disclosed = r#"{"index":1,"time":"2026-04-02T10:00:00.000Z","kind":"request.disclosed","subject":"r1",
            "public":{"accounts_affected":1,"values":{"ip_address":3}}}"#;
        let mut kept = Tally::default();
        kept.feed(received.as_bytes()).unwrap();
        let mut resumed: Tally = serde_json::from_slice(&serde_json::to_vec(&kept).unwrap()).unwrap();
        resumed.feed(disclosed.as_bytes()).unwrap();
        kept.feed(disclosed.as_bytes()).unwrap();
        assert_eq!(resumed.live, kept.live);
        let q2 = resumed.live.iter().find(|(g, _)| g.quarter == "2026-Q2").unwrap();
        assert_eq!(
            (q2.0.country.as_str(), q2.1.fulfilled),
            ("FRA", 1),
            "counted in the quarter it happened"
        );
    }

    #[test]
    fn the_median_of_an_even_count_is_the_lower_middle() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5, 1, 3]), Some(3));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2));
    }
}
