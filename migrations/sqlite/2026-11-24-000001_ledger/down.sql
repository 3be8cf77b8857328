DROP TABLE policies;
DROP TABLE vault;
DROP TABLE sealed_details;
DROP TABLE checkpoints;
DROP TABLE tree_hashes;
DROP TABLE entries;
DROP TABLE log_head;
