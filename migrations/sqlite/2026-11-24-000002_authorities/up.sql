-- Requesting authorities (DESIGN §1) and the keys their officers' tokens and orders are signed
-- with. Rows change (status, revocation); every change is also a ledger entry.
CREATE TABLE authorities (
    id TEXT PRIMARY KEY,
    country TEXT NOT NULL,
    kind TEXT NOT NULL,
    judicial BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    domains TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE authority_keys (
    kid TEXT PRIMARY KEY,
    authority_id TEXT NOT NULL REFERENCES authorities (id),
    alg TEXT NOT NULL,
    jwk TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT,
    revoked_at TEXT
);
CREATE INDEX authority_keys_by_authority ON authority_keys (authority_id);

