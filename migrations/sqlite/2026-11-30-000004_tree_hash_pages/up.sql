-- Stored tree hashes in rows of 32 consecutive stored-hash indexes (src/store/hashes.rs):
-- row `page` holds the hashes with ids 32·page … 32·page + 31, concatenated (1,024 bytes; only
-- the newest row may be shorter). One row per 32 hashes instead of one per hash: reading the
-- whole tree (verify) and writing a batch cost ~32 times fewer rows, and a row stays within one
-- SQLite page. The existing hashes are packed in id order.
CREATE TABLE tree_hash_pages (
    page INTEGER PRIMARY KEY,
    hashes BLOB NOT NULL
);
INSERT INTO tree_hash_pages (page, hashes)
    SELECT id / 32, CAST(group_concat(hash, x'' ORDER BY id) AS BLOB)
    FROM tree_hashes
    GROUP BY id / 32;
DROP TABLE tree_hashes;
