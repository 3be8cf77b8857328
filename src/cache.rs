//! What a shared cache may keep (RFC 9111). Anything a cache in front of the ledger stores is
//! public, so:
//! - an answer to a request that carried `Authorization` depends on who asked: it is
//!   `private, no-store` whatever the handler said (§3.5 lets a shared cache store an
//!   authorised answer marked `public`);
//! - every answer varies on `Authorization`, so that a cache never serves the public's answer
//!   to an auditor or the other way round;
//! - only bytes that can never change are `immutable` (full hash tiles, and entry bundles with
//!   no entry under embargo: see `log::tiles`).

use actix_web::http::header::{self, HeaderValue};

/// Applies the rules of the module comment to a response; `authorised` says whether the
/// request carried an `Authorization` header.
pub fn apply(authorised: bool, headers: &mut header::HeaderMap) {
    if authorised {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
}
