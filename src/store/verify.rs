//! Full re-verification of a stored ledger, the way an auditor holding a copy of the database
//! would do it: trust nothing stored but the log's public key (and, optionally, checkpoints
//! obtained earlier from the log).
//!
//! For every entry in index order: the row's index is its position; its bytes are an entry in
//! canonical form (checked in one pass by `ledger::canonical_check`, several rows at a time); `prev` is the recomputed leaf hash of the entry before; its
//! recomputed leaf hash equals the stored one. Then the recomputed tree must reproduce every
//! stored tree hash, and every stored (and every given) checkpoint must carry a valid signature
//! and the recomputed root at its size. A history rewritten consistently — entries, hashes
//! and all — is caught by the first checkpoint signed before the rewrite.

use std::time::Instant;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Binary;

use super::schema::entries;
use super::{per_backend, queries, DbConnection, StoreError};
use crate::ledger::{
    canonical_check::check_entry, entry::leaf_hash, hex_hash, merkle, merkle::MemoryHashes, Hash, LogVerifier,
};

/// The `prev` of entry 0.
const GENESIS_PREV_BYTES: [u8; 32] = [0; 32];

const PAGE: u64 = 16_384;

/// Where verification first failed. `index` names the entry when one can be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    pub index: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub seconds: f64,
    pub failure: Option<VerifyFailure>,
    /// Entries whose sealed details retention destroyed, each accounted for by its request's
    /// `retention.shredded` entry (not a failure: what the law asks for).
    pub shredded: u64,
}

impl VerifyReport {
    pub fn entries_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.entries as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn fail(index: Option<u64>, message: String) -> Option<VerifyFailure> {
    Some(VerifyFailure { index, message })
}

/// Verifies the whole ledger behind `conn`. `trusted` are signed checkpoints obtained from the
/// log earlier (as a monitor keeps them); `progress` is told the number of entries checked.
pub fn verify_ledger(
    conn: &mut DbConnection,
    verifier: &LogVerifier,
    trusted: &[String],
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let started = Instant::now();
    let mut tree = MemoryHashes::new();
    let mut sealing = Vec::new();
    let failure = check_entries(conn, &mut tree, &mut sealing, &mut progress)?;
    let size = tree.size();
    let mut checked_checkpoints = 0;
    let mut shredded = 0;
    let failure = match failure {
        Some(f) => Some(f),
        None => check_tail(conn, &tree)?
            .or(check_checkpoints(
                conn,
                verifier,
                trusted,
                &tree,
                &mut checked_checkpoints,
            )?)
            .or(check_sealed(conn, &sealing, &mut shredded)?),
    };
    Ok(VerifyReport {
        entries: size,
        checkpoints: checked_checkpoints,
        seconds: started.elapsed().as_secs_f64(),
        failure,
        shredded,
    })
}

#[derive(diesel::QueryableByName)]
struct Saltless {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    idx: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    accounted: bool,
}

const SALTLESS_SQL: &str = "SELECT sd.entry_idx AS idx, (s.idx IS NOT NULL) AS accounted \
     FROM sealed_details sd JOIN entries e ON e.idx = sd.entry_idx \
     LEFT JOIN requests r ON r.id = e.subject \
     LEFT JOIN entries s ON s.idx = r.shredded_entry AND s.kind = 'retention.shredded' AND s.subject = e.subject \
     WHERE sd.salt IS NULL ORDER BY sd.entry_idx";

/// Every entry that seals details has them, or retention destroyed them: a salt missing without
/// a `retention.shredded` entry of its request (one that exists, of that kind and subject) is
/// a failure naming the entry ("missing"), one accounted for is counted in `shredded`.
/// `sealing` are the indexes of the entries whose `sealed` is not null, ascending, as the entry
/// pass read them from the entries' bytes (so no second scan of the entries is needed).
fn check_sealed(
    conn: &mut DbConnection,
    sealing: &[u64],
    shredded: &mut u64,
) -> Result<Option<VerifyFailure>, StoreError> {
    use super::schema::sealed_details;
    let kept: Vec<i64> = sealed_details::table
        .select(sealed_details::entry_idx)
        .order(sealed_details::entry_idx.asc())
        .load(conn)?;
    // Both ascending: the first sealing entry with no row is the one to name.
    let mut rows = kept.iter().map(|&i| i as u64).peekable();
    for &i in sealing {
        while rows.next_if(|&r| r < i).is_some() {}
        if rows.next_if_eq(&i).is_none() {
            return Ok(fail(Some(i), "its sealed details are missing".into()));
        }
    }
    // Each saltless row with whether a `retention.shredded` entry of its request, named by the
    // request's `shredded_entry`, accounts for it: one statement, not two reads per row (the
    // rows grow with everything retention ever shredded).
    let saltless: Vec<Saltless> = per_backend!(conn, c => diesel::sql_query(SALTLESS_SQL).load(c))?;
    for Saltless { idx, accounted } in saltless {
        if !accounted {
            return Ok(fail(
                Some(idx as u64),
                "its sealed details lost their salt, and no retention.shredded entry accounts for it (missing, not shredded)"
                    .into(),
            ));
        }
        *shredded += 1;
    }
    Ok(None)
}

/// One page of the log as the reader thread delivers it: rows with `idx` in
/// `[first, first + PAGE)`, and the stored tree hashes written with those entries, indexed
/// from `stored_hash_index(0, first)`.
struct Page {
    first: u64,
    rows: Vec<(i64, Vec<u8>)>,
    hashes: Vec<Option<Hash>>,
}

fn read_page(conn: &mut DbConnection, first: u64) -> Result<Page, StoreError> {
    // The bytes as stored, not a `String`: `check_entry` checks UTF-8 itself, so decoding
    // them as text first would check every byte twice.
    let range = entries::idx
        .ge(first as i64)
        .and(entries::idx.lt((first + PAGE) as i64));
    let rows: Vec<(i64, Vec<u8>)> = match conn {
        DbConnection::Sqlite(c) => entries::table
            .select((entries::idx, sql::<Binary>("CAST(canonical AS BLOB)")))
            .filter(range)
            .order(entries::idx.asc())
            .load(c)?,
        DbConnection::Postgresql(c) => entries::table
            .select((entries::idx, sql::<Binary>("convert_to(canonical, 'UTF8')")))
            .filter(range)
            .order(entries::idx.asc())
            .load(c)?,
    };
    let lo = merkle::stored_hash_index(0, first);
    let hi = merkle::stored_hash_index(0, first + PAGE);
    let hashes = super::hashes::read_range(conn, lo, hi)?;
    Ok(Page { first, rows, hashes })
}

/// What the parallel part of the entry pass learns of one row.
struct Checked {
    index: u64,
    prev: Hash,
    leaf: Hash,
    sealed: bool,
}

/// Canonical form, member types and leaf hash of each row: independent per entry, so split
/// across the machine's cores. The chain and tree checks that follow are sequential.
fn check_rows(rows: &[(i64, Vec<u8>)]) -> Vec<Result<Checked, String>> {
    let one = |(_, canonical): &(i64, Vec<u8>)| -> Result<Checked, String> {
        let view = check_entry(canonical).map_err(|e| e.to_string())?;
        let prev = crate::ledger::decode_lower_hex64(view.prev).ok_or("prev is not 64 hex digits")?;
        Ok(Checked {
            index: view.index,
            prev,
            leaf: leaf_hash(canonical),
            sealed: view.sealed.is_some(),
        })
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads < 2 || rows.len() < 1024 {
        return rows.iter().map(one).collect();
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("verify worker panicked"))
            .collect()
    })
}

/// The entry pass, a pipeline of three threads a page apart: a reader fetches pages from the
/// database, a checker checks each page's rows on all cores (`check_rows`), and this thread
/// chains them and adds them to the tree in order.
fn check_entries(
    conn: &mut DbConnection,
    tree: &mut MemoryHashes,
    sealing: &mut Vec<u64>,
    progress: &mut impl FnMut(u64),
) -> Result<Option<VerifyFailure>, StoreError> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Page, StoreError>>(1);
        s.spawn(move || {
            let mut first = 0;
            loop {
                let page = read_page(conn, first);
                let done = matches!(&page, Ok(p) if (p.rows.len() as u64) < PAGE) || page.is_err();
                if tx.send(page).is_err() || done {
                    return;
                }
                first += PAGE;
            }
        });
        // The per-row checks of a page run (on all cores) while this thread chains and hashes
        // the page before it: three stages, each a page apart.
        let (checked_tx, checked_rx) = std::sync::mpsc::sync_channel::<Result<(Page, Vec<_>), StoreError>>(1);
        s.spawn(move || {
            for page in rx {
                let checked = page.map(|p| {
                    let c = check_rows(&p.rows);
                    (p, c)
                });
                if checked_tx.send(checked).is_err() {
                    return;
                }
            }
        });
        let mut expected_prev = Hash(GENESIS_PREV_BYTES);
        let mut pos: u64 = 0;
        for page in checked_rx {
            let (page, checked_rows) = page?;
            let hash_base = merkle::stored_hash_index(0, page.first);
            for ((idx, _), checked) in page.rows.iter().zip(checked_rows) {
                if *idx as u64 != pos {
                    return Ok(fail(
                        Some(pos),
                        format!("entry {pos} is missing: the next stored entry is {idx}"),
                    ));
                }
                let c = match checked {
                    Ok(c) => c,
                    Err(e) => return Ok(fail(Some(pos), format!("entry {pos}: {e}"))),
                };
                if c.index != pos {
                    return Ok(fail(
                        Some(pos),
                        format!("entry {pos}: entry at position {pos} says index {}", c.index),
                    ));
                }
                if c.prev != expected_prev {
                    return Ok(fail(
                        Some(pos),
                        format!(
                            "entry {pos}: prev {} does not match the leaf hash {} of entry {}",
                            hex_hash(&c.prev),
                            hex_hash(&expected_prev),
                            pos.wrapping_sub(1)
                        ),
                    ));
                }
                let first_new = merkle::stored_hash_index(0, pos);
                for (k, h) in tree.push(c.leaf)?.iter().enumerate() {
                    let id = first_new + k as u64;
                    match page.hashes.get((id - hash_base) as usize).copied().flatten() {
                        Some(s) if s == *h => {}
                        Some(_) if k == 0 => {
                            return Ok(fail(
                                Some(pos),
                                format!("entry {pos}: its leaf hash recomputed from its bytes does not match the stored one: the entry or its stored hash was changed after it was written"),
                            ))
                        }
                        Some(_) => {
                            return Ok(fail(Some(pos), format!("stored tree hash {id} (completed by entry {pos}) does not match the entries")))
                        }
                        None => return Ok(fail(Some(pos), format!("stored tree hash {id} (written with entry {pos}) is missing or malformed"))),
                    }
                }
                if c.sealed {
                    sealing.push(pos);
                }
                expected_prev = c.leaf;
                pos += 1;
            }
            progress(pos);
            if (page.rows.len() as u64) < PAGE && pos == page.first + page.rows.len() as u64 {
                break;
            }
        }
        Ok(None)
    })
}

/// The head row and the hash table must end where the entries end.
fn check_tail(conn: &mut DbConnection, tree: &MemoryHashes) -> Result<Option<VerifyFailure>, StoreError> {
    let size = tree.size();
    let head = queries::head_size(conn)?;
    if head != size {
        return Ok(fail(
            Some(head.min(size)),
            format!(
                "the log head says {head} entries but {size} are stored: entries from {} on are missing",
                head.min(size)
            ),
        ));
    }
    let expected = merkle::stored_hash_count(size);
    if super::hashes::rows_beyond(conn, expected)? {
        return Ok(fail(
            Some(size),
            format!("stored tree hashes go beyond what the {size} stored entries wrote, or a row lies outside the tree: entries were truncated, or hashes added"),
        ));
    }
    Ok(None)
}

fn check_checkpoints(
    conn: &mut DbConnection,
    verifier: &LogVerifier,
    trusted: &[String],
    tree: &MemoryHashes,
    checked: &mut u64,
) -> Result<Option<VerifyFailure>, StoreError> {
    let size = tree.size();
    // (size, outcome) for every checkpoint; a bad one is reported against the entries it covers.
    let mut notes: Vec<NoteToCheck> = queries::all_checkpoints(conn)?
        .into_iter()
        .map(|(s, root, note)| (note, Some((s, root))))
        .collect();
    notes.extend(trusted.iter().map(|n| (n.clone(), None)));
    let mut verified: Vec<(u64, bool)> = Vec::with_capacity(notes.len());
    for (note, row) in &notes {
        *checked += 1;
        let cp = match verifier.verify(note) {
            Ok(cp) => cp,
            Err(e) => {
                let at = row.as_ref().map(|r| r.0).unwrap_or(-1);
                return Ok(fail(
                    None,
                    format!("checkpoint stored for size {at} does not verify: {e}"),
                ));
            }
        };
        if let Some((row_size, row_root)) = row {
            if *row_size as u64 != cp.size || row_root.as_slice() != cp.root.0 {
                return Ok(fail(
                    None,
                    format!("checkpoint row for size {row_size} does not match its signed note"),
                ));
            }
        }
        if cp.size > size {
            return Ok(fail(
                Some(size),
                format!("a checkpoint signed for size {} exists but only {size} entries are stored: entries from {size} on are missing", cp.size),
            ));
        }
        let ok = cp.size == 0 || merkle::root(cp.size, tree)? == cp.root;
        verified.push((cp.size, ok));
    }
    verified.sort();
    if let Some(&(bad, _)) = verified.iter().find(|(_, ok)| !ok) {
        let good = verified
            .iter()
            .filter(|(s, ok)| *ok && *s < bad)
            .map(|(s, _)| *s)
            .max()
            .unwrap_or(0);
        let which = if bad - good == 1 {
            format!("entry {good} was")
        } else {
            format!("entries {good} to {} were", bad - 1)
        };
        return Ok(fail(
            Some(good),
            format!("the checkpoint signed for size {bad} does not match the stored entries: {which} rewritten after it was signed"),
        ));
    }
    Ok(None)
}

/// A signed note to check, with its stored row's `(size, root)` when it came from the database.
type NoteToCheck = (String, Option<(i64, Vec<u8>)>);
