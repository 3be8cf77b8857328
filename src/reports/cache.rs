//! The server keeps one [`Tally`] and folds in the entries committed since it last looked, so
//! that a report over a million entries costs a catch-up of the new entries plus the rendering,
//! not a scan of the log. The first report after a start pays for the whole scan.

use std::sync::Mutex;

use super::report::ReportCheckpoint;
use super::tally::Tally;
use crate::store::{queries, DbConnection, StoreError};

const PAGE: u64 = 10_000;

#[derive(Default)]
pub struct ReportCache {
    inner: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    tally: Tally,
    /// Entries `0..size` have been folded in.
    size: u64,
    root: String,
}

impl ReportCache {
    /// Brings the tally up to the checkpoint served (`quorum`: see
    /// [`crate::cosigning::store::served`]) and hands it, with that checkpoint, to `f`; a monitor
    /// then compares the report with the checkpoint it was served.
    pub fn with_latest<T>(
        &self,
        conn: &mut DbConnection,
        quorum: usize,
        f: impl FnOnce(&Tally, ReportCheckpoint) -> T,
    ) -> Result<T, StoreError> {
        let mut cached = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (size, note) = crate::cosigning::store::served(conn, quorum)?
            .map(|cp| (cp.size, cp.note))
            .unwrap_or((0, String::new()));
        if size < cached.size {
            return Err(StoreError::Corrupt(format!(
                "the newest checkpoint ({size}) is older than entries already reported ({})",
                cached.size
            )));
        }
        while cached.size < size {
            let page = queries::entries_page(conn, cached.size, PAGE.min(size - cached.size))?;
            if page.is_empty() {
                return Err(StoreError::Corrupt(format!("entry {} is missing", cached.size)));
            }
            for e in page {
                if e.idx as u64 != cached.size {
                    return Err(StoreError::Corrupt(format!("entry {} is missing", cached.size)));
                }
                cached.tally.feed(e.canonical.as_bytes())?;
                cached.size += 1;
            }
        }
        if size > 0 {
            use base64::Engine;
            let b64 = note.lines().nth(2).unwrap_or_default();
            let root = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| StoreError::Corrupt("the newest checkpoint's root is not base64".into()))?;
            cached.root = hex::encode(root);
        }
        let checkpoint = ReportCheckpoint {
            size,
            root: cached.root.clone(),
        };
        Ok(f(&cached.tally, checkpoint))
    }
}
