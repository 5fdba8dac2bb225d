"""The `--now` option every batch command shares (licensing.clock.now_option)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from click.testing import CliRunner

from licensing.clock import now_option


@click.command()
@now_option
def tell(now: datetime) -> None:
    click.echo(now.isoformat())


def test_the_command_gets_the_moment_given_as_an_aware_datetime() -> None:
    result = CliRunner().invoke(tell, ["--now", "2027-03-01T12:00:00+01:00"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2027-03-01T12:00:00+01:00"


def test_without_now_the_command_gets_the_current_time() -> None:
    before = datetime.now(UTC)
    result = CliRunner().invoke(tell, [])
    assert result.exit_code == 0, result.output
    assert before <= datetime.fromisoformat(result.output.strip()) <= datetime.now(UTC)


def test_a_moment_without_a_zone_is_refused_naming_the_option() -> None:
    result = CliRunner().invoke(tell, ["--now", "2027-03-01T12:00:00"])
    assert result.exit_code == 2
    assert "--now" in result.output
    assert "give a time zone" in result.output


def test_a_moment_that_is_not_iso_8601_is_refused() -> None:
    result = CliRunner().invoke(tell, ["--now", "yesterday"])
    assert result.exit_code == 2
    assert "use ISO 8601" in result.output
