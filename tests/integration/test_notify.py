"""core.notify against a real SMTP server (aiosmtpd on a loopback port)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.errors import ConfigError
from core.notify import NotifyError, SmtpSettings, build_message, send

PASSWORD = "s3cret-Pa55"
SENDER = "sincro@example.com"
SUMMARY = {
    "id": 42,
    "kind": "orders",
    "trigger": "schedule",
    "outcome": "ok",
    "started_at": "2026-03-29T08:00:00+02:00",
    "ended_at": "2026-03-29T08:02:05+02:00",
    "counts": {"orders imported": 12, "customers created": 3, "articles coded": 1},
    "errors": [],
}


def text(exc) -> str:
    """The error as one line, whatever separator SincroError puts before the hint."""
    assert "\n" not in str(exc) and exc.message in str(exc) and (exc.hint or "") in str(exc)
    return f"{exc.message}; {exc.hint}" if exc.hint else exc.message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """An aiosmtpd handler keeping what it receives; refuses nobody@..."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1):
        return message_from_bytes(self.envelopes[index].content, policy=default_policy)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"sincro"
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False: let aiosmtpd answer 535 itself on failure
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (and the CA file that trusts it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: TLS tests need it to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def smtp():
    """Start SMTP servers on free loopback ports: smtp(**aiosmtpd options)."""
    started = []

    def start(**options):
        handler = Collector()
        port = free_port()
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            server_hostname="smtp.test",
            ready_timeout=10,
            **options,
        )
        controller.start()
        started.append(controller)
        return handler, port

    yield start
    for controller in started:
        controller.stop()


def server_tls(certificate) -> ssl.SSLContext:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def settings(port: int, **overrides) -> SmtpSettings:
    values = dict(host="127.0.0.1", port=port, security="none", sender=SENDER, timeout=5)
    values.update(overrides)
    return SmtpSettings(**values)


# -- the message --


def test_build_message_subject_text_and_html():
    message = build_message("shop1", SUMMARY, ["ops@example.com", "boss@example.com"])
    assert message["Subject"] == "[Sincro] shop1: orders sync ok"
    assert message["To"] == "ops@example.com, boss@example.com"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (plain, html):
        assert "orders imported" in part and "12" in part
        assert "2 min 5 s" in part
        assert "#42 (schedule)" in part
    assert "Errors (0)" in plain


def test_subject_for_partial_and_failed_runs():
    partial = dict(SUMMARY, outcome="partial", errors=["order 7: article X missing"])
    assert build_message("shop1", partial, "ops@example.com")["Subject"] == (
        "[Sincro] shop1: orders sync partial (1 error)"
    )
    failed = dict(SUMMARY, kind="customers", outcome="failed", errors=["a", "b"])
    assert build_message("shop1", failed, "ops@example.com")["Subject"] == (
        "[Sincro] shop1: customers sync failed (2 errors)"
    )
    scheduled = dict(SUMMARY, kind="scheduled")
    assert build_message("shop1", scheduled, "a@x.it")["Subject"] == (
        "[Sincro] shop1: scheduled sync ok"
    )


def test_shop_data_is_escaped_in_html_and_headers_stay_one_line():
    summary = dict(
        SUMMARY,
        outcome="partial",
        errors=["customer <script>alert(1)</script> & [b]Rossi[/b]"],
        counts={"<i>orders</i>": 1},
    )
    message = build_message("<b>shop</b>\r\nBcc: evil@example.com", summary, ["ops@example.com"])
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Bcc"] is None
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>shop</b>" not in html and "&lt;b&gt;shop&lt;/b&gt;" in html
    assert "&lt;i&gt;orders&lt;/i&gt;" in html
    assert "&amp; [b]Rossi[/b]" in html
    plain = message.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script> & [b]Rossi[/b]" in plain


def test_many_errors_are_capped():
    summary = dict(SUMMARY, outcome="failed", errors=[f"error {i}" for i in range(80)])
    plain = build_message("shop1", summary, "ops@example.com").get_body(("plain",)).get_content()
    assert "error 49" in plain and "error 50" not in plain
    assert "... and 30 more" in plain


def test_unknown_duration():
    summary = dict(SUMMARY, started_at="garbage", ended_at=None)
    plain = build_message("shop1", summary, "ops@example.com").get_body(("plain",)).get_content()
    assert "Duration:  unknown" in plain


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        ([], "no recipients for the notice; set the account's notification recipients"),
        ("", "no recipients for the notice; set the account's notification recipients"),
        (
            ["ops"],
            "invalid notice recipient 'ops'; use plain addresses such as ops@example.com, separated by commas",
        ),
        (
            ["a@x.it\r\nBcc: b@y.it"],
            "invalid notice recipient 'a@x.it Bcc: b@y.it'; use plain addresses such as ops@example.com, separated by commas",
        ),
    ],
)
def test_recipient_errors(recipients, message):
    with pytest.raises(ConfigError) as caught:
        build_message("shop1", SUMMARY, recipients)
    assert text(caught.value) == message


# -- settings --


def test_settings_repr_never_shows_password():
    s = SmtpSettings(host="smtp.example.com", user="sincro", password=PASSWORD, sender=SENDER)
    assert PASSWORD not in repr(s) and PASSWORD not in str(s)
    assert "password_env=None" in repr(s)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (dict(host=""), "SMTP host is missing; set the SMTP host, e.g. smtp.example.com"),
        (dict(security="ssl"), "unknown SMTP security 'ssl'; use starttls, tls or none"),
        (dict(port=0), "invalid SMTP port 0; use 587 (starttls), 465 (tls) or 25"),
        (
            dict(sender="sincro"),
            "invalid sender address 'sincro'; set the sender, e.g. sincro@example.com",
        ),
        (dict(timeout=0), "invalid SMTP timeout 0; use seconds > 0, e.g. 30"),
        (
            dict(user="sincro"),
            "SMTP user 'sincro' has no password; set password_env to the variable holding it (or the password)",
        ),
        (
            dict(password="x", password_env="SMTP_PW"),
            "SMTP password given twice (password and password_env); keep only one",
        ),
    ],
)
def test_settings_errors(values, message):
    base = dict(host="smtp.example.com", sender=SENDER)
    with pytest.raises(ConfigError) as caught:
        SmtpSettings(**(base | values))
    assert text(caught.value) == message


def test_password_env_missing(monkeypatch):
    monkeypatch.delenv("SINCRO_TEST_SMTP_PW", raising=False)
    s = SmtpSettings(host="h", user="u", password_env="SINCRO_TEST_SMTP_PW", sender=SENDER)
    with pytest.raises(NotifyError) as caught:
        s.resolve_password()
    assert text(caught.value) == (
        "SMTP password variable SINCRO_TEST_SMTP_PW is not set; "
        "export SINCRO_TEST_SMTP_PW in the environment Sincro runs in"
    )


# -- sending to a real server --


async def test_send_delivers_text_and_html(smtp):
    handler, port = smtp()
    message = build_message("shop1", SUMMARY, ["ops@example.com"])
    assert await send(settings(port), message) == []
    (envelope,) = handler.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["ops@example.com"]
    received = handler.parsed()
    assert received["Subject"] == "[Sincro] shop1: orders sync ok"
    assert received["From"] == SENDER
    assert received["Message-ID"].endswith("@example.com>")
    assert received["Date"] == "Sun, 29 Mar 2026 08:02:05 +0200"
    assert "orders imported: 12" in received.get_body(("plain",)).get_content()
    assert "<td>orders imported</td>" in received.get_body(("html",)).get_content()


async def test_send_with_login_over_starttls(smtp, certificate, monkeypatch):
    handler, port = smtp(
        tls_context=server_tls(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    monkeypatch.setenv("SINCRO_TEST_SMTP_PW", PASSWORD)
    s = settings(
        port,
        security="starttls",
        user="sincro",
        password_env="SINCRO_TEST_SMTP_PW",
        ca_file=str(certificate[0]),
    )
    await send(s, build_message("shop1", SUMMARY, "ops@example.com"))
    assert handler.parsed()["Subject"] == "[Sincro] shop1: orders sync ok"


async def test_send_over_implicit_tls(smtp, certificate):
    handler, port = smtp(ssl_context=server_tls(certificate))
    s = settings(port, security="tls", ca_file=str(certificate[0]))
    await send(s, build_message("shop1", SUMMARY, "ops@example.com"))
    assert len(handler.envelopes) == 1


async def test_auth_failure_message_has_no_password(smtp):
    handler, port = smtp(authenticator=authenticator, auth_require_tls=False)
    s = settings(port, user="sincro", password="wrong-" + PASSWORD)
    with pytest.raises(NotifyError) as caught:
        await send(s, build_message("shop1", SUMMARY, "ops@example.com"))
    line = text(caught.value)
    assert line.startswith(f"SMTP server 127.0.0.1:{port} refused the login for 'sincro': 535")
    assert line.endswith("check the SMTP user and password")
    assert PASSWORD not in line and caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert handler.envelopes == []


async def test_connection_refused():
    port = free_port()  # nothing listens there any more
    with pytest.raises(NotifyError) as caught:
        await send(
            settings(port, password=PASSWORD, user="u"), build_message("s", SUMMARY, "a@b.it")
        )
    line = text(caught.value)
    assert line.startswith(f"cannot reach SMTP server 127.0.0.1:{port}: ")
    assert line.endswith("check the host, port and security setting, and that the server is up")
    assert PASSWORD not in line


async def test_untrusted_certificate(smtp, certificate):
    _handler, port = smtp(ssl_context=server_tls(certificate))
    with pytest.raises(NotifyError) as caught:
        await send(settings(port, security="tls"), build_message("s", SUMMARY, "a@b.it"))
    assert text(caught.value).startswith(f"cannot reach SMTP server 127.0.0.1:{port}: ")
    assert "certificate" in text(caught.value).lower()


async def test_missing_ca_file(tmp_path):
    s = settings(25, security="tls", ca_file=str(tmp_path / "nope.pem"))
    with pytest.raises(NotifyError, match="SMTP CA file .*nope.pem not found"):
        await send(s, build_message("s", SUMMARY, "a@b.it"))


async def test_starttls_not_offered(smtp):
    _handler, port = smtp()
    with pytest.raises(NotifyError) as caught:
        await send(settings(port, security="starttls"), build_message("s", SUMMARY, "a@b.it"))
    assert text(caught.value) == (
        f"SMTP server 127.0.0.1:{port} does not offer STARTTLS; "
        "use security 'tls' (usually port 465), or 'none' only on a trusted network"
    )


async def test_recipient_refused(smtp):
    handler, port = smtp()
    with pytest.raises(NotifyError) as caught:
        await send(settings(port), build_message("s", SUMMARY, ["nobody@example.com"]))
    assert text(caught.value) == (
        f"SMTP server 127.0.0.1:{port} refused the recipients nobody@example.com; "
        "check the account's notification recipients"
    )
    assert handler.envelopes == []


async def test_some_recipients_refused_are_returned(smtp):
    handler, port = smtp()
    message = build_message("s", SUMMARY, ["ops@example.com", "nobody@example.com"])
    refused = await send(settings(port), message)
    assert refused == ["nobody@example.com"]
    assert handler.envelopes[0].rcpt_tos == ["ops@example.com"]


async def test_silent_server_times_out():
    closed = asyncio.Event()

    async def silent(reader, writer):
        try:
            await reader.read()  # never greet; wait for the client to give up
        finally:
            writer.close()
            closed.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(NotifyError) as caught:
            await send(settings(port, timeout=0.3), build_message("s", SUMMARY, "a@b.it"))
        assert text(caught.value) == (
            f"SMTP server 127.0.0.1:{port} did not answer within 0.3 s; "
            "check the host, port and security setting"
        )
        await asyncio.wait_for(closed.wait(), 5)  # the client hung up
    finally:
        server.close()
        await server.wait_closed()
