ALTER TABLE requests DROP COLUMN notification;
ALTER TABLE requests DROP COLUMN approved_categories;
