"""Finance: the console's revenue, receivables and queue-health dashboard, and
the monthly revenue report (PDF, by email through the outbox).

`queries` computes the figures from the billing ledger, `classification` says
which use, product type, user type and organization type each line of revenue
belongs to (pluggable per invoice source), `documents` renders the report PDF,
`services` queues it, `views` is the *Finance* page and `cli` the command.
"""
