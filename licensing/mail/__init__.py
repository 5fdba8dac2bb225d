"""The email outbox: queue in the transaction, deliver over SMTP with retries.

`init_app` adds delivery right after each request that queued mail, when
`SEND_MAIL_AFTER_REQUEST` is on and `SMTP_URL` is set, in a thread of its own so
the response is not held up; `licensing outbox send`
delivers (and retries) everything due, from a scheduler.
"""

from __future__ import annotations

import contextvars
import threading

from flask import Flask, Response, current_app, request

from licensing import db
from licensing.mail.services import MAIL_ENQUEUED, deliver_due
from licensing.mail.smtp import Delivery


def _deliver_in_background(app: Flask, delivery: Delivery) -> None:
    with app.app_context():
        try:
            report = deliver_due(delivery)
        except Exception:  # nobody is waiting for it: log, the CLI will retry
            app.logger.exception("outbox: delivery after the request failed")
            return
        if report.attempted:
            app.logger.info("outbox: %s", report)


def init_app(app: Flask) -> None:
    @app.after_request
    def _deliver_after_response(response: Response) -> Response:
        # The request itself, not its proxy: this runs after every request.
        environ = request._get_current_object().environ  # type: ignore[attr-defined]
        if not environ.pop(MAIL_ENQUEUED, False):  # most requests queue none
            return response
        config = current_app.config["LICENSING"]
        if config.send_mail_after_request and config.smtp_url:
            if db.database().shares_one_connection:
                # Refused rather than risked: the thread would run SQL on the
                # connection the request (and the test) is using.
                raise RuntimeError(
                    "delivery after the request needs an app whose engine is its own "
                    "(tests: `committed_app`), not one bound to a single connection"
                )
            # Services have committed by now, so the thread sees the messages.
            # Not `response.call_on_close`: a server may close the response
            # long after the client has it (werkzeug's first drains the socket).
            # current_app is typed as the app it stands for, so its proxy method is unknown.
            target = current_app._get_current_object()  # type: ignore[attr-defined]
            # In the request's logging context: its lines carry the request's id.
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(_deliver_in_background, target, Delivery.from_config(config)),
                name="outbox",
                daemon=True,
            ).start()
        return response
