ALTER TABLE requests DROP COLUMN expires_at;
