-- Disclosure requests (DESIGN §2, §3). The row holds the request's state; its restricted
-- details are also committed in the ledger (sealed) and raw identifiers live only in `vault`.
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    authority_id TEXT NOT NULL,
    issuing_authority_id TEXT,
    officer TEXT NOT NULL,
    instrument TEXT NOT NULL,
    country TEXT NOT NULL,
    emergency BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    order_sha256 TEXT,
    policy_sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    data_categories TEXT NOT NULL,
    identifiers INTEGER NOT NULL,
    failed_rules TEXT NOT NULL,
    idempotency_key TEXT,
    request_sha256 TEXT NOT NULL
);
CREATE INDEX requests_by_order ON requests (order_sha256);
CREATE INDEX requests_by_authority ON requests (authority_id, id);
CREATE UNIQUE INDEX requests_by_idempotency_key ON requests (authority_id, idempotency_key);
