-- Idempotent retries of lifecycle transitions (DESIGN §6): a key, per token subject, names the
-- first application of one action to one request with one body; a retry replays its entry.
CREATE TABLE idempotency_keys (
    subject TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    entry_index BIGINT NOT NULL,
    PRIMARY KEY (subject, idem_key)
);
