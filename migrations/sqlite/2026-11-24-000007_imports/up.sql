-- Historical backfill (POST /v1/imports): one row per external id, so that importing the same
-- record again appends nothing and a different record under the same id is refused.
CREATE TABLE imports (
    external_id TEXT PRIMARY KEY NOT NULL,
    record_sha256 TEXT NOT NULL,
    entry_index BIGINT NOT NULL,
    imported_at TEXT NOT NULL
);
