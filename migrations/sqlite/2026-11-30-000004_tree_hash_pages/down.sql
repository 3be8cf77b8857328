CREATE TABLE tree_hashes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 31)
INSERT INTO tree_hashes (id, hash)
    SELECT page * 32 + i, substr(hashes, i * 32 + 1, 32)
    FROM tree_hash_pages, k
    WHERE i * 32 < length(hashes);
DROP TABLE tree_hash_pages;
