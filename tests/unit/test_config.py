"""Configuration comes from the environment, typed, with safe production rules."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from licensing.config import Config, ConfigError
from licensing.pricing.describe import LARGE_CHANGE_RATIO, LONG_PERIOD_DAYS


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env({"LICENSING_ENV": "production"})


SECRET = "s3cret-value-" + "x" * 20
AUDIT_KEY = "an-audit-key-" + "y" * 20
# What production needs besides the keys and PUBLIC_URL.
PRODUCTION_SERVICES = {
    "DATABASE_URL": "postgresql://licensing@db.example.test/licensing",
    "SMTP_URL": "smtp://mail.example.test:587?starttls=true",
    "BILLING_ISSUER": "Example Licensing Office|1 Test Street|Testville",
    "BILLING_REMIT_TO": "Wire to Example Bank, account 12345|Quote the invoice number.",
}


def test_production_with_a_secret_key_sets_it() -> None:
    config = Config.from_env(
        {
            "LICENSING_ENV": "production",
            "SECRET_KEY": SECRET,
            "AUDIT_HMAC_KEY": AUDIT_KEY,
            "PUBLIC_URL": "https://licensing.example.test/",
            **PRODUCTION_SERVICES,
        }
    )
    assert config.is_production
    assert config.public_url == "https://licensing.example.test"
    assert config.secret_key == SECRET
    assert config.audit_hmac_key == AUDIT_KEY


def test_production_refuses_to_start_without_an_audit_key() -> None:
    with pytest.raises(ConfigError, match="AUDIT_HMAC_KEY"):
        Config.from_env(
            {"LICENSING_ENV": "production", "SECRET_KEY": SECRET, **PRODUCTION_SERVICES}
        )


def test_the_audit_key_must_not_be_the_secret_key() -> None:
    with pytest.raises(ConfigError, match="differ"):
        Config.from_env(
            {
                "LICENSING_ENV": "production",
                "SECRET_KEY": SECRET,
                "AUDIT_HMAC_KEY": SECRET,
                **PRODUCTION_SERVICES,
            }
        )


PRODUCTION_KEYS = {
    "LICENSING_ENV": "production",
    "SECRET_KEY": SECRET,
    "AUDIT_HMAC_KEY": AUDIT_KEY,
    **PRODUCTION_SERVICES,
}


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
            "ROYALTY_REVIEW_SLA_DAYS": "3",
            "PERMISSION_LONGEST_GRANT_YEARS": "3",
            "LONG_CARD_DAYS": "1827",
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
    assert config.royalty_review_sla_days == 3
    assert config.permission_longest_grant_years == 3
    assert config.long_card_days == 1827


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
        ("ROYALTY_REVIEW_SLA_DAYS", "0"),
        ("ROYALTY_REVIEW_SLA_DAYS", "five"),
        ("DATABASE_JIT", "sometimes"),
        ("PERMISSION_LONGEST_GRANT_YEARS", "0"),
        ("LONG_CARD_DAYS", "0"),
        ("LONG_CARD_DAYS", "-5"),
        ("LONG_CARD_DAYS", "366"),
        ("LONG_CARD_DAYS", "36526"),
        ("LONG_CARD_DAYS", "ten years"),
        ("LONG_CARD_DAYS", "3_653"),
        ("LONG_CARD_DAYS", "3653.5"),
        ("PRICE_CHANGE_RATIO", "1"),
        ("PRICE_CHANGE_RATIO", "101"),
        ("PRICE_CHANGE_RATIO", "twice"),
        ("PRICE_CHANGE_RATIO", "NaN"),
        ("PRICE_CHANGE_RATIO", "Infinity"),
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
    production = {**PRODUCTION_KEYS, "PUBLIC_URL": "https://licensing.example.test"}
    assert Config.from_env(production).dev_mail_viewer is False


def test_production_refuses_to_start_with_the_development_mail_viewer() -> None:
    with pytest.raises(ConfigError, match="DEV_MAIL_VIEWER"):
        Config.from_env({**PRODUCTION_KEYS, "DEV_MAIL_VIEWER": "1"})


# Round 13: an operator's first deployment. Each setting below once started the
# service and failed later, or never: checked at start-up now, by name.

PRODUCTION = {**PRODUCTION_KEYS, "PUBLIC_URL": "https://licensing.example.test"}
STRIPE = {
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}


def test_a_complete_production_environment_starts() -> None:
    config = Config.from_env({**PRODUCTION, **STRIPE})
    assert config.stripe_enabled
    assert config.smtp_url == PRODUCTION_SERVICES["SMTP_URL"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("DATABASE_URL", "DATABASE_URL must be set when LICENSING_ENV=production"),
        ("SMTP_URL", "SMTP_URL must be set when LICENSING_ENV=production"),
        ("BILLING_ISSUER", "BILLING_ISSUER must be set when LICENSING_ENV=production"),
        ("BILLING_REMIT_TO", "BILLING_REMIT_TO must be set when LICENSING_ENV=production"),
    ],
)
def test_production_refuses_to_start_without_what_only_the_office_can_give(
    missing: str, message: str
) -> None:
    """Without DATABASE_URL production ran on a SQLite file inside the installed
    code; without SMTP_URL no sign-up could ever be confirmed; without the billing
    settings every invoice named an invented office and bank account."""
    environment = {name: value for name, value in PRODUCTION.items() if name != missing}
    with pytest.raises(ConfigError, match=message):
        Config.from_env(environment)


@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_HMAC_KEY"])
def test_production_refuses_a_short_key(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be at least 32 characters"):
        Config.from_env({**PRODUCTION, name: "short-" + name})


def test_development_and_testing_take_any_key_length() -> None:
    assert Config.from_env({"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a"}).secret_key == "k"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"STRIPE_PUBLISHABLE_KEY": ""},
            "STRIPE_PUBLISHABLE_KEY must be set with STRIPE_SECRET_KEY",
        ),
        ({"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY must be set with STRIPE_PUBLISHABLE_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET must be set with the Stripe keys"),
    ],
)
def test_half_a_stripe_configuration_is_refused(changes: dict[str, str], message: str) -> None:
    """One key alone hid the card option without a word; keys without the webhook
    secret took card payments that were never marked paid."""
    with pytest.raises(ConfigError, match=message):
        Config.from_env({"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a", **STRIPE, **changes})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUOTE_RATE_LIMIT", "lots"),
        ("AUTH_RATE_LIMIT", "10 per fortnight"),
        ("AUTH_RATE_LIMIT", ""),
        ("LOG_LEVEL", "LOUD"),
        ("SMTP_URL", "http://mail.example.test"),
        ("SMTP_URL", "mail.example.test:25"),
        ("SMTP_URL", "smtp://mail.example.test:99999"),
        ("MAIL_FROM", "CPT Licensing"),
        ("MAIL_FROM", "licensing at example.test"),
        ("STRIPE_JS_URL", "js/stripe.js"),
        ("STRIPE_API_BASE", "127.0.0.1:8420"),
        ("DATABASE_URL", "licensing.db"),
        ("DATABASE_URL", "mysql://db.example.test/licensing"),
    ],
)
def test_a_setting_that_would_fail_later_stops_the_start(name: str, value: str) -> None:
    """A rate limit Flask-Limiter cannot parse was skipped on every request (the
    route ran unlimited); a bad SMTP_URL failed every email; the rest failed at
    the first page, payment or query that used them."""
    with pytest.raises(ConfigError, match=name):
        Config.from_env({"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a", name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTP_URL", "http://mailer:pa55word-in-url@mail.example.test"),
        ("DATABASE_URL", "mysql://licensing:pa55word-in-url@db.example.test/licensing"),
    ],
)
def test_a_refused_address_is_named_without_its_password(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as refused:
        Config.from_env({"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a", name: value})
    assert "pa55word-in-url" not in str(refused.value)
    assert "example.test" in str(refused.value)


def test_good_values_of_the_checked_settings_are_kept() -> None:
    config = Config.from_env(
        {
            "SECRET_KEY": "k",
            "AUDIT_HMAC_KEY": "a",
            "QUOTE_RATE_LIMIT": "60/minute;1000/hour",
            "AUTH_RATE_LIMIT": "OFF",
            "LOG_LEVEL": "warning",
            "SMTP_URL": "smtps://user:p%40ss@mail.example.test",
            "MAIL_FROM": "licensing@example.test",
            "STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/",
            "DATABASE_URL": "postgresql+psycopg://licensing@db.example.test:5433/licensing",
        }
    )
    assert config.quote_rate_limit == "60/minute;1000/hour"
    assert config.auth_rate_limit == "OFF"
    assert config.log_level == "WARNING"


def test_former_secret_keys_are_read_as_a_list() -> None:
    config = Config.from_env(
        {"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a", "SECRET_KEY_FALLBACKS": " old, older ,"}
    )
    assert config.secret_key_fallbacks == ("old", "older")


@pytest.mark.parametrize("value", ["1", "true", "yes", "off"])
def test_production_refuses_flask_debug_mode(value: str) -> None:
    environ = {**PRODUCTION, "FLASK_DEBUG": value}
    with pytest.raises(ConfigError, match=r"FLASK_DEBUG \(or `licensing --debug`\) cannot be on"):
        Config.from_env(environ)
    # Round 32: `off` is on to Flask (flask.helpers.get_debug_flag), and the refusal
    # said "cannot be on" to an operator who had written off.
    with pytest.raises(ConfigError, match=r"but empty, 0, false and no as on: `off` too"):
        Config.from_env(environ)
    assert Config.from_env({**PRODUCTION, "FLASK_DEBUG": "0"}).debug is False
    elsewhere = {"LICENSING_ENV": "testing", "SECRET_KEY": SECRET, "AUDIT_HMAC_KEY": AUDIT_KEY}
    assert Config.from_env({**elsewhere, "FLASK_DEBUG": value}).debug is True


def _stderr_as_journald_names_it() -> str:
    status = os.fstat(2)
    return f"{status.st_dev}:{status.st_ino}"


def test_log_timestamps_are_on_unless_standard_error_goes_to_the_journal() -> None:
    """Round 33: lines had no time of their own, and relied on journald's."""
    keys = {"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a"}
    assert Config.from_env(keys).log_timestamps is True
    journal = {**keys, "JOURNAL_STREAM": _stderr_as_journald_names_it()}
    assert Config.from_env(journal).log_timestamps is False
    # The variable inherited by a process whose stderr goes elsewhere: stamped.
    elsewhere = {**keys, "JOURNAL_STREAM": "1:2"}
    assert Config.from_env(elsewhere).log_timestamps is True
    assert Config.from_env({**journal, "LOG_TIMESTAMPS": "on"}).log_timestamps is True
    assert Config.from_env({**keys, "LOG_TIMESTAMPS": "OFF"}).log_timestamps is False
    assert Config.from_env({**journal, "LOG_TIMESTAMPS": "auto"}).log_timestamps is False


def test_a_log_timestamps_value_other_than_auto_on_or_off_is_refused() -> None:
    with pytest.raises(
        ConfigError, match="LOG_TIMESTAMPS must be auto, on or off, not 'sometimes'"
    ):
        Config.from_env({"SECRET_KEY": "k", "AUDIT_HMAC_KEY": "a", "LOG_TIMESTAMPS": "sometimes"})


def test_postgresqls_jit_is_off_for_the_services_sessions_unless_asked() -> None:
    """Round 42: DATABASE_JIT, off by default (docs/operations.md, "JIT")."""
    assert Config.from_env({"SECRET_KEY": "k"}).database_jit == "off"
    for value, read in (("on", "on"), ("Server", "server"), ("OFF", "off"), ("", "off")):
        assert Config.from_env({"SECRET_KEY": "k", "DATABASE_JIT": value}).database_jit == read


def test_the_long_card_threshold_defaults_to_the_cores_ten_years_and_takes_its_bounds() -> None:
    # Round 44: LONG_CARD_DAYS was the core's constant; its default is still it.
    assert Config.from_env({"SECRET_KEY": "k"}).long_card_days == LONG_PERIOD_DAYS == 3653
    assert Config.from_env({"SECRET_KEY": "k", "LONG_CARD_DAYS": "367"}).long_card_days == 367
    most = Config.from_env({"SECRET_KEY": "k", "LONG_CARD_DAYS": "36525"})
    assert most.long_card_days == 36525
    with pytest.raises(ConfigError, match=r"LONG_CARD_DAYS must be a whole number of days from"):
        Config.from_env({"SECRET_KEY": "k", "LONG_CARD_DAYS": "365"})


def test_the_price_change_ratio_defaults_to_the_cores_two_and_takes_its_bounds() -> None:
    # Round 55: the check's ratio was the core's constant; its default is still it.
    assert Config.from_env({"SECRET_KEY": "k"}).price_change_ratio == LARGE_CHANGE_RATIO == 2
    for value in ("1.1", "5", "100"):
        read = Config.from_env({"SECRET_KEY": "k", "PRICE_CHANGE_RATIO": value})
        assert read.price_change_ratio == Decimal(value)
    with pytest.raises(ConfigError, match=r"PRICE_CHANGE_RATIO must be a number from 1.1 to 100"):
        Config.from_env({"SECRET_KEY": "k", "PRICE_CHANGE_RATIO": "1.05"})
