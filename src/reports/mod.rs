//! Transparency reports (DESIGN §6, issue "audit and transparency"): figures per quarter ×
//! country × instrument computed from public entry fields only, carrying the checkpoint they
//! were computed at so that anyone holding the entries can recompute them.

pub mod cache;
pub mod report;
pub mod tally;
pub mod transparency;

pub use cache::ReportCache;
pub use report::{Audience, Report, ReportCheckpoint, Scope};
pub use tally::Tally;
