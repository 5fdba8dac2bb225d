"""SMTP_URL is read into host, port, TLS mode and credentials."""

from __future__ import annotations

import pytest

from licensing.config import Config, ConfigError
from licensing.mail.smtp import Delivery, DevMailViewer, SMTPSettings, SMTPTransport


def test_a_plain_url_uses_port_25_without_tls() -> None:
    settings = SMTPSettings.from_url("smtp://mail.example.org")
    assert (settings.host, settings.port, settings.implicit_tls, settings.starttls) == (
        "mail.example.org",
        25,
        False,
        False,
    )
    assert settings.username is None


def test_starttls_with_percent_encoded_credentials() -> None:
    settings = SMTPSettings.from_url("smtp://relay%40office:p%3Ass@mail.example.org?starttls=true")
    assert (settings.port, settings.starttls) == (587, True)
    assert (settings.username, settings.password) == ("relay@office", "p:ss")


def test_smtps_is_implicit_tls_on_465() -> None:
    settings = SMTPSettings.from_url("smtps://user:pw@mail.example.org")
    assert (settings.port, settings.implicit_tls, settings.starttls) == (465, True, False)


def test_an_explicit_port_wins() -> None:
    assert SMTPSettings.from_url("smtp://127.0.0.1:2525").port == 2525


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        SMTPSettings.from_url(url)


def test_delivery_goes_over_smtp_url_else_to_the_mail_viewer_else_nowhere() -> None:
    sender = "CPT Licensing <licensing@example.test>"
    smtp = Delivery.from_config(
        Config(smtp_url="smtp://mail.example.org", dev_mail_viewer=True, mail_from=sender)
    )
    assert isinstance(smtp.transport, SMTPTransport)
    assert (smtp.transport.settings.host, smtp.sender, smtp.destination) == (
        "mail.example.org",
        sender,
        None,
    )
    viewer = Delivery.from_config(Config(dev_mail_viewer=True))
    assert isinstance(viewer.transport, DevMailViewer)
    assert viewer.destination == DevMailViewer.NAME
    assert Delivery.from_config(Config(dev_mail_viewer=False)).transport is None
