-- Idempotency-Key on the administrative and other mutating calls (src/idempotency.rs): the
-- key is claimed with the call's entry, under the head lock; its answer is kept once written,
-- for 24 hours (an answer may quote the vault).
CREATE TABLE idempotent_answers (
    subject TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    entry_index BIGINT NOT NULL,
    status INTEGER,
    answer TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (subject, idem_key)
);
