-- The ledger (DESIGN §4, §5). Entries and tree hashes are append-only: nothing in this
-- service updates or deletes them. `log_head` is one row whose update serialises appenders.
CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

-- One row per entry, holding its canonical (RFC 8785) bytes verbatim.
CREATE TABLE entries (
    idx INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT,
    time TEXT NOT NULL,
    canonical TEXT NOT NULL
);
CREATE INDEX entries_by_subject ON entries (subject, idx) WHERE subject IS NOT NULL;

-- RFC 9162 tree hashes in the stored-hash order of golang.org/x/mod/sumdb/tlog.
CREATE TABLE tree_hashes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- Every signed checkpoint, one per committed batch.
CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);

-- Restricted details behind an entry's `sealed` commitment (DESIGN §4.4). Deleting the salt
-- (crypto-shredding) leaves the entry and every proof valid.
CREATE TABLE sealed_details (
    entry_idx INTEGER PRIMARY KEY REFERENCES entries (idx),
    salt BLOB,
    restricted TEXT NOT NULL
);

-- Raw identifiers with their commitment nonces; the only place a raw value is stored.
CREATE TABLE vault (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT,
    nonce BLOB,
    commitment TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX vault_by_request ON vault (request_id);

-- Policy documents, keyed by the entry that adopted them; the newest is in force.
CREATE TABLE policies (
    adopted_entry INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    document TEXT NOT NULL
);
