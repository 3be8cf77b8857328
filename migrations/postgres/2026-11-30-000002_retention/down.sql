ALTER TABLE requests DROP COLUMN shredded_entry;
ALTER TABLE requests DROP COLUMN legal_hold;
