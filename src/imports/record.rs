//! Historical records as an importer sends them, their checks, and the entries they become.
//! The ledger attests when it recorded a record, not that it happened: the entries say where
//! the figures come from (`source`, `source_sha256`) and the report keeps them apart.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::reports::tally::{exact_quarter, quarter_of};
use crate::requests::submit::{object, CATEGORIES, INSTRUMENTS};
use crate::store::NewEntry;

/// One historical record. `external_id` makes importing idempotent: the same record again is a
/// replay, another record under the same id a conflict.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImportRecord {
    /// A per-period declaration, e.g. one row of a platform's transparency report.
    Aggregate(AggregateRecord),
    /// One historical request and its outcome.
    Request(RequestRecord),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateRecord {
    pub external_id: String,
    /// ISO 3166-1 alpha-3 of the requesting country.
    pub country: String,
    /// First day of the period, `YYYY-MM-DD` or `YYYYMMDD`.
    pub from: String,
    /// Last day of the period (inclusive).
    pub to: String,
    /// Requests fulfilled in the period, as declared.
    pub fulfilled_requests: u64,
    /// Users whose data was disclosed, as declared.
    pub affected_users: u64,
    /// Who declared the figures, e.g. a report's title.
    pub source: String,
    /// SHA-256 (hex) of the source document.
    pub source_sha256: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRecord {
    pub external_id: String,
    pub country: String,
    pub instrument: String,
    #[serde(default)]
    pub emergency: bool,
    /// When the request was received, `YYYY-MM-DD` or `YYYYMMDD`.
    pub received: String,
    #[serde(default)]
    pub data_categories: Vec<String>,
    #[serde(default)]
    pub identifiers: u64,
    /// `fulfilled`, `no_data`, `rejected`, `withdrawn` or `unknown`.
    pub outcome: String,
    #[serde(default)]
    pub accounts_affected: u64,
    #[serde(default)]
    pub values: BTreeMap<String, u64>,
    pub source: String,
    pub source_sha256: String,
}

const OUTCOMES: &[&str] = &["fulfilled", "no_data", "rejected", "withdrawn", "unknown"];
impl ImportRecord {
    pub fn external_id(&self) -> &str {
        match self {
            ImportRecord::Aggregate(a) => &a.external_id,
            ImportRecord::Request(r) => &r.external_id,
        }
    }

    /// Every problem with the record, fields named `records[n].field`; values are not echoed.
    pub fn check(&self, n: usize) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: &str| {
            errors.push(FieldError {
                field: format!("records[{n}].{field}"),
                code: "invalid".into(),
                message: message.into(),
            })
        };
        let id = self.external_id();
        if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
            bad("external_id", "external_id must have 1 to 200 printable characters");
        }
        let (country, source, digest) = match self {
            ImportRecord::Aggregate(a) => (&a.country, &a.source, &a.source_sha256),
            ImportRecord::Request(r) => (&r.country, &r.source, &r.source_sha256),
        };
        if country.len() != 3 || isocountry::CountryCode::for_alpha3(country).is_err() {
            bad("country", "country must be an ISO 3166-1 alpha-3 code in upper case");
        }
        if source.trim().is_empty() || source.chars().count() > 500 || source.chars().any(char::is_control) {
            bad("source", "source must have 1 to 500 printable characters");
        }
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            bad("source_sha256", "source_sha256 must be 64 lower-case hex digits");
        }
        match self {
            ImportRecord::Aggregate(a) => match (parse_date(&a.from), parse_date(&a.to)) {
                (Some(f), Some(t)) if f <= t => {}
                (Some(_), Some(_)) => bad("to", "the period ends before it starts"),
                (None, _) => bad("from", "dates are YYYY-MM-DD or YYYYMMDD"),
                (_, None) => bad("to", "dates are YYYY-MM-DD or YYYYMMDD"),
            },
            ImportRecord::Request(r) => {
                if parse_date(&r.received).is_none() {
                    bad("received", "dates are YYYY-MM-DD or YYYYMMDD");
                }
                if !INSTRUMENTS.contains(&r.instrument.as_str()) {
                    bad("instrument", "instrument is not one of the known instruments");
                }
                if !OUTCOMES.contains(&r.outcome.as_str()) {
                    bad(
                        "outcome",
                        "outcome is fulfilled, no_data, rejected, withdrawn or unknown",
                    );
                }
                let known = |c: &String| CATEGORIES.contains(&c.as_str());
                if !r.data_categories.iter().all(known) || !r.values.keys().all(known) {
                    bad("data_categories", "a data category is not one of the known categories");
                }
            }
        }
        errors
    }

    /// The entry this record becomes. The exact dates of a request stay sealed; its entry
    /// publishes the quarter it occurred in, as live entries do.
    pub fn entry(&self) -> NewEntry {
        match self {
            ImportRecord::Aggregate(a) => NewEntry {
                kind: "aggregate.imported".into(),
                subject: None,
                public: object(json!({
                    "country": a.country,
                    "from": iso(&a.from),
                    "to": iso(&a.to),
                    "fulfilled_requests": a.fulfilled_requests,
                    "affected_users": a.affected_users,
                    "source": a.source,
                    "source_sha256": a.source_sha256,
                })),
                restricted: Some(json!({ "external_id": a.external_id })),
            },
            ImportRecord::Request(r) => {
                let received = parse_date(&r.received).unwrap_or_default();
                let at = received.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                NewEntry {
                    kind: "request.imported".into(),
                    subject: Some(uuid::Uuid::new_v4().to_string()),
                    public: object(json!({
                        "country": r.country,
                        "instrument": r.instrument,
                        "emergency": r.emergency,
                        "data_categories": r.data_categories,
                        "identifiers": r.identifiers,
                        "outcome": r.outcome,
                        "accounts_affected": r.accounts_affected,
                        "values": r.values,
                        "quarter": quarter_of(at),
                        "source": r.source,
                        "source_sha256": r.source_sha256,
                    })),
                    restricted: Some(json!({ "external_id": r.external_id, "received": iso(&r.received) })),
                }
            }
        }
    }
}

/// `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
        .filter(|d| d.year() >= 1990 && s.len() <= 10)
}

fn iso(s: &str) -> String {
    parse_date(s)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Whether `from..=to` is exactly one calendar quarter.
pub fn is_quarter(from: &str, to: &str) -> bool {
    matches!((parse_date(from), parse_date(to)), (Some(f), Some(t)) if exact_quarter(f, t).is_some())
}
