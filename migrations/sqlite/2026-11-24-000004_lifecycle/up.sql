-- Lifecycle state beyond the status (DESIGN §2): what was approved, and the user
-- notification's own state.
ALTER TABLE requests ADD COLUMN approved_categories TEXT;
ALTER TABLE requests ADD COLUMN notification TEXT NOT NULL DEFAULT 'none';
