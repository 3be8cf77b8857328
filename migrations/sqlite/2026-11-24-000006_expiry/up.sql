-- When the order stops being valid, so that open requests can expire (DESIGN §2).
ALTER TABLE requests ADD COLUMN expires_at TEXT;
