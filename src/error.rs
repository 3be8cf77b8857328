//! One error type for the HTTP API, answered as RFC 9457 `application/problem+json`.
//! Each constructor fixes the status and a stable `type`; `detail` says what to change and
//! never echoes request data (an identifier could be in it).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// Base of every problem `type` URI.
const TYPE_BASE: &str = "https://disclosure-ledger.localhost/problems/";

/// One failed check on an input field.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone)]
pub struct AppError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// Seconds for `Retry-After` (503, 429).
    retry_after: Option<u64>,
}

impl AppError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    /// A body that is not of the endpoint's schema: `field` names where (e.g.
    /// `targets[2].kind`, or `body`), never what was there.
    pub fn malformed(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::malformed_with_code(field, "malformed", message)
    }

    pub fn malformed_with_code(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed body",
            format!("{field}: {message}"),
        );
        e.errors.push(FieldError {
            field,
            code: code.to_string(),
            message,
        });
        e
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    /// The body exceeds the endpoint's limit of `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the request body exceeds this endpoint's limit of {limit} bytes"),
        )
    }

    pub fn invalid_parameter(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid parameter",
            message.clone(),
        );
        e.errors.push(FieldError {
            field: field.to_string(),
            code: "invalid".to_string(),
            message,
        });
        e
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            detail,
        )
    }

    /// Over a rate limit; `Retry-After` is set by the handler.
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        )
    }

    /// 429 with `Retry-After: seconds`.
    pub fn too_many_requests_for(detail: impl Into<String>, seconds: u64) -> Self {
        let mut e = Self::too_many_requests(detail);
        e.retry_after = Some(seconds.max(1));
        e
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 408: the body did not arrive in time; the connection is closed.
    pub fn request_timeout(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            detail,
        )
    }

    /// 414 or 431: a request head beyond our limits (`methods::oversized_head`).
    pub fn head_too_large(status: StatusCode, detail: impl Into<String>) -> Self {
        let slug = if status == StatusCode::URI_TOO_LONG {
            "uri-too-long"
        } else {
            "headers-too-large"
        };
        Self::new(status, slug, "Request head too large", detail)
    }

    /// 410: it existed, and retention destroyed it (crypto-shredding); the detail names the
    /// `retention.shredded` entry.
    pub fn gone(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "gone", "Gone", detail)
    }

    pub fn unprocessable(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
            "Validation failed",
            detail,
        );
        e.errors = errors;
        e
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// 503 with `Retry-After: seconds`.
    pub fn unavailable_for(detail: impl Into<String>, seconds: u64) -> Self {
        let mut e = Self::unavailable(detail);
        e.retry_after = Some(seconds.max(1));
        e
    }

    /// A failure that is ours, not the caller's. The cause goes to the log, not to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("{TYPE_BASE}{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.title, self.detail)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.content_type("application/problem+json");
        if let Some(s) = self.retry_after {
            r.insert_header((actix_web::http::header::RETRY_AFTER, s.to_string()));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way: the connection cannot be reused.
            r.force_close();
        }
        r.json(self.problem())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SequencerStopped => AppError::unavailable("the ledger is shutting down"),
            StoreError::Unavailable(why, seconds) => {
                log::warn!("database unavailable: {why}");
                AppError::unavailable_for("the database is unreachable; nothing was recorded", seconds)
            }
            StoreError::Pool(why) => {
                log::warn!("no database connection: {why}");
                AppError::unavailable_for("the database is unreachable", 1)
            }
            StoreError::CommitUnknown(why) => {
                log::warn!("commit outcome unknown: {why}");
                AppError::unavailable_for(
                    "the database connection was lost while committing: the write may or may not be recorded; retry with the same Idempotency-Key to find out",
                    1,
                )
            }
            // A connection lost under a read or an operation is the database's absence, not
            // our fault: 503 like the rest of an outage, not 500.
            other if other.is_connection_lost() => {
                log::warn!("database connection lost: {other}");
                AppError::unavailable_for("the database is unreachable; nothing was recorded", 1)
            }
            // SQLite's write lock held by another connection past the busy timeout.
            other if other.is_busy() => {
                log::warn!("database busy: {other}");
                AppError::unavailable_for("the database is busy with another writer; nothing was recorded", 1)
            }
            other => AppError::internal(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal(e)
    }
}
