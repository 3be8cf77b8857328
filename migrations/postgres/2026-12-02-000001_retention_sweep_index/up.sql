-- The retention sweep reads, every minute, only the requests not yet shredded that were
-- received before now minus the policy's after_closure (and, through the next migration's
-- index, delayed notifications by now minus after_gag; src/retention/shred.rs, `Page`): the
-- requests still inside their retention, most of a ledger's, are not read.
CREATE INDEX requests_unshredded_by_receipt ON requests (received_at, id) WHERE shredded_entry IS NULL;
