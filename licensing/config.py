"""Typed configuration, read once from the environment.

`Config.from_env()` is the only place in the service that reads `os.environ`.
The edges (pages, API, CLI, the worker) read the running app's `Config` with
`current_config()` and pass use cases the settings they need as arguments;
services and queries never read it themselves (docs/architecture.md), so tests
build one directly with the values they need.
"""

from __future__ import annotations

import dataclasses
import email.utils
import os
import secrets
import string
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType

from flask import current_app

from licensing.pricing.vocabulary import USES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"

ENVIRONMENTS = ("development", "production", "testing")

# Where `make run` serves; emails link here unless PUBLIC_URL says otherwise
# (production must say).
DEVELOPMENT_PUBLIC_URL = "http://127.0.0.1:5000"

# Where the API is mounted. Here, not in `licensing.api`, because recognising a
# caller (`accounts.auth`) must tell API requests from pages without importing
# the API layer.
API_PREFIX = "/api/v1"


class ConfigError(ValueError):
    """The environment does not describe a service that may start."""


# Seconds an SMTP connection waits for the server.
SMTP_TIMEOUT = 15.0


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how mail is sent, read from one URL:

        smtp://host:25                       plain SMTP
        smtp://user:pass@host:587?starttls=true   STARTTLS, then AUTH
        smtps://user:pass@host:465           implicit TLS

    User name and password are percent-decoded, so `%40` may stand for `@`.
    """

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout: float = SMTP_TIMEOUT

    @classmethod
    def from_url(cls, url: str, timeout: float = SMTP_TIMEOUT) -> SMTPSettings:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ConfigError(f"SMTP_URL must start with smtp:// or smtps://, not {url!r}")
        if not parts.hostname:
            raise ConfigError("SMTP_URL needs a host name")
        query = urllib.parse.parse_qs(parts.query)
        starttls = query.get("starttls", ["false"])[0].lower() in {"1", "true", "yes", "on"}
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 587 if starttls else 25),
            implicit_tls=implicit_tls,
            starttls=starttls and not implicit_tls,
            username=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


# A year at most: a remembered browser outliving that is a browser nobody recalls.
MAX_REMEMBER_DAYS = 365


def _remember_days(value: str) -> int:
    days = _int(value, "TWO_STEP_REMEMBER_DAYS")
    if days > MAX_REMEMBER_DAYS:
        raise ConfigError(f"TWO_STEP_REMEMBER_DAYS must be at most {MAX_REMEMBER_DAYS}")
    return days


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return number


# The bounds of LONG_CARD_DAYS: above a year, so that a yearly card (365 or 366 days)
# is never warned of, and at most a hundred years (36,525 days).
LONG_CARD_DAYS_BOUNDS = (367, 36525)


def _long_card_days(value: str) -> int:
    """LONG_CARD_DAYS: a whole number of days, 367 to 36,525."""
    least, most = LONG_CARD_DAYS_BOUNDS
    number = int(value) if value.isascii() and value.isdigit() else None
    if number is None or not least <= number <= most:
        raise ConfigError(
            f"LONG_CARD_DAYS must be a whole number of days from {least} to {most:,} "
            f"(a year and a day to a hundred years), not {value!r}"
        )
    return number


# The bounds of PRICE_CHANGE_RATIO: above 1 (every change would be warned of) and at
# most 100 (a slip of two digits still is).
PRICE_CHANGE_RATIO_BOUNDS = (Decimal("1.1"), Decimal(100))


def _price_change_ratio(value: str) -> Decimal:
    """PRICE_CHANGE_RATIO: a decimal from 1.1 to 100."""
    least, most = PRICE_CHANGE_RATIO_BOUNDS
    try:
        number = Decimal(value.strip()) if value.strip().isascii() else None
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or not least <= number <= most:
        raise ConfigError(
            f"PRICE_CHANGE_RATIO must be a number from {least} to {most} (how many times "
            f"over a rate card's figure may change before its check warns), not {value!r}"
        )
    return number


def _percent(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"{name} must be a decimal number, not {value!r}") from None
    if not number.is_finite() or number < 0 or number > 100:
        raise ConfigError(f"{name} must be between 0 and 100")
    return number


# The kinds of charge an invoice line can be, for its general-ledger account.
GL_KINDS = ("fee", "royalty", "late_fee", "manual")
DEFAULT_GL_ACCOUNTS: Mapping[str, str] = MappingProxyType(
    {"fee": "4000", "royalty": "4100", "late_fee": "4200", "manual": "4900"}
)
_GL_ACCOUNT_CHARACTERS = frozenset(string.ascii_letters + string.digits + ".-_:")


def _rate_limit(value: str, name: str) -> str:
    """A Flask-Limiter limit ("120 per minute", "10/minute;100/hour") or "off".
    Read here, at start-up: a limit Flask-Limiter cannot parse it logs and skips
    on every request, so the route would run unlimited."""
    from limits import parse_many  # Flask-Limiter's own parser

    if value.strip().lower() == "off":
        return value
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be a rate limit such as '120 per minute' (or 'off'), not {value!r}"
        ) from None
    return value


def _database_url(value: str) -> str:
    """A SQLAlchemy URL for one of the two databases the service runs on."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("postgresql", "sqlite"):
        raise ConfigError(
            "DATABASE_URL must be a PostgreSQL (postgresql://user:password@host/database) "
            f"or SQLite (sqlite:///path) address, not {_without_password(value)!r}"
        )
    return value


# What the service's own PostgreSQL sessions ask of the server's JIT compiler
# (DATABASE_JIT, round 42): `off` (each connection starts with `-c jit=off`), `on`,
# or `server` (ask nothing: the server's and role's settings decide).
DATABASE_JIT_CHOICES = ("off", "on", "server")


def _database_jit(value: str) -> str:
    lowered = value.strip().lower() or "off"
    if lowered not in DATABASE_JIT_CHOICES:
        raise ConfigError(f"DATABASE_JIT must be off, on or server, not {value!r}")
    return lowered


def _without_password(url: str) -> str:
    """A URL as it may be logged: its user's password left out."""
    scheme, separator, rest = url.partition("://")
    user_info, at, host = rest.rpartition("@")
    if not separator or not at:
        return url if separator else "(not a URL)"
    return f"{scheme}://{user_info.partition(':')[0]}:...@{host}"


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
        raise ConfigError(
            f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not {value!r}"
        )
    return level


def _log_timestamps(value: str, journal_stream: str, stderr: Callable[[], os.stat_result]) -> bool:
    """Whether the app's lines begin with their own time (LOG_TIMESTAMPS): `on`,
    `off`, or `auto` (the default), on unless standard error goes to systemd's
    journal, which stamps every line itself. systemd says so in JOURNAL_STREAM
    (`DEVICE:INODE` of the stream it connected), for this process's standard
    error only when they are the same file (a child's stderr sent elsewhere
    inherits the variable)."""
    chosen = value.strip().lower()
    if chosen in {"on", "true", "1", "yes"}:
        return True
    if chosen in {"off", "false", "0", "no"}:
        return False
    if chosen not in {"auto", ""}:
        raise ConfigError(f"LOG_TIMESTAMPS must be auto, on or off, not {value!r}")
    device, _, inode = journal_stream.strip().partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return True
    try:
        status = stderr()
    except (OSError, ValueError):
        return True
    return (status.st_dev, status.st_ino) != (int(device), int(inode))


def _stderr_status() -> os.stat_result:
    return os.fstat(2)


def _http_url(value: str, name: str) -> str:
    """An absolute http(s) address (Stripe's API base, Stripe.js), or "" when unset."""
    if not value:
        return value
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an absolute http(s):// address, not {value!r}")
    return value


def _mail_from(value: str) -> str:
    """`Name <address>` or a bare address: every email's sender."""
    _name, address = email.utils.parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(c.isspace() for c in address):
        raise ConfigError(
            "MAIL_FROM must be an email address, such as "
            f"'CPT Licensing <licensing@example.org>', not {value!r}"
        )
    return value


def _gl_accounts(value: str, name: str) -> Mapping[str, str]:
    """`fee=4000,fee.distribution=4010,royalty=4100`: an account per kind of
    charge, optionally per use; what is not named keeps its default."""
    accounts = dict(DEFAULT_GL_ACCOUNTS)
    for item in value.split(","):
        if not item.strip():
            continue
        key, _, account = (part.strip() for part in item.partition("="))
        kind, _, use = key.partition(".")
        if kind not in GL_KINDS or (use and use not in USES):
            raise ConfigError(
                f"{name}: {key!r} is not a kind ({', '.join(GL_KINDS)}) "
                f"optionally followed by .use ({', '.join(USES)})"
            )
        if not account or len(account) > 40 or not set(account) <= _GL_ACCOUNT_CHARACTERS:
            raise ConfigError(f"{name}: {key} needs an account of letters, digits, . - _ :")
        accounts[key] = account
    return MappingProxyType(accounts)


@dataclass(frozen=True)
class Config:
    """Every setting the service reads, with its default.

    The README's configuration table documents each environment variable; keep
    the two in step.
    """

    environment: str = "development"
    database_url: str = f"sqlite:///{DEFAULT_INSTANCE_DIR / 'licensing.db'}"
    secret_key: str = ""
    # Former SECRET_KEYs: sessions and emailed links signed under them still verify.
    secret_key_fallbacks: tuple[str, ...] = ()
    # Keys the audit log's hash chain and the seals of issued documents (HMAC);
    # separate from SECRET_KEY. Retired keys still verify the rows they signed.
    audit_hmac_key: str = ""
    audit_hmac_retired_keys: tuple[str, ...] = ()
    public_url: str = DEVELOPMENT_PUBLIC_URL

    stripe_secret_key: str = ""
    stripe_publishable_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    stripe_js_url: str = "https://js.stripe.com/v3/"

    smtp_url: str = ""
    mail_from: str = "CPT Licensing <licensing@localhost>"
    send_mail_after_request: bool = False
    # Development only: every email readable at /dev/mail, served by the app to
    # loopback clients. Never in production (refused at start-up).
    dev_mail_viewer: bool = False

    quote_rate_limit: str = "120 per minute"
    # Per client address on sign-in, sign-up, password reset and verification
    # requests (POST); "off" disables it.
    auth_rate_limit: str = "10 per minute"
    # Per signed-in user (else client address) over every PDF rendered on request
    # and every export; "off" disables it.
    document_rate_limit: str = "30 per minute"
    ratelimit_storage_uri: str = "memory://"
    auto_approve: bool = True
    # Staff must set up two-step sign-in before opening any page (on by default in
    # production only: `from_env`).
    two_step_required_for_staff: bool = False
    # "Don't ask for a code on this browser" lasts this many days; 0 hides the
    # choice and every browser remembered before is asked for its code again.
    two_step_remember_days: int = 30
    # Commercial terms written into new agreements and their invoices.
    payment_terms_days: int = 30
    late_fee_monthly_percent: Decimal = Decimal("1.5")
    # An invoice this many days past due puts its organization in pending_payment.
    overdue_standing_days: int = 30
    # A corrected royalty report is due this many days after staff ask for it.
    correction_due_days: int = 30
    # Who issues invoices and where to send payment: lines separated by "|".
    billing_issuer: str = (
        "CPT Licensing Office|100 Lakeshore Plaza, Suite 400|Chicago, IL 60601|United States"
    )
    billing_remit_to: str = (
        "Wire or ACH: Lakeshore Commercial Bank, ABA 000000000, account 0000000000|"
        "Checks payable to CPT Licensing Office, PO Box 1000, Chicago, IL 60690|"
        "Quote the invoice number with every payment."
    )
    # General-ledger account of each invoice line in exports, by kind of charge
    # ("fee", "royalty", "late_fee", "manual") and optionally "kind.use".
    gl_accounts: Mapping[str, str] = field(default_factory=lambda: DEFAULT_GL_ACCOUNTS)
    # Service-level target for deciding educational permission requests.
    permission_sla_days: int = 10
    # The longest an educational permission runs, in years: the office's longest
    # grant, and the longest use the request form accepts (round 42).
    permission_longest_grant_years: int = 5
    # A rate card of more days than this (or open-ended) "runs long": its check, its
    # page, quotes on it and its publishing warn of what the contract's proration
    # makes of its prorated amounts (LONG_CARD_DAYS; round 44, a constant before).
    long_card_days: int = 3653
    # A figure of a rate card more than this many times, or under 1/this of, the one
    # on the card it follows is warned of at its check and publishing
    # (PRICE_CHANGE_RATIO; round 55, a constant of 2 in round 54).
    price_change_ratio: Decimal = Decimal(2)
    # Service-level target for deciding license applications (the finance
    # dashboard's queue health measures the staff queue against it).
    application_review_sla_days: int = 10
    # Service-level target for reviewing a flagged royalty report, in US business days
    # from its filing (round 53): its invoice is issued at filing, so a correction is
    # best asked for well within the invoice's 30 days.
    royalty_review_sla_days: int = 5
    log_level: str = "INFO"
    # A periodic job is late (/readyz, `licensing jobs status`) when its last
    # success is older than its interval plus this many minutes (round 33).
    job_grace_minutes: int = 15
    # PostgreSQL's JIT for the service's own sessions (round 42): off unless asked.
    database_jit: str = "off"
    # The app's lines begin with an ISO 8601 UTC instant (LOG_TIMESTAMPS; round 33).
    log_timestamps: bool = True
    # Behind a load balancer, how many proxies set X-Forwarded-For/-Proto.
    trusted_proxies: int = 0

    # Flask's debug mode (FLASK_DEBUG, which `licensing --debug` sets): refused in
    # production, where `licensing run --debug` served Werkzeug's debugger.
    debug: bool = False

    # Extra Flask settings for tests (never read from the environment).
    overrides: Mapping[str, object] = field(default_factory=dict)

    # What this configuration says once as a server or command starts (a generated
    # development key), logged by `licensing.start_warnings` once logging is set up
    # (round 36: `checked` logged them before it was, as bare lines on stderr).
    start_warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def passkey_rp_id(self) -> str:
        """Passkeys' relying party id: `PUBLIC_URL`'s host, for which browsers make
        and offer them (round 44). Changing the host strands every passkey made."""
        return (urllib.parse.urlsplit(self.public_url).hostname or "").lower()

    @property
    def passkey_origin(self) -> str:
        """The origin a passkey's answer must come from: `PUBLIC_URL`'s scheme, host
        and port (a browser's `origin`, without a default port)."""
        parts = urllib.parse.urlsplit(self.public_url)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        port = f":{parts.port}" if parts.port and parts.port != default else ""
        return f"{parts.scheme}://{self.passkey_rp_id}{port}"

    @property
    def stripe_enabled(self) -> bool:
        return bool(self.stripe_secret_key and self.stripe_publishable_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        environment = env.get("LICENSING_ENV", "development").strip().lower()
        if environment not in ENVIRONMENTS:
            raise ConfigError(f"LICENSING_ENV must be one of {', '.join(ENVIRONMENTS)}")
        defaults = cls()
        config = cls(
            environment=environment,
            database_url=_database_url(env.get("DATABASE_URL") or defaults.database_url),
            secret_key=env.get("SECRET_KEY", ""),
            secret_key_fallbacks=tuple(
                key.strip() for key in env.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
            ),
            audit_hmac_key=env.get("AUDIT_HMAC_KEY", ""),
            audit_hmac_retired_keys=tuple(
                key.strip()
                for key in env.get("AUDIT_HMAC_RETIRED_KEYS", "").split(",")
                if key.strip()
            ),
            public_url=_public_url(env.get("PUBLIC_URL", "")),
            stripe_secret_key=env.get("STRIPE_SECRET_KEY", ""),
            stripe_publishable_key=env.get("STRIPE_PUBLISHABLE_KEY", ""),
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", ""),
            stripe_api_base=_http_url(
                env.get("STRIPE_API_BASE", "").strip().rstrip("/"), "STRIPE_API_BASE"
            ),
            stripe_js_url=_http_url(
                env.get("STRIPE_JS_URL", defaults.stripe_js_url).strip(), "STRIPE_JS_URL"
            ),
            smtp_url=env.get("SMTP_URL", ""),
            mail_from=_mail_from(env.get("MAIL_FROM", defaults.mail_from)),
            send_mail_after_request=_flag(
                env.get("SEND_MAIL_AFTER_REQUEST", "false"), "SEND_MAIL_AFTER_REQUEST"
            ),
            dev_mail_viewer=_flag(
                env.get("DEV_MAIL_VIEWER", "true" if environment == "development" else "false"),
                "DEV_MAIL_VIEWER",
            ),
            quote_rate_limit=_rate_limit(
                env.get("QUOTE_RATE_LIMIT", defaults.quote_rate_limit), "QUOTE_RATE_LIMIT"
            ),
            auth_rate_limit=_rate_limit(
                env.get("AUTH_RATE_LIMIT", defaults.auth_rate_limit), "AUTH_RATE_LIMIT"
            ),
            document_rate_limit=_rate_limit(
                env.get("DOCUMENT_RATE_LIMIT", defaults.document_rate_limit),
                "DOCUMENT_RATE_LIMIT",
            ),
            ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "memory://"),
            auto_approve=_flag(env.get("AUTO_APPROVE", "true"), "AUTO_APPROVE"),
            two_step_required_for_staff=_flag(
                env.get(
                    "TWO_STEP_REQUIRED_FOR_STAFF",
                    "true" if environment == "production" else "false",
                ),
                "TWO_STEP_REQUIRED_FOR_STAFF",
            ),
            two_step_remember_days=_remember_days(env.get("TWO_STEP_REMEMBER_DAYS", "30")),
            payment_terms_days=_int(env.get("PAYMENT_TERMS_DAYS", "30"), "PAYMENT_TERMS_DAYS", 1),
            late_fee_monthly_percent=_percent(
                env.get("LATE_FEE_MONTHLY_PERCENT", "1.5"), "LATE_FEE_MONTHLY_PERCENT"
            ),
            overdue_standing_days=_int(
                env.get("OVERDUE_STANDING_DAYS", "30"), "OVERDUE_STANDING_DAYS", 1
            ),
            correction_due_days=_int(
                env.get("CORRECTION_DUE_DAYS", "30"), "CORRECTION_DUE_DAYS", 1
            ),
            billing_issuer=env.get("BILLING_ISSUER", defaults.billing_issuer),
            billing_remit_to=env.get("BILLING_REMIT_TO", defaults.billing_remit_to),
            gl_accounts=_gl_accounts(env.get("EXPORT_GL_ACCOUNTS", ""), "EXPORT_GL_ACCOUNTS"),
            permission_sla_days=_int(
                env.get("PERMISSION_SLA_DAYS", "10"), "PERMISSION_SLA_DAYS", 1
            ),
            permission_longest_grant_years=_int(
                env.get("PERMISSION_LONGEST_GRANT_YEARS", "5"), "PERMISSION_LONGEST_GRANT_YEARS", 1
            ),
            long_card_days=_long_card_days(env.get("LONG_CARD_DAYS", "3653")),
            price_change_ratio=_price_change_ratio(env.get("PRICE_CHANGE_RATIO", "2")),
            application_review_sla_days=_int(
                env.get("APPLICATION_REVIEW_SLA_DAYS", "10"), "APPLICATION_REVIEW_SLA_DAYS", 1
            ),
            royalty_review_sla_days=_int(
                env.get("ROYALTY_REVIEW_SLA_DAYS", "5"), "ROYALTY_REVIEW_SLA_DAYS", 1
            ),
            log_level=_log_level(env.get("LOG_LEVEL", "INFO")),
            job_grace_minutes=_int(env.get("JOB_GRACE_MINUTES", "15"), "JOB_GRACE_MINUTES"),
            database_jit=_database_jit(env.get("DATABASE_JIT", "off")),
            log_timestamps=_log_timestamps(
                env.get("LOG_TIMESTAMPS", "auto"), env.get("JOURNAL_STREAM", ""), _stderr_status
            ),
            trusted_proxies=_int(env.get("TRUSTED_PROXIES", "0"), "TRUSTED_PROXIES"),
            # Read as Flask reads it (`flask.helpers.get_debug_flag`).
            debug=env.get("FLASK_DEBUG", "").strip().lower() not in {"", "0", "false", "no"},
        )
        config = config.checked()
        if config.is_production and not env.get("DATABASE_URL", "").strip():
            # The default is a SQLite file inside the installed code: a production
            # install would start, migrate and take orders on it without a word.
            raise ConfigError(
                "DATABASE_URL must be set when LICENSING_ENV=production "
                "(postgresql://user:password@host/database)"
            )
        if config.is_production:
            # The defaults are an invented office and bank account, printed on
            # every invoice and payment reminder.
            for name, value in (
                ("BILLING_ISSUER", config.billing_issuer),
                ("BILLING_REMIT_TO", config.billing_remit_to),
            ):
                if value == getattr(defaults, name.lower()) or not value.strip():
                    raise ConfigError(
                        f"{name} must be set when LICENSING_ENV=production: the default is "
                        "an invented example printed on every invoice"
                    )
        return config

    def checked(self) -> Config:
        """Refuse settings that are unsafe; fill in development conveniences."""
        if self.is_production and self.dev_mail_viewer:
            raise ConfigError(
                "DEV_MAIL_VIEWER shows every email to anyone who can reach the server; "
                "it cannot be turned on when LICENSING_ENV=production"
            )
        if self.is_production and self.debug:
            # `licensing --env-file prod.env run --debug` served the interactive
            # debugger: anyone shown an error page could run code on the host.
            raise ConfigError(
                "FLASK_DEBUG (or `licensing --debug`) cannot be on when "
                "LICENSING_ENV=production: Werkzeug's debugger lets whoever sees an "
                "error page run code on the server; unset FLASK_DEBUG and serve with "
                "`licensing serve` (Flask reads every value of FLASK_DEBUG but empty, 0, "
                "false and no as on: `off` too)"
            )
        config = self
        if not config.secret_key:
            if config.is_production:
                raise ConfigError("SECRET_KEY must be set when LICENSING_ENV=production")
            config = dataclasses.replace(
                config,
                secret_key=_development_key(DEV_SECRET_KEY_FILE),
                start_warnings=(
                    *config.start_warnings,
                    f"SECRET_KEY is not set: using a generated development key from "
                    f"{DEV_SECRET_KEY_FILE}; set SECRET_KEY in production",
                ),
            )
        if not config.audit_hmac_key:
            if config.is_production:
                raise ConfigError("AUDIT_HMAC_KEY must be set when LICENSING_ENV=production")
            config = dataclasses.replace(
                config,
                audit_hmac_key=_development_key(DEV_AUDIT_KEY_FILE),
                start_warnings=(
                    *config.start_warnings,
                    f"AUDIT_HMAC_KEY is not set: using a generated development key from "
                    f"{DEV_AUDIT_KEY_FILE}; set AUDIT_HMAC_KEY in production",
                ),
            )
        if config.audit_hmac_key == config.secret_key:
            raise ConfigError("AUDIT_HMAC_KEY must differ from SECRET_KEY")
        if config.is_production:
            for name, key in (
                ("SECRET_KEY", config.secret_key),
                ("AUDIT_HMAC_KEY", config.audit_hmac_key),
            ):
                if len(key) < MIN_PRODUCTION_KEY_LENGTH:
                    raise ConfigError(
                        f"{name} must be at least {MIN_PRODUCTION_KEY_LENGTH} characters when "
                        f"LICENSING_ENV=production ({len(key)} given); make one with: "
                        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                    )
            if not config.smtp_url:
                raise ConfigError(
                    "SMTP_URL must be set when LICENSING_ENV=production: sign-up "
                    "confirmations, password resets and invoices are emailed"
                )
        config._check_smtp_url()
        config._check_stripe()
        if not config.public_url:
            # Emails sent from production must not link to a developer's machine
            # (every CLI command and the worker send them, not just the server).
            if config.is_production:
                raise ConfigError(
                    "PUBLIC_URL must be set when LICENSING_ENV=production: emails link to it"
                )
            config = dataclasses.replace(config, public_url=DEVELOPMENT_PUBLIC_URL)
        elif config.is_production and not config.public_url.startswith("https://"):
            raise ConfigError(
                "PUBLIC_URL must be an https:// address when LICENSING_ENV=production "
                "(sign-in cookies are sent over HTTPS only)"
            )
        return config

    def _check_smtp_url(self) -> None:
        """SMTP_URL is read when mail is first sent; a mistake in it would show
        only then, as every message failing."""
        if not self.smtp_url:
            return
        try:
            SMTPSettings.from_url(self.smtp_url)
        except ValueError:
            # ConfigError is a ValueError too, as is urlsplit's port out of range.
            # Its own words would repeat the URL, password and all, into the logs.
            raise ConfigError(
                f"SMTP_URL cannot be read ({_without_password(self.smtp_url)!r}): give "
                "smtp://[user:password@]host[:port][?starttls=true] or "
                "smtps://[user:password@]host[:port]"
            ) from None

    def _check_stripe(self) -> None:
        """Card payments need both keys, and the webhook secret to hear the outcome:
        with one key the card option was silently hidden, and without the webhook
        secret every payment stayed pending until `payments reconcile`."""
        secret, publishable = bool(self.stripe_secret_key), bool(self.stripe_publishable_key)
        if secret != publishable:
            given, missing = (
                ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY")
                if secret
                else ("STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET_KEY")
            )
            raise ConfigError(
                f"{missing} must be set with {given} (card payments need both), "
                f"or leave both empty to take payments offline only"
            )
        if self.stripe_enabled and not self.stripe_webhook_secret:
            raise ConfigError(
                "STRIPE_WEBHOOK_SECRET must be set with the Stripe keys: it verifies the "
                "events Stripe sends to /webhooks/stripe (the endpoint's signing secret, "
                "whsec_...), without which no card payment is ever marked paid"
            )


# In production, SECRET_KEY and AUDIT_HMAC_KEY are at least this long: 32
# characters of secrets.token_urlsafe carry 192 bits.
MIN_PRODUCTION_KEY_LENGTH = 32


def _public_url(value: str) -> str:
    """PUBLIC_URL without its trailing slash; "" when unset. Refused unless it is an
    absolute http(s) address: every emailed link is built on it."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(
            "PUBLIC_URL must be the service's absolute address, such as "
            f"https://licensing.example.org (got {value!r})"
        )
    return value


def current_config() -> Config:
    """The running app's settings: for the edges only, which hand use cases the
    values they need (a test asserts no service or query calls this)."""
    config: Config = current_app.config["LICENSING"]
    return config


DEV_SECRET_KEY_FILE = DEFAULT_INSTANCE_DIR / "dev-secret-key"
DEV_AUDIT_KEY_FILE = DEFAULT_INSTANCE_DIR / "dev-audit-key"


def _development_key(path: Path) -> str:
    """A random key kept under instance/, so that it survives restarts and every
    worker of a development server uses the same one."""
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
