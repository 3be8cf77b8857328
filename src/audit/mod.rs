//! The auditor's API (DESIGN §4.4, §6): sealed details with their salt, so that an auditor
//! recomputes every `sealed` commitment, and a server-side full verification.

pub mod sealed;
pub mod verify;
