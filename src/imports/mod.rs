//! Historical backfill (DESIGN §6, admin): `POST /v1/imports` turns historical records into
//! `request.imported` and `aggregate.imported` entries, and `telegram` reads the published
//! Telegram figures of `datasets/telegram` into such records and checks the dataset itself.

pub mod create;
pub mod record;
pub mod telegram;

pub use record::ImportRecord;
