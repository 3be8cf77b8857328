-- Retention (crypto-shredding): a request under legal hold is never shredded; a shredded one
-- names the `retention.shredded` entry that destroyed its vault values, nonces and salts.
ALTER TABLE requests ADD COLUMN legal_hold BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN shredded_entry BIGINT;
