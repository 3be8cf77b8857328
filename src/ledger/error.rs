use thiserror::Error;

/// Every way the pure ledger core can refuse its input. One flat enum, so that callers map
/// each case to exactly one answer (an HTTP status, an exit code) without string matching.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("entry is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("entry does not have the form of DESIGN §4.1: {0}")]
    MalformedEntry(String),
    #[error("floating-point numbers are not allowed in an entry")]
    FloatInEntry,
    #[error("entry bytes are not in RFC 8785 canonical form")]
    NotCanonical,
    #[error("a hash must be 64 hex digits (got {0} characters)")]
    MalformedHash(usize),
    #[error("Merkle proof: {0}")]
    Proof(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("{kind} identifier is malformed: {reason}")]
    MalformedIdentifier { kind: String, reason: String },
    /// The kind given is not echoed: a caller may have put a value where the kind belongs.
    #[error("unknown identifier kind: expected phone_number, ip_address, username or user_id")]
    UnknownIdentifierKind,
}
