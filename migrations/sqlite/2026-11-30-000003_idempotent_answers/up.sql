-- Idempotency-Key on the administrative and other mutating calls (src/idempotency.rs): the
-- key is claimed, and its answer (without the receipt, rebuilt from the entries on a replay)
-- kept, in the transaction of the call's own entries,
-- for 24 hours (an answer may quote the vault).
CREATE TABLE idempotent_answers (
    subject TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    entry_index BIGINT NOT NULL,
    entries INTEGER NOT NULL,
    status INTEGER,
    answer TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (subject, idem_key)
);
