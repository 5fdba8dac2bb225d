"""WSGI entry point: `gunicorn wsgi:app` (or `licensing serve`)."""

from licensing.app import create_app, freeze_start_up_objects

app = create_app()
# Each gunicorn worker imports this module (no preloading): the app it built is
# kept out of the garbage collector's full collections (docs/operations.md).
freeze_start_up_objects()
