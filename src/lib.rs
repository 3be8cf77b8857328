//! Disclosure Ledger: a verifiable, append-only record of law-enforcement data disclosure
//! requests. `ledger` is the pure format core; `store` the database and append path; the
//! area folders hold the HTTP handlers; `app` assembles them. `main.rs` is only the CLI.

pub mod app;
pub mod audit;
pub mod auth;
pub mod authorities;
pub mod body;
pub mod cache;
pub mod config;
pub mod cosigning;
pub mod error;
pub mod files;
pub mod idempotency;
pub mod imports;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod log;
pub mod methods;
pub mod metrics;
pub mod monitor;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod policy;
pub mod replica;
pub mod reports;
pub mod requests;
pub mod retention;
pub mod state;
pub mod store;
pub mod subjects;
pub mod witness;
