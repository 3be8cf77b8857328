use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::report::{quarter_start, Audience, Report, Scope};
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// First quarter, `YYYY-Qn` (inclusive).
    pub from: Option<String>,
    /// Last quarter, `YYYY-Qn` (inclusive).
    pub to: Option<String>,
    /// Requesting country, ISO 3166-1 alpha-3.
    pub country: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

fn quarter_param(field: &str, value: Option<String>) -> Result<Option<String>, AppError> {
    match value {
        Some(q) if quarter_start(&q).is_none() => Err(AppError::invalid_parameter(
            field,
            "a quarter is written YYYY-Qn, for example 2025-Q3",
        )),
        other => Ok(other),
    }
}

/// The transparency report: per quarter × requesting country × instrument × routine or
/// emergency, requests received, fulfilled, rejected by reason, identifiers specified, accounts
/// affected, values disclosed per category, notifications and the median time to decision;
/// historical imports shown apart. Computed from public entry fields only, at the named
/// checkpoint: anyone holding entries `0..size` recomputes it. The public gets the quarters
/// whose embargo has ended, auditors every quarter.
#[utoipa::path(
    get, path = "/v1/reports/transparency", tag = "reports", params(ReportParams),
    responses(
        (status = 200, description = "The report (JSON, or CSV `section,quarter,country,instrument,emergency,metric,key,value`)", body = Report),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/v1/reports/transparency")]
pub async fn transparency(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    let params = params.into_inner();
    let from = quarter_param("from", params.from)?;
    let to = quarter_param("to", params.to)?;
    if let (Some(f), Some(t)) = (&from, &to) {
        if f > t {
            return Err(AppError::invalid_parameter("to", "to is before from"));
        }
    }
    let country = match params.country {
        Some(c) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) => {
            return Err(AppError::invalid_parameter(
                "country",
                "a country is ISO 3166-1 alpha-3, upper case",
            ))
        }
        other => other,
    };
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(AppError::invalid_parameter("format", "format is json or csv")),
    };
    let audience = if caller.sees_embargoed() {
        Audience::Auditor
    } else {
        Audience::Public {
            as_of: chrono::Utc::now(),
        }
    };
    let scope = Scope { from, to, country };
    let started = std::time::Instant::now();
    let st = state.clone();
    let report = state
        .read_served(move |conn| {
            Ok(st.reports.with_latest(conn, st.cosigning.quorum, |tally, cp| {
                Report::build(tally, cp, audience, scope)
            })?)
        })
        .await?;
    state.metrics.report_seconds.observe(started.elapsed().as_secs_f64());
    Ok(if csv {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(report.to_csv())
    } else {
        HttpResponse::Ok().json(report)
    })
}
