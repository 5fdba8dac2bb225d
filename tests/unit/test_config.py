"""Configuration comes from the environment, typed, with safe production rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from licensing.config import Config, ConfigError


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env({"LICENSING_ENV": "production"})


def test_production_with_a_secret_key_sets_it() -> None:
    config = Config.from_env({"LICENSING_ENV": "production", "SECRET_KEY": "s3cret-value"})
    assert config.is_production
    assert config.secret_key == "s3cret-value"


def test_development_generates_a_key_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import licensing.config as module

    monkeypatch.setattr(module, "DEV_SECRET_KEY_FILE", tmp_path / "key")
    first = Config.from_env({})
    second = Config.from_env({})
    assert first.secret_key
    assert first.secret_key == second.secret_key


def test_environment_values_are_read_and_typed() -> None:
    config = Config.from_env(
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": "postgresql://db/licensing",
            "STRIPE_API_BASE": "http://127.0.0.1:8420/",
            "AUTO_APPROVE": "no",
            "TRUSTED_PROXIES": "2",
            "QUOTE_RATE_LIMIT": "off",
            "PAYMENT_TERMS_DAYS": "45",
            "LATE_FEE_MONTHLY_PERCENT": "1.25",
            "OVERDUE_STANDING_DAYS": "60",
            "PERMISSION_SLA_DAYS": "7",
        }
    )
    assert config.database_url == "postgresql://db/licensing"
    assert config.stripe_api_base == "http://127.0.0.1:8420"
    assert config.auto_approve is False
    assert config.trusted_proxies == 2
    assert config.quote_rate_limit == "off"
    assert config.stripe_enabled is False
    assert config.payment_terms_days == 45
    assert config.late_fee_monthly_percent == Decimal("1.25")
    assert config.overdue_standing_days == 60
    assert config.permission_sla_days == 7


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTO_APPROVE", "maybe"),
        ("TRUSTED_PROXIES", "two"),
        ("LICENSING_ENV", "staging"),
        ("PAYMENT_TERMS_DAYS", "0"),
        ("LATE_FEE_MONTHLY_PERCENT", "lots"),
        ("LATE_FEE_MONTHLY_PERCENT", "-1"),
        ("LATE_FEE_MONTHLY_PERCENT", "NaN"),
        ("PERMISSION_SLA_DAYS", "ten"),
    ],
)
def test_unreadable_values_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({"SECRET_KEY": "k", name: value})


def test_default_database_is_a_sqlite_file_under_instance() -> None:
    config = Config.from_env({"SECRET_KEY": "k"})
    assert config.database_url.startswith("sqlite:///")
    assert config.database_url.endswith("instance/licensing.db")


def test_the_development_mail_viewer_is_on_in_development_and_off_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import licensing.config as module

    monkeypatch.setattr(module, "DEV_SECRET_KEY_FILE", tmp_path / "key")
    assert Config.from_env({}).dev_mail_viewer is True
    assert Config.from_env({"DEV_MAIL_VIEWER": "false"}).dev_mail_viewer is False
    assert Config.from_env({"LICENSING_ENV": "testing"}).dev_mail_viewer is False
    assert Config.from_env({"LICENSING_ENV": "testing", "DEV_MAIL_VIEWER": "on"}).dev_mail_viewer
    production = {"LICENSING_ENV": "production", "SECRET_KEY": "k"}
    assert Config.from_env(production).dev_mail_viewer is False


def test_production_refuses_to_start_with_the_development_mail_viewer() -> None:
    with pytest.raises(ConfigError, match="DEV_MAIL_VIEWER"):
        Config.from_env({"LICENSING_ENV": "production", "SECRET_KEY": "k", "DEV_MAIL_VIEWER": "1"})
