//! Rebuild when a migration is added: `embed_migrations!` reads the folders at compile time,
//! and cargo does not otherwise notice a new migration directory, so an incremental build
//! could embed an old set (a test database then lacks the new tables).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
