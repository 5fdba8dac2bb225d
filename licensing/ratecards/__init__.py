"""Rate cards as stored records: import, publish (immutable), select by date, quote."""
