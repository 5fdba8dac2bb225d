"""WSGI entry point: `gunicorn wsgi:app` (or `licensing serve`). Started in this
folder, gunicorn reads `gunicorn.conf.py`: `licensing serve`'s settings."""

from licensing.serving import app_for_a_worker

# Each gunicorn worker imports this module (no preloading); a setting that
# cannot start the service is one line naming it, not a traceback.
app = app_for_a_worker()
