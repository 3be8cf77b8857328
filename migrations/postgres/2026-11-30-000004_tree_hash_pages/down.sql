CREATE TABLE tree_hashes (
    id BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);
INSERT INTO tree_hashes (id, hash)
    SELECT page * 32 + i, substring(hashes FROM i * 32 + 1 FOR 32)
    FROM tree_hash_pages, generate_series(0, 31) AS i
    WHERE i * 32 < length(hashes);
DROP TABLE tree_hash_pages;
