"""The audit log: an append-only, hash-chained record of every state change.

`services.record()` appends an event in the caller's transaction;
`services.verify_chain()` (the `licensing audit verify` command) recomputes the
chain and reports any row edited, deleted or reordered since it was written.
"""
