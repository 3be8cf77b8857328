DROP INDEX vault_by_commitment;
