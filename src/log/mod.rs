//! `/v1/log/*`: what every client of a transparency log needs — the verifier key, the newest
//! signed checkpoint, entries, and inclusion and consistency proofs. One file per action.

pub mod checkpoint;
pub mod embargo;
pub mod entries;
pub mod key;
pub mod proof;
mod receipt;
pub mod tiles;
pub mod witnesses;

pub use embargo::embargo_ends;
pub use entries::{EmbargoedEntry, EntryPage};
pub use proof::{ConsistencyProof, InclusionProof};
pub use receipt::{EntryReceipt, ReceiptEntry, Wait};
