-- When the policy's after_gag is shorter than its after_closure, the retention sweep also reads
-- the requests whose notification is delayed that were received after now - after_closure and
-- by now - after_gag (src/retention/shred.rs, `Page`): a few, through their own index.
CREATE INDEX requests_delayed_unshredded_by_receipt ON requests (received_at, id)
    WHERE shredded_entry IS NULL AND notification = 'delayed';
