ALTER TABLE requests DROP COLUMN first_approver;
