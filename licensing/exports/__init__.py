"""Billing exports for finance: datasets streamed as CSV, JSON Lines or XLSX.

- `base.py`: what a dataset is (columns, filters it accepts, its rows).
- `datasets/`: one module per dataset, each defining `DATASET`, so adding a
  dataset is adding one file (the package imports every module in it).
- `columns.py`: the columns several datasets share (the licensee, currency,
  document numbers); `queries.py`: the query pieces they share; `declared.py`:
  a dataset that is one SELECT, declared as a table of fields.
- `filters.py`: the filter a caller gives (dates, organization, state, currency,
  use, as-of date), read and checked once for the page, the API and the CLI.
- `formats.py`: the file formats; `ledger.py`: general-ledger accounts and uses of
  invoice lines; `recognition.py`: straight-line revenue schedules (pure).
- `services.py`: an export as bytes, read from one snapshot in a session of its
  own (`licensing.streaming.reading_session`), audited with its filter, rows and
  SHA-256.

The reference (every column of every dataset) is docs/exports.md.
"""
