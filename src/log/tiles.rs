//! C2SP tlog-tiles (https://c2sp.org/tlog-tiles): `/checkpoint`, hash tiles
//! `/tile/<L>/<N>[.p/<W>]` and entry bundles `/tile/entries/<N>[.p/<W>]`, so that standard
//! tlog clients can follow the log. Tiles have height 8 (256 hashes); `N` is written in
//! three-digit groups, all but the last prefixed with `x`. Full tiles never change and are
//! served as immutable; partial ones only until the tile fills.
//!
//! Entry bundles follow the embargo of DESIGN §4.5: without an auditor token an embargoed
//! entry is replaced by its public stub, so a public client checks those leaves against the
//! hash tiles (level 0 holds every leaf hash) rather than by hashing the bundle.

use actix_web::{get, web, HttpResponse};

use super::embargo::embargo_ends;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::ledger::{entry::leaf_hash, hex_hash};
use crate::state::AppState;
use crate::store::{queries, DbHashReader};

const HEIGHT: u8 = 8;
const WIDTH: u64 = 1 << HEIGHT;

/// `(level, n, width)`; `level` is `None` for entry bundles.
fn parse(path: &str) -> Option<(Option<u8>, u64, u64)> {
    let (level, rest) = path.split_once('/')?;
    let level = if level == "entries" {
        None
    } else {
        Some(level.parse::<u8>().ok().filter(|l| *l < 8)?)
    };
    let (index, width) = match rest.split_once(".p/") {
        Some((index, w)) => (index, w.parse::<u64>().ok().filter(|w| (1..WIDTH).contains(w))?),
        None => (rest, WIDTH),
    };
    let groups: Vec<&str> = index.split('/').collect();
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() { g.strip_prefix('x')? } else { g };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse::<u64>().ok()?)?;
    }
    Some((level, n, width))
}

/// `immutable` only for bytes that can never change: a full tile, and among entry bundles only
/// one with no embargo stub (its bytes change when the embargo ends). Answers to an
/// authorised caller are made `private, no-store` by [`crate::cache`].
fn cache(full: bool, stubbed: bool) -> (&'static str, &'static str) {
    if full && !stubbed {
        ("Cache-Control", "public, max-age=31536000, immutable")
    } else {
        ("Cache-Control", "no-cache")
    }
}

/// The newest signed checkpoint, at the C2SP location.
#[utoipa::path(get, path = "/checkpoint", tag = "tiles",
    responses((status = 200, description = "Signed note", body = String, content_type = "text/plain")))]
#[get("/checkpoint")]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    super::checkpoint::latest(&state).await
}

/// A hash tile or an entry bundle.
#[utoipa::path(get, path = "/tile/{path}", tag = "tiles",
    params(("path" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`")),
    responses(
        (status = 200, description = "Tile bytes", content_type = "application/octet-stream"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not (yet) in the tree", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/tile/{path:.*}")]
pub async fn tile(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (level, n, width) = parse(&path).ok_or_else(|| AppError::bad_request("not a C2SP tile path"))?;
    let full = width == WIDTH;
    // The tree size the tile needs: (n·256 + width) · 256^L leaves (0 when that overflows: no
    // tree has it, and any copy answers 404).
    let needs = n
        .checked_mul(WIDTH)
        .and_then(|s| s.checked_add(width))
        .and_then(|e| e.checked_mul(1u64 << (u32::from(HEIGHT) * u32::from(level.unwrap_or(0)))))
        .unwrap_or(0);
    let (bytes, stubbed) = state
        .read_at_least(needs, move |conn| {
            let size = queries::head_size(conn)?;
            let level_shift = u32::from(HEIGHT) * u32::from(level.unwrap_or(0));
            let end = n
                .checked_mul(WIDTH)
                .and_then(|s| s.checked_add(width))
                .ok_or_else(|| AppError::not_found("beyond the tree"))?;
            // Every hash of the tile is a complete subtree of 256^L leaves.
            if end > size >> level_shift {
                return Err(AppError::not_found(format!(
                    "that tile is not in the tree of size {size}"
                )));
            }
            match level {
                Some(l) => {
                    let t = tlog_tiles::Tile::new(HEIGHT, l, n, width as u32, false);
                    let bytes = t.read_data(&DbHashReader::new(conn)).map_err(AppError::internal)?;
                    Ok((bytes, false))
                }
                None => {
                    let rows = queries::entries_page(conn, n * WIDTH, width)?;
                    let mut out = Vec::new();
                    let mut stubbed = false;
                    for e in rows {
                        let body = match embargo_ends(subject_of(&e.canonical).as_deref(), &time_of(&e.canonical)) {
                            Some(until) if !caller.sees_embargoed() && until > chrono::Utc::now() => {
                                stubbed = true;
                                serde_json::json!({
                                    "index": e.idx,
                                    "leaf_hash": hex_hash(&leaf_hash(e.canonical.as_bytes())),
                                    "embargoed_until": until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                                })
                                .to_string()
                            }
                            _ => e.canonical,
                        };
                        // The sequencer never signs a longer entry; a row edited behind its back
                        // is an error here, never a silently truncated prefix.
                        let len = u16::try_from(body.len())
                            .map_err(|_| AppError::internal(format!("entry {} exceeds 65535 bytes", e.idx)))?;
                        out.extend_from_slice(&len.to_be_bytes());
                        out.extend_from_slice(body.as_bytes());
                    }
                    Ok((out, stubbed))
                }
            }
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(cache(full, stubbed))
        .body(bytes))
}

fn field(canonical: &str, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(canonical).ok()?;
    v.get(name)?.as_str().map(str::to_string)
}

fn subject_of(canonical: &str) -> Option<String> {
    field(canonical, "subject")
}

fn time_of(canonical: &str) -> String {
    field(canonical, "time").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn tile_paths_parse_as_c2sp_writes_them() {
        assert_eq!(parse("0/000"), Some((Some(0), 0, 256)));
        assert_eq!(parse("1/x001/234.p/5"), Some((Some(1), 1234, 5)));
        assert_eq!(parse("entries/x001/x234/067"), Some((None, 1_234_067, 256)));
        for bad in [
            "0/1",
            "0/001/002",
            "9/000",
            "0/000.p/0",
            "0/000.p/256",
            "entries/abc",
            "0/x001",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
