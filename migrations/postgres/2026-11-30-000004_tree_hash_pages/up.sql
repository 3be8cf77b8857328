-- Stored tree hashes in rows of 32 consecutive stored-hash indexes (src/store/hashes.rs):
-- row `page` holds the hashes with ids 32·page … 32·page + 31, concatenated (1,024 bytes; only
-- the newest row may be shorter). One row per 32 hashes instead of one per hash: reading the
-- whole tree (verify) and writing a batch cost ~32 times fewer rows, and a row stays below the
-- TOAST threshold, so rewriting the newest row is an in-place (HOT) update. The existing hashes
-- are packed in id order.
CREATE TABLE tree_hash_pages (
    page BIGINT PRIMARY KEY,
    hashes BYTEA NOT NULL
);
INSERT INTO tree_hash_pages (page, hashes)
    SELECT id / 32, string_agg(hash, ''::bytea ORDER BY id)
    FROM tree_hashes
    GROUP BY id / 32;
DROP TABLE tree_hashes;
