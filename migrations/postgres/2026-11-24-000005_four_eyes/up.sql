-- The first of two reviewers' approvals when the policy asks for four eyes (DESIGN §3).
ALTER TABLE requests ADD COLUMN first_approver TEXT;
