//! The log's stored cosignatures and the checkpoint it serves from them.

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::store::schema::{checkpoints, cosignatures};
use crate::store::{queries, DbConnection, StoreError};

/// Keeps one witness's cosignature line of the checkpoint of `size`; a second one for the same
/// size and witness (another process of this log got one too) is dropped.
pub fn insert(conn: &mut DbConnection, size: u64, witness: &str, line: &str, at: u64) -> Result<(), StoreError> {
    let row = (
        cosignatures::size.eq(size as i64),
        cosignatures::witness.eq(witness),
        cosignatures::line.eq(line),
        cosignatures::cosigned_at.eq(at as i64),
    );
    let insert = diesel::insert_into(cosignatures::table).values(row);
    match conn {
        DbConnection::Postgresql(c) => insert.on_conflict_do_nothing().execute(c)?,
        DbConnection::Sqlite(c) => insert.on_conflict_do_nothing().execute(c)?,
    };
    Ok(())
}

/// The largest checkpoint size cosigned by at least `quorum` witnesses (quorum ≥ 1).
pub fn largest_with_quorum(conn: &mut DbConnection, quorum: usize) -> Result<Option<u64>, StoreError> {
    let size: Option<i64> = cosignatures::table
        .group_by(cosignatures::size)
        .having(count_star().ge(quorum.max(1) as i64))
        .select(cosignatures::size)
        .order(cosignatures::size.desc())
        .first(conn)
        .optional()?;
    Ok(size.map(|s| s as u64))
}

/// The cosignature lines of the checkpoint of `size`, by witness name.
pub fn lines(conn: &mut DbConnection, size: u64) -> Result<Vec<(String, String)>, StoreError> {
    Ok(cosignatures::table
        .filter(cosignatures::size.eq(size as i64))
        .select((cosignatures::witness, cosignatures::line))
        .order(cosignatures::witness.asc())
        .load(conn)?)
}

/// A checkpoint as served: the log-signed note followed by the witnesses' cosignature lines.
#[derive(Debug, Clone)]
pub struct ServedCheckpoint {
    pub size: u64,
    pub note: String,
    /// Names of the witnesses whose cosignatures the note carries.
    pub witnesses: Vec<String>,
}

/// The checkpoint of `size` with its cosignatures, if the log signed one at that size.
pub fn at_size(conn: &mut DbConnection, size: u64) -> Result<Option<ServedCheckpoint>, StoreError> {
    let note: Option<String> = checkpoints::table
        .filter(checkpoints::size.eq(size as i64))
        .select(checkpoints::note)
        .first(conn)
        .optional()?;
    let Some(mut note) = note else { return Ok(None) };
    let lines = lines(conn, size)?;
    for (_, line) in &lines {
        note.push_str(line);
    }
    Ok(Some(ServedCheckpoint {
        size,
        note,
        witnesses: lines.into_iter().map(|(w, _)| w).collect(),
    }))
}

/// The checkpoint to serve: with `quorum` ≥ 1, the newest one at least `quorum` witnesses
/// cosigned (none until the first is), so that what is served never goes back; otherwise the
/// newest one, with whatever cosignatures it has.
pub fn served(conn: &mut DbConnection, quorum: usize) -> Result<Option<ServedCheckpoint>, StoreError> {
    if quorum > 0 {
        return match largest_with_quorum(conn, quorum)? {
            Some(size) => at_size(conn, size),
            None => Ok(None),
        };
    }
    match queries::latest_checkpoint(conn)? {
        Some((size, _)) => at_size(conn, size as u64),
        None => Ok(None),
    }
}
