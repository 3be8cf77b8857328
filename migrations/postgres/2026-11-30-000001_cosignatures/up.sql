-- Witness cosignatures (C2SP tlog-cosignature) the log collected for its checkpoints: one
-- signature line per witness per checkpoint size. The checkpoint served is the newest one with
-- a quorum of them, its note followed by these lines.
CREATE TABLE cosignatures (
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);
