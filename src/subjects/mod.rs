//! The affected user (DESIGN §4.4): whoever holds what a notification hands over — request id,
//! identifier kind, raw value and nonce — can have the ledger show, with inclusion proofs, the
//! entries of that request that commit to the identifier. Without the nonce the commitment
//! cannot be computed, so the endpoint tells nothing to anyone else.

pub mod check;
pub mod prove;

pub use check::{check_proof, ProvenEntry};
pub use prove::{SubjectClaim, SubjectProof};
