"""`licensing finance report --month YYYY-MM --email ADDRESS`: queue the monthly
revenue report PDF to an inbox through the email outbox (`licensing outbox send`
delivers it)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from licensing.actors import Actor
from licensing.config import current_config
from licensing.errors import DomainError
from licensing.finance import services
from licensing.money import is_currency


@click.command("report")
@click.option("--month", required=True, help="The month to report, YYYY-MM.")
@click.option("--email", "to", required=True, help="Where to send it (the manager's inbox).")
@click.option("--currency", default="USD", show_default=True, help="ISO 4217 currency code.")
@with_appcontext
def report(month: str, to: str, currency: str) -> None:
    """Queue the monthly revenue report (PDF attached) to ADDRESS."""
    try:
        first_day = services.parse_month(month)
    except ValueError:
        raise click.BadParameter("use YYYY-MM, e.g. 2027-03", param_hint="--month") from None
    if not is_currency(currency.upper()):
        raise click.BadParameter("an ISO 4217 code, e.g. USD", param_hint="--currency")
    try:
        message = services.send_monthly_report(
            services.ReportOf(first_day, current_config().billing_issuer, currency.upper()),
            to,
            actor=Actor.SYSTEM,
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    click.echo(
        f"Queued the {first_day:%Y-%m} revenue report to {', '.join(message.to)} "
        f"(outbox message {message.id}); `licensing outbox send` delivers it."
    )
