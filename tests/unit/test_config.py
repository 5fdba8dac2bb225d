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
    config = Config.from_env(
        {
            "LICENSING_ENV": "production",
            "SECRET_KEY": "s3cret-value",
            "AUDIT_HMAC_KEY": "a-key",
            "PUBLIC_URL": "https://licensing.example.test/",
        }
    )
    assert config.is_production
    assert config.public_url == "https://licensing.example.test"
    assert config.secret_key == "s3cret-value"
    assert config.audit_hmac_key == "a-key"


def test_production_refuses_to_start_without_an_audit_key() -> None:
    with pytest.raises(ConfigError, match="AUDIT_HMAC_KEY"):
        Config.from_env({"LICENSING_ENV": "production", "SECRET_KEY": "s3cret-value"})


def test_the_audit_key_must_not_be_the_secret_key() -> None:
    with pytest.raises(ConfigError, match="differ"):
        Config.from_env(
            {"LICENSING_ENV": "production", "SECRET_KEY": "same", "AUDIT_HMAC_KEY": "same"}
        )


PRODUCTION_KEYS = {"LICENSING_ENV": "production", "SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a"}


def test_production_refuses_to_start_without_a_public_url() -> None:
    """Emails from the worker and CLI commands would link to a developer's machine."""
    with pytest.raises(ConfigError, match="PUBLIC_URL must be set"):
        Config.from_env(PRODUCTION_KEYS)


def test_production_refuses_a_public_url_that_is_not_https() -> None:
    with pytest.raises(ConfigError, match="https"):
        Config.from_env({**PRODUCTION_KEYS, "PUBLIC_URL": "http://licensing.example.test"})


@pytest.mark.parametrize(
    "value",
    [
        "licensing.example.test",
        "/licensing",
        "ftp://licensing.example.test",
        "https://",
        "https://licensing.example.test/?next=1",
        "https://licensing.example.test/#top",
        "https://licensing.example.test:99999",
        "https://[not-an-address",
    ],
)
def test_a_public_url_that_is_not_an_absolute_address_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL must be the service's absolute address"):
        Config.from_env({**PRODUCTION_KEYS, "PUBLIC_URL": value})


def test_development_links_to_make_run_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import licensing.config as module

    monkeypatch.setattr(module, "DEV_SECRET_KEY_FILE", tmp_path / "key")
    monkeypatch.setattr(module, "DEV_AUDIT_KEY_FILE", tmp_path / "audit-key")
    assert Config.from_env({}).public_url == "http://127.0.0.1:5000"
    assert Config.from_env({"PUBLIC_URL": " "}).public_url == "http://127.0.0.1:5000"
    told = Config.from_env({"PUBLIC_URL": "http://localhost:8000/licensing/"})
    assert told.public_url == "http://localhost:8000/licensing"


def test_retired_audit_keys_are_read_as_a_list() -> None:
    config = Config.from_env(
        {"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "new", "AUDIT_HMAC_RETIRED_KEYS": "old, older ,"}
    )
    assert config.audit_hmac_retired_keys == ("old", "older")


def test_development_generates_a_key_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import licensing.config as module

    monkeypatch.setattr(module, "DEV_SECRET_KEY_FILE", tmp_path / "key")
    monkeypatch.setattr(module, "DEV_AUDIT_KEY_FILE", tmp_path / "audit-key")
    first = Config.from_env({})
    second = Config.from_env({})
    assert first.secret_key
    assert first.secret_key == second.secret_key
    assert first.audit_hmac_key
    assert first.audit_hmac_key == second.audit_hmac_key != first.secret_key


def test_environment_values_are_read_and_typed() -> None:
    config = Config.from_env(
        {
            "SECRET_KEY": "k",
            "AUDIT_HMAC_KEY": "a",
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


def test_gl_accounts_named_in_the_environment_override_only_their_defaults() -> None:
    config = Config.from_env(
        {"SECRET_KEY": "k", "EXPORT_GL_ACCOUNTS": " fee.distribution=4010 , royalty=4101 ,"}
    )
    assert dict(config.gl_accounts) == {
        "fee": "4000",
        "fee.distribution": "4010",
        "royalty": "4101",
        "late_fee": "4200",
        "manual": "4900",
    }


@pytest.mark.parametrize(
    "value", ["fees=4000", "fee.streaming=4010", "royalty=", "late_fee=40 00", "fee=4000;x"]
)
def test_a_gl_account_setting_that_cannot_be_read_stops_the_service(value: str) -> None:
    with pytest.raises(ConfigError, match="EXPORT_GL_ACCOUNTS"):
        Config.from_env({"SECRET_KEY": "k", "EXPORT_GL_ACCOUNTS": value})


def test_the_development_mail_viewer_is_on_in_development_and_off_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import licensing.config as module

    monkeypatch.setattr(module, "DEV_SECRET_KEY_FILE", tmp_path / "key")
    monkeypatch.setattr(module, "DEV_AUDIT_KEY_FILE", tmp_path / "audit-key")
    assert Config.from_env({}).dev_mail_viewer is True
    assert Config.from_env({"DEV_MAIL_VIEWER": "false"}).dev_mail_viewer is False
    assert Config.from_env({"LICENSING_ENV": "testing"}).dev_mail_viewer is False
    assert Config.from_env({"LICENSING_ENV": "testing", "DEV_MAIL_VIEWER": "on"}).dev_mail_viewer
    production = {
        "LICENSING_ENV": "production",
        "SECRET_KEY": "k",
        "AUDIT_HMAC_KEY": "a",
        "PUBLIC_URL": "https://licensing.example.test",
    }
    assert Config.from_env(production).dev_mail_viewer is False


def test_production_refuses_to_start_with_the_development_mail_viewer() -> None:
    with pytest.raises(ConfigError, match="DEV_MAIL_VIEWER"):
        Config.from_env(
            {
                "LICENSING_ENV": "production",
                "SECRET_KEY": "k",
                "AUDIT_HMAC_KEY": "a",
                "DEV_MAIL_VIEWER": "1",
            }
        )
