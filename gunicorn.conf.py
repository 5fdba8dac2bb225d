"""gunicorn's settings for this service, read by `gunicorn wsgi:app` started in
this folder (gunicorn reads `./gunicorn.conf.py` by default): the access line
ending with the request id, secrets hidden in it, no forwarding header believed
but through TRUSTED_PROXIES, no control socket, and the start-up warnings (a
database behind the code, SQLite in production). They are `licensing serve`'s
too: one place, `licensing.serving.SETTINGS`. Add `--bind`, `--workers` and
`--timeout` on gunicorn's command line (docs/operations.md)."""

from licensing.serving import SETTINGS

globals().update(SETTINGS)
