"""WSGI entry point: `gunicorn wsgi:app` (or `licensing serve`)."""

from licensing.app import create_app

app = create_app()
