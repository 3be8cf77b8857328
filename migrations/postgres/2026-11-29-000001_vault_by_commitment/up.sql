-- The affected-user endpoint finds a commitment by index, the same work whether or not the
-- request exists (issue 16: no timing oracle).
CREATE INDEX vault_by_commitment ON vault (commitment);
