//! Retention (DESIGN §4.4; GDPR Art. 5(1)(c) and (e)): after a request is closed, and past the
//! policy's `[ledger_retention]`, the raw identifiers and nonces of the vault and the salts and
//! restricted details of the request's sealed entries are crypto-shredded, each request with a
//! `retention.shredded` entry. Every entry, leaf hash and proof stays, so everything public
//! still verifies; what can no longer be opened is the sealed part.
//!
//! - [`due`]: when a request is due (pure);
//! - [`shred`]: the shredding step the sweeper runs as an append operation;
//! - [`hold`]: legal hold, placed and lifted by entries;
//! - [`view`]: `GET /v1/retention`.

pub mod due;
pub mod hold;
pub mod shred;
pub mod view;
