//! `disclosure-ledger audit`: a remote monitor (DESIGN §6). It trusts only the log key it was
//! given and the state it saved after its last good run. Each run:
//!
//! 1. fetches the newest checkpoint and verifies its signature with the pinned key;
//! 2. proves consistency with the last trusted checkpoint (RFC 9162 §2.1.4): a different tree
//!    at a trusted size, or a smaller tree, is a fork or a rollback;
//! 3. downloads the entries it has not verified, page by page, and checks each: canonical
//!    form, index, `prev` chain, time order; embargoed entries (public callers) as leaf hashes;
//! 4. recomputes the root from the leaves and compares it with the checkpoint's;
//! 5. recomputes the transparency report from the entries and compares it with the server's;
//! 6. only then saves the new state.
//!
//! Without a token it verifies what the public may see: every leaf and the root, every
//! released entry in full, entries still under embargo once they are released (it keeps their
//! leaf hashes). With an auditor token, everything at once.

pub mod client;
pub mod state;

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ledger::canonical_check::check_entry;
use crate::ledger::compact::{CompactRange, StoredRange};
use crate::ledger::entry::leaf_hash;
use crate::ledger::{hex_hash, merkle, parse_hex_hash, Hash, LogVerifier, SignedCheckpoint};
use crate::reports::{Audience, Report, ReportCheckpoint, Scope};
use client::Client;
use state::{Held, State};

/// Entries per page (the server's maximum).
const PAGE: u64 = 1000;
/// Pages in flight.
const PARALLEL: usize = 4;
/// Times the monitor follows a log that grows while it reads before giving up on the report.
const ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    Http(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("fork: {0}")]
    Fork(String),
    #[error("entry {index}: {message}")]
    Entry { index: u64, message: String },
    #[error("root: {0}")]
    Root(String),
    #[error("report: {0}")]
    Report(String),
    #[error("state: {0}")]
    State(String),
}

impl MonitorError {
    /// Distinct exit codes: 1 the log failed verification, 2 the monitor could not run.
    pub fn exit_code(&self) -> u8 {
        match self {
            MonitorError::Http(_) | MonitorError::State(_) => 2,
            _ => 1,
        }
    }
}

pub struct Options {
    pub url: String,
    pub log_key: String,
    pub state: PathBuf,
    pub token: Option<String>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Allow plain `http://` to a host that is not loopback.
    pub insecure_http: bool,
    /// Witnesses whose cosignatures count (C2SP tlog-cosignature), and how many of them a
    /// checkpoint needs to be believed; 0 believes the log's signature alone.
    pub witnesses: Vec<crate::ledger::cosignature::WitnessKey>,
    pub quorum: usize,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub from_size: u64,
    pub size: u64,
    /// Entries downloaded and checked in this run (including released ones checked again).
    pub checked: u64,
    /// Entries still under embargo (public view): verified as leaves only.
    pub held: u64,
    pub seconds: f64,
    pub root: String,
}

impl Outcome {
    pub fn entries_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.checked as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One item of a page: an entry in full or the public stub of an embargoed one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stub {
    index: u64,
    leaf_hash: String,
    embargoed_until: String,
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
}

fn entry_err(index: u64, message: impl Into<String>) -> MonitorError {
    MonitorError::Entry {
        index,
        message: message.into(),
    }
}

/// What the monitor learnt of one position.
enum Item<'a> {
    Full {
        leaf: Hash,
        log_level: bool,
        bytes: &'a [u8],
        /// The entry's `prev`, checked by [`Checker::check`] against the leaf before it.
        chained: bool,
    },
    Stub {
        leaf: Hash,
    },
}

/// The checks of one item that need nothing from the entries before it (canonical form, leaf
/// hash, the stub's fields), done for a whole page on a blocking thread while other pages
/// download and the previous one is folded in.
enum Pre {
    Full {
        range: std::ops::Range<usize>,
        index: u64,
        prev: Option<Hash>,
        time: String,
        log_level: bool,
        leaf: Hash,
    },
    Stub {
        index: u64,
        leaf: Option<Hash>,
        until: Option<DateTime<Utc>>,
    },
    Bad(String),
}

/// A downloaded page with its items pre-checked.
struct Checked {
    body: actix_web::web::Bytes,
    items: Vec<Pre>,
}

fn precheck(body: actix_web::web::Bytes, start: u64, expected: u64) -> Result<Checked, MonitorError> {
    let page = parse_page(&body, start, expected)?;
    let base = body.as_ptr() as usize;
    let items = page
        .entries
        .iter()
        .map(|raw| {
            let text = raw.get();
            match check_entry(text.as_bytes()) {
                Ok(view) => {
                    let at = text.as_ptr() as usize - base;
                    Pre::Full {
                        range: at..at + text.len(),
                        index: view.index,
                        prev: parse_hex_hash(view.prev).ok(),
                        time: view.time.to_string(),
                        log_level: view.subject.is_none(),
                        leaf: leaf_hash(text.as_bytes()),
                    }
                }
                Err(canonical) => match serde_json::from_str::<Stub>(text) {
                    Ok(stub) => Pre::Stub {
                        index: stub.index,
                        leaf: parse_hex_hash(&stub.leaf_hash).ok(),
                        until: DateTime::parse_from_rfc3339(&stub.embargoed_until)
                            .ok()
                            .map(|t| t.with_timezone(&Utc)),
                    },
                    Err(_) => Pre::Bad(canonical.to_string()),
                },
            }
        })
        .collect();
    drop(page);
    Ok(Checked { body, items })
}

struct Checker {
    now: DateTime<Utc>,
    auditor: bool,
}

impl Checker {
    /// Finishes the checks of the item at `pos` whose predecessor's leaf is `prev`.
    fn check<'a>(
        &self,
        pre: &Pre,
        body: &'a [u8],
        pos: u64,
        prev: &Hash,
        last_time: &mut String,
    ) -> Result<Item<'a>, MonitorError> {
        let misplaced = |index: u64| entry_err(pos, format!("served at position {pos} but says index {index}"));
        match pre {
            Pre::Full {
                range,
                index,
                prev: claimed,
                time,
                log_level,
                leaf,
            } => {
                if *index != pos {
                    return Err(misplaced(*index));
                }
                if time.as_str() < last_time.as_str() {
                    return Err(entry_err(pos, "time goes backwards"));
                }
                last_time.clone_from(time);
                Ok(Item::Full {
                    leaf: *leaf,
                    log_level: *log_level,
                    bytes: &body[range.clone()],
                    chained: claimed.as_ref() == Some(prev),
                })
            }
            Pre::Stub { index, leaf, until } => {
                if self.auditor {
                    return Err(entry_err(pos, "withheld from an auditor"));
                }
                if *index != pos {
                    return Err(misplaced(*index));
                }
                let until = until.ok_or_else(|| entry_err(pos, "embargoed_until is not RFC 3339"))?;
                if until <= self.now {
                    return Err(entry_err(pos, "withheld although its embargo has ended"));
                }
                let leaf = leaf.ok_or_else(|| entry_err(pos, "leaf_hash is not 64 hex digits"))?;
                Ok(Item::Stub { leaf })
            }
            Pre::Bad(message) => Err(entry_err(pos, message.clone())),
        }
    }
}

/// Pages of `start..end`, fetched and pre-checked `PARALLEL` at a time, yielded in order.
fn pages(
    client: &Client,
    start: u64,
    end: u64,
) -> impl futures_util::Stream<Item = (u64, Result<Checked, MonitorError>)> + '_ {
    let starts: Vec<u64> = (start..end).step_by(PAGE as usize).collect();
    futures_util::stream::iter(starts)
        .map(move |s| async move {
            let limit = PAGE.min(end - s);
            let checked = match client.get(&format!("/v1/log/entries?start={s}&limit={limit}")).await {
                Ok(body) => tokio::task::spawn_blocking(move || precheck(body, s, limit))
                    .await
                    .unwrap_or_else(|e| Err(MonitorError::Http(format!("page {s}: {e}")))),
                Err(e) => Err(e),
            };
            (s, checked)
        })
        .buffered(PARALLEL)
}

fn parse_page(bytes: &[u8], start: u64, expected: u64) -> Result<Page<'_>, MonitorError> {
    let page: Page = serde_json::from_slice(bytes).map_err(|e| entry_err(start, format!("page is not JSON: {e}")))?;
    if page.entries.len() as u64 != expected {
        return Err(entry_err(
            start + page.entries.len() as u64,
            format!(
                "page from {start} has {} entries, expected {expected}",
                page.entries.len()
            ),
        ));
    }
    Ok(page)
}

fn progress_bar(show: bool, len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !show || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        // Whole entries per second with thousands separators ("15,730 entries/s"), not
        // indicatif's default "15729.8231/s".
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {human_pos}/{human_len} entries ({rate}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} entries/s", indicatif::HumanCount(state.per_sec() as u64));
            },
        )
        .progress_chars("=> "),
    );
    bar.set_message("verifying");
    bar
}

/// Runs the monitor once; saves the new state only when everything verified.
pub async fn audit(opts: &Options) -> Result<Outcome, MonitorError> {
    let started = Instant::now();
    let verifier = LogVerifier::new(&opts.log_key).map_err(|e| MonitorError::Checkpoint(format!("log key: {e}")))?;
    let client = Client::new(&opts.url, opts.token.clone(), opts.insecure_http)?;
    let mut st = State::load(&opts.state, &opts.log_key)?;
    let from_size = st.size;
    let checker = Checker {
        now: Utc::now(),
        auditor: client.with_token(),
    };
    let mut edge = CompactRange::try_from(&st.edge).map_err(|e| MonitorError::State(e.to_string()))?;
    let mut checked = 0u64;

    checked += recheck_held(&client, &checker, &mut st).await?;

    for _ in 0..ATTEMPTS {
        let note = String::from_utf8_lossy(&client.get("/v1/log/checkpoint").await?).into_owned();
        let cp = verifier
            .verify(&note)
            .map_err(|e| MonitorError::Checkpoint(e.to_string()))?;
        if opts.quorum > 0 {
            crate::ledger::cosignature::require_quorum(note.as_bytes(), &opts.witnesses, opts.quorum)
                .map_err(|e| MonitorError::Checkpoint(e.to_string()))?;
        }
        prove_consistency(&client, &st, &cp).await?;

        let bar = progress_bar(opts.progress, cp.size - st.size);
        let mut prev = parse_hex_hash(&st.last_leaf).map_err(|e| MonitorError::State(e.to_string()))?;
        // Leaf of the last entry folded in order, when it moved in this run (hex only at the end).
        let mut released_prev: Option<Hash> = None;
        let mut leaves = Vec::with_capacity((cp.size - st.size) as usize);
        let mut stream = std::pin::pin!(pages(&client, st.size, cp.size));
        while let Some((start, page)) = stream.next().await {
            let page = page?;
            let expected = page.items.len() as u64;
            for (k, pre) in page.items.iter().enumerate() {
                let pos = start + k as u64;
                let item = checker.check(pre, &page.body, pos, &prev, &mut st.last_time)?;
                let leaf = match item {
                    Item::Full { chained: false, .. } => {
                        return Err(chain_break(&client, pos, prev, st.size, &cp).await)
                    }
                    Item::Full {
                        leaf, log_level, bytes, ..
                    } => {
                        if log_level || st.held.is_empty() {
                            st.tally.feed(bytes).map_err(|e| entry_err(pos, e.to_string()))?;
                        }
                        if st.held.is_empty() {
                            st.released = pos + 1;
                            released_prev = Some(leaf);
                        } else {
                            st.held.push(Held {
                                leaf: hex_hash(&leaf),
                                fed: log_level,
                            });
                        }
                        leaf
                    }
                    Item::Stub { leaf } => {
                        st.held.push(Held {
                            leaf: hex_hash(&leaf),
                            fed: false,
                        });
                        leaf
                    }
                };
                edge.push(leaf);
                leaves.push(leaf);
                prev = leaf;
            }
            checked += expected;
            bar.inc(expected);
        }
        bar.finish_and_clear();
        let root = edge
            .root()
            .ok_or_else(|| MonitorError::Root("the log is empty".into()))?;
        if root != cp.root {
            return Err(root_mismatch(&client, st.size, &leaves, &cp).await);
        }
        st.size = cp.size;
        st.root = hex_hash(&cp.root);
        st.keep_cosigned(&note);
        st.checkpoint = note;
        st.last_leaf = hex_hash(&prev);
        if let Some(leaf) = released_prev {
            st.released_prev = hex_hash(&leaf);
        }
        st.edge = StoredRange::from(&edge);

        if compare_report(&client, &st, &cp).await? {
            st.save(&opts.state)?;
            return Ok(Outcome {
                from_size,
                size: st.size,
                checked,
                held: st.held.len() as u64,
                seconds: started.elapsed().as_secs_f64(),
                root: st.root.clone(),
            });
        }
    }
    Err(MonitorError::Report(format!(
        "the log grew during each of {ATTEMPTS} attempts to compare the report; nothing saved"
    )))
}

/// C2SP tlog-tiles index path element: `1234067` is `x001/x234/067`.
fn c2sp_index(mut n: u64) -> String {
    let mut groups = Vec::new();
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The leaves of `start..cp.size` do not give the signed root: the log's level-0 hash tiles
/// (the leaf hashes the signed tree holds) name the first entry whose bytes differ.
async fn root_mismatch(client: &Client, start: u64, leaves: &[Hash], cp: &SignedCheckpoint) -> MonitorError {
    for tile in start / 256..cp.size.div_ceil(256) {
        let width = 256.min(cp.size - tile * 256);
        let path = if width == 256 {
            format!("/tile/0/{}", c2sp_index(tile))
        } else {
            format!("/tile/0/{}.p/{width}", c2sp_index(tile))
        };
        let Ok(body) = client.get(&path).await else { break };
        for (k, stored) in body.chunks_exact(32).enumerate() {
            let pos = tile * 256 + k as u64;
            if pos >= start && leaves.get((pos - start) as usize).is_some_and(|l| l.0 != stored) {
                return entry_err(pos, "altered: its bytes do not hash to the leaf the signed tree holds");
            }
        }
    }
    MonitorError::Root(format!(
        "the entries served do not hash to the signed root at size {}",
        cp.size
    ))
}

/// Entry `pos` does not chain to entry `pos - 1`: either `pos - 1` was altered (its bytes no
/// longer hash to the leaf the signed tree holds) or `pos` was. An inclusion proof of the
/// recomputed leaf of `pos - 1` against the signed root tells which; an entry the monitor
/// trusted before this run (below `trusted`) is not suspect.
async fn chain_break(client: &Client, pos: u64, prev_leaf: Hash, trusted: u64, cp: &SignedCheckpoint) -> MonitorError {
    let Some(before) = pos.checked_sub(1) else {
        return entry_err(0, "the first entry's prev is not 64 zeros");
    };
    if before >= trusted {
        let included = async {
            let body = client
                .get(&format!("/v1/log/proof/inclusion?index={before}&size={}", cp.size))
                .await
                .ok()?;
            let proof: crate::log::proof::InclusionProof = serde_json::from_slice(&body).ok()?;
            let hashes = proof
                .proof
                .iter()
                .map(|h| parse_hex_hash(h))
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            merkle::check_inclusion(&hashes, cp.size, cp.root, before, prev_leaf).ok()
        }
        .await;
        if included.is_none() {
            return entry_err(
                before,
                "altered: its bytes no longer hash to the leaf the signed tree holds (the next entry's prev names the original)",
            );
        }
    }
    entry_err(pos, "altered: its prev does not name the entry before it")
}

/// RFC 9162 §2.1.4 from the trusted checkpoint to `cp`.
async fn prove_consistency(client: &Client, st: &State, cp: &SignedCheckpoint) -> Result<(), MonitorError> {
    if st.size == 0 {
        return Ok(());
    }
    let trusted = parse_hex_hash(&st.root).map_err(|e| MonitorError::State(e.to_string()))?;
    if cp.size < st.size {
        return Err(MonitorError::Fork(format!(
            "the log now signs size {} but size {} was trusted: a rollback",
            cp.size, st.size
        )));
    }
    if cp.size == st.size {
        return if cp.root == trusted {
            Ok(())
        } else {
            Err(MonitorError::Fork(format!(
                "the log signs another root at the trusted size {}",
                st.size
            )))
        };
    }
    let body = client
        .get(&format!("/v1/log/proof/consistency?from={}&to={}", st.size, cp.size))
        .await?;
    let proof: crate::log::proof::ConsistencyProof =
        serde_json::from_slice(&body).map_err(|e| MonitorError::Fork(format!("consistency proof: {e}")))?;
    let hashes = proof
        .proof
        .iter()
        .map(|h| parse_hex_hash(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MonitorError::Fork(format!("consistency proof: {e}")))?;
    merkle::check_consistency(&hashes, st.size, trusted, cp.size, cp.root).map_err(|e| {
        MonitorError::Fork(format!(
            "the tree of size {} does not extend the trusted tree of size {}: {e}",
            cp.size, st.size
        ))
    })
}

/// Entries verified earlier as leaves only (embargoed, or after one): those now released are
/// checked against the leaf verified then and folded into the report, in log order.
async fn recheck_held(client: &Client, checker: &Checker, st: &mut State) -> Result<u64, MonitorError> {
    if st.held.is_empty() {
        return Ok(0);
    }
    let (start, end) = (st.released, st.released + st.held.len() as u64);
    let mut prev = parse_hex_hash(&st.released_prev).map_err(|e| MonitorError::State(e.to_string()))?;
    let mut last_time = String::new();
    let mut done = 0usize;
    let result = async {
        let mut stream = std::pin::pin!(pages(client, start, end));
        while let Some((page_start, page)) = stream.next().await {
            let page = page?;
            for (k, pre) in page.items.iter().enumerate() {
                let pos = page_start + k as u64;
                let Item::Full {
                    leaf, bytes, chained, ..
                } = checker.check(pre, &page.body, pos, &prev, &mut last_time)?
                else {
                    return Ok(()); // still under embargo, and so is everything after it
                };
                if !chained {
                    return Err(entry_err(pos, "its prev does not name the entry before it"));
                }
                let held = &st.held[done];
                if hex_hash(&leaf) != held.leaf {
                    return Err(entry_err(
                        pos,
                        "differs from the leaf hash verified while it was under embargo",
                    ));
                }
                if !held.fed {
                    st.tally.feed(bytes).map_err(|e| entry_err(pos, e.to_string()))?;
                }
                done += 1;
                st.released = pos + 1;
                st.released_prev = hex_hash(&leaf);
                prev = leaf;
            }
        }
        Ok(())
    }
    .await;
    st.held.drain(..done);
    result.map(|()| done as u64)
}

/// Fetches the server's report and compares it with the one the entries give. `Ok(false)`
/// when the report was computed at a newer checkpoint (the log grew): try again.
async fn compare_report(client: &Client, st: &State, cp: &SignedCheckpoint) -> Result<bool, MonitorError> {
    let body = client.get("/v1/reports/transparency").await?;
    let served: Report =
        serde_json::from_slice(&body).map_err(|e| MonitorError::Report(format!("not a report: {e}")))?;
    if served.checkpoint.size > cp.size {
        return Ok(false);
    }
    let root = hex_hash(&cp.root);
    if served.checkpoint != (ReportCheckpoint { size: cp.size, root }) {
        return Err(MonitorError::Report(format!(
            "computed at size {} with another root than the checkpoint of that size, or at an older size",
            served.checkpoint.size
        )));
    }
    let audience = if client.with_token() {
        Audience::Auditor
    } else {
        let as_of = DateTime::parse_from_rfc3339(&served.as_of)
            .map_err(|_| MonitorError::Report("as_of is not RFC 3339".into()))?
            .with_timezone(&Utc);
        Audience::Public { as_of }
    };
    let mine = Report::build(&st.tally, served.checkpoint.clone(), audience, Scope::default());
    if mine.view != served.view {
        return Err(MonitorError::Report(format!(
            "the server answered the {} view",
            served.view
        )));
    }
    if let Some(d) = first_difference(&mine, &served) {
        return Err(MonitorError::Report(d));
    }
    Ok(true)
}

/// Names the first row where the server's report and the recomputed one differ.
fn first_difference(mine: &Report, served: &Report) -> Option<String> {
    let describe = |r: &crate::reports::report::LiveRow| {
        format!(
            "{} {} {} {}",
            r.quarter,
            r.country,
            r.instrument,
            if r.emergency { "emergency" } else { "routine" }
        )
    };
    for r in &served.live {
        match mine.live.iter().find(|m| describe(m) == describe(r)) {
            None => {
                return Some(format!(
                    "the server reports {} but the entries give no such row",
                    describe(r)
                ))
            }
            Some(m) if m != r => {
                return Some(format!(
                    "row {}: the server says {}, the entries give {}",
                    describe(r),
                    serde_json::to_string(r).unwrap_or_default(),
                    serde_json::to_string(m).unwrap_or_default()
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(m) = mine
        .live
        .iter()
        .find(|m| !served.live.iter().any(|r| describe(r) == describe(m)))
    {
        return Some(format!("the entries give row {} but the server omits it", describe(m)));
    }
    if mine.imported.requests != served.imported.requests {
        return Some("imported request figures differ from the entries".into());
    }
    if mine.imported.aggregates != served.imported.aggregates {
        return Some("imported aggregate declarations differ from the entries".into());
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn tile_indexes_are_written_in_groups_of_three_digits() {
        assert_eq!(super::c2sp_index(0), "000");
        assert_eq!(super::c2sp_index(67), "067");
        assert_eq!(super::c2sp_index(1000), "x001/000");
        assert_eq!(super::c2sp_index(1234067), "x001/x234/067");
    }
}
