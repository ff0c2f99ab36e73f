"""E-mail notices when a sync ends (R-2).

`build_message` turns a run summary into a plain-text message with an HTML
alternative; `send` delivers it with aiosmtplib. Shop data (account names,
error texts) is untrusted: escaped in the HTML part, kept on one line in
headers. The SMTP password never appears in a repr, a message or a log line.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

import aiosmtplib

from core.errors import ConfigError, SincroError
from core.kinds import RunKind
from core.textsafe import visible

__all__ = ["NotifyError", "SmtpSettings", "build_message", "send"]

SECURITY = ("starttls", "tls", "none")
MAX_ERRORS_SHOWN = 50
MAX_ERROR_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_KIND_LABELS: dict[str, str] = {
    RunKind.ORDERS: "orders sync",
    RunKind.CUSTOMERS: "customers sync",
    RunKind.SCHEDULED: "scheduled sync",
    "partial": "partial sync",
    RunKind.FULL: "full sync",
    RunKind.STATES: "states sync",
}


class NotifyError(SincroError):
    """A notice could not be sent; the text never holds the SMTP password."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where notices go out. Give `password`, or `password_env` naming the
    environment variable that holds it (so it is not stored)."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    password_env: str | None = None
    sender: str = ""
    timeout: float = 30.0
    ca_file: str | None = None  # PEM bundle for a private CA; system CAs otherwise

    def __post_init__(self) -> None:
        if not self.host or not isinstance(self.host, str):
            raise ConfigError(
                "SMTP host is missing", hint="set the SMTP host, e.g. smtp.example.com"
            )
        # a CR or LF in any of these would let text into the SMTP dialogue or a header
        for name in ("host", "sender", "user", "password_env", "ca_file"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or _UNSAFE.search(value)):
                raise ConfigError(
                    f"invalid SMTP {name.replace('_', ' ')} {_quoted(value)}: it holds a "
                    "line break or a control character",
                    hint="give it on one line, without control characters",
                )
        from core.accounts import valid_host

        if not valid_host(self.host):
            raise ConfigError(
                f"invalid SMTP host {_quoted(self.host)}",
                hint="a host name (labels of 1-63 letters, digits or '-', 253 characters in "
                "all) or an IP address, e.g. smtp.example.com",
            )
        if len(self.sender or "") > 320 or len(self.user or "") > 256:
            raise ConfigError("SMTP sender or user is too long",
                              hint="an address has at most 320 characters, a user 256")
        if self.password_env is not None and not _ENV_NAME.match(self.password_env):
            raise ConfigError(
                f"invalid environment variable name {_quoted(self.password_env)}",
                hint="use letters, digits and '_', e.g. SMTP_PASSWORD",
            )
        if self.security not in SECURITY:
            raise ConfigError(
                f"unknown SMTP security {self.security!r}", hint="use starttls, tls or none"
            )
        if (
            isinstance(self.port, bool)
            or not isinstance(self.port, int)
            or not 0 < self.port < 65536
        ):
            raise ConfigError(
                f"invalid SMTP port {self.port!r}", hint="use 587 (starttls), 465 (tls) or 25"
            )
        if "@" not in parseaddr(self.sender or "")[1]:
            raise ConfigError(
                f"invalid sender address {self.sender!r}",
                hint="set the sender, e.g. sincro@example.com",
            )
        if self.timeout <= 0:
            raise ConfigError(
                f"invalid SMTP timeout {self.timeout!r}", hint="use seconds > 0, e.g. 30"
            )
        if self.password is not None and self.password_env is not None:
            raise ConfigError(
                "SMTP password given twice (password and password_env)", hint="keep only one"
            )
        if self.user and self.password is None and self.password_env is None:
            raise ConfigError(
                f"SMTP user {self.user!r} has no password",
                hint="set password_env to the variable holding it (or the password)",
            )

    def resolve_password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The password, read from the environment when given by reference."""
        if self.password_env is None:
            return self.password
        env = os.environ if environ is None else environ
        value = env.get(self.password_env)
        if not value:
            raise NotifyError(
                f"SMTP password variable {self.password_env} is not set",
                hint=f"export {self.password_env} in the environment Sincro runs in",
            )
        return value

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


# -- the message --


def _quoted(value: Any, limit: int = 60) -> str:
    s = visible(value)
    return "'" + (s if len(s) <= limit else s[: limit - 1] + "…") + "'"


def _one_line(text: Any, limit: int = 200) -> str:
    """For headers and labels: C0 controls become spaces (no CR/LF can reach a header),
    C1 controls and bidi overrides are written out (\\x9b, \\u202e)."""
    line = visible(_CONTROL.sub(" ", str(text)).strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _kind_label(kind: str) -> str:
    kind = _one_line(kind or "sync", 60)
    return _KIND_LABELS.get(kind, kind if kind.endswith("sync") else f"{kind} sync")


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _duration(started: datetime | None, ended: datetime | None) -> str:
    if started is None or ended is None or (started.tzinfo is None) != (ended.tzinfo is None):
        return "unknown"
    seconds = int(round((ended - started).total_seconds()))
    if seconds < 0:
        return "unknown"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min {secs} s"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _recipients(recipients: Sequence[str] | str) -> list[str]:
    items = [recipients] if isinstance(recipients, str) else list(recipients)
    found = []
    for item in items:
        for address in str(item).split(","):
            address = address.strip()
            if not address:
                continue
            if _CONTROL.search(address) or address.count("@") != 1 or " " in address:
                raise ConfigError(
                    f"invalid notice recipient {_one_line(address, 80)!r}",
                    hint="use plain addresses such as ops@example.com, separated by commas",
                )
            found.append(address)
    if not found:
        raise ConfigError(
            "no recipients for the notice", hint="set the account's notification recipients"
        )
    return found


def build_message(
    account_name: str,
    run_summary: Mapping[str, Any],
    recipients: Sequence[str] | str,
    *,
    sender: str | None = None,
) -> EmailMessage:
    """The notice for one finished run: plain text plus an HTML alternative.

    run_summary: id, kind, trigger, outcome (ok | partial | failed),
    started_at, ended_at (ISO), counts {name: int}, errors [str].
    """
    to = _recipients(recipients)
    account = _one_line(account_name, 80)
    kind = _kind_label(run_summary.get("kind", "sync"))
    outcome = _one_line(run_summary.get("outcome", "unknown"), 20)
    # shop text (error bodies, names) shown, never obeyed by a terminal mail reader
    errors = [visible(e, multiline=True) for e in run_summary.get("errors") or []]
    counts = {_one_line(k, 80): _one_line(v, 40)
              for k, v in dict(run_summary.get("counts") or {}).items()}
    started = _parse_time(run_summary.get("started_at"))
    ended = _parse_time(run_summary.get("ended_at"))
    trigger = _one_line(run_summary.get("trigger", "") or "unknown", 60)
    run_id = _one_line(run_summary.get("id", "?"), 40)

    subject = f"[Sincro] {account}: {kind} {outcome}"
    if errors:
        subject += f" ({len(errors)} error{'s' if len(errors) != 1 else ''})"

    facts = [
        ("Account", account),
        ("Run", f"#{run_id} ({trigger})"),
        ("Outcome", outcome),
        ("Started", started.isoformat(sep=" ") if started else "unknown"),
        ("Ended", ended.isoformat(sep=" ") if ended else "unknown"),
        ("Duration", _duration(started, ended)),
    ]
    shown = [
        e if len(e) <= MAX_ERROR_CHARS else e[: MAX_ERROR_CHARS - 1] + "…"
        for e in errors[:MAX_ERRORS_SHOWN]
    ]
    more = len(errors) - len(shown)

    text = [f"Sincro: {kind} for account {account}: {outcome}", ""]
    text += [f"{label + ':':<10} {value}" for label, value in facts]
    text += ["", "Counts"]
    text += [f"  {name}: {value}" for name, value in counts.items()] or ["  (none)"]
    text += ["", f"Errors ({len(errors)})"]
    text += ["  - " + e.replace("\n", "\n    ") for e in shown] or ["  (none)"]
    if more:
        text.append(f"  ... and {more} more (see the run's log in Sincro)")

    esc = html.escape
    rows = "".join(f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    count_rows = "".join(
        f"<tr><td>{esc(str(name))}</td><td align='right'>{esc(str(value))}</td></tr>"
        for name, value in counts.items()
    )
    error_items = "".join(f"<li><pre>{esc(e)}</pre></li>" for e in shown)
    body = [
        "<!DOCTYPE html><html><body>",
        f"<h2>{esc(kind)} for {esc(account)}: {esc(outcome)}</h2>",
        f"<table>{rows}</table>",
        "<h3>Counts</h3>",
        f"<table>{count_rows}</table>" if counts else "<p>(none)</p>",
        f"<h3>Errors ({len(errors)})</h3>",
        f"<ul>{error_items}</ul>" if shown else "<p>(none)</p>",
    ]
    if more:
        body.append(f"<p>... and {more} more (see the run's log in Sincro)</p>")
    body.append("</body></html>")

    message = EmailMessage()
    message["Subject"] = subject
    message["To"] = ", ".join(to)
    if sender:
        message["From"] = sender
    if ended is not None and ended.tzinfo is not None:
        message["Date"] = format_datetime(ended)
    message.set_content("\n".join(text) + "\n")
    message.add_alternative("".join(body) + "\n", subtype="html")
    return message


# -- sending --


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _check_ca_file(path: str | None) -> None:
    # A missing bundle would otherwise surface as a misleading connection error.
    if path is not None and not os.path.isfile(path):
        raise NotifyError(
            f"SMTP CA file {path} not found",
            hint="give the path of a PEM bundle, or leave ca_file unset to use the system CAs",
        )


async def send(settings: SmtpSettings, message: EmailMessage) -> list[str]:
    """Deliver `message`; return the recipients the server refused (when it
    took the others). From, Date and Message-ID are added when missing.

    Raises NotifyError with what failed and where; never the password."""
    password = settings.resolve_password()
    _check_ca_file(settings.ca_file)
    envelope = parseaddr(settings.sender)[1]
    if "From" not in message:
        message["From"] = settings.sender
    if "Date" not in message:
        message["Date"] = format_datetime(datetime.now(UTC))
    if "Message-ID" not in message:
        message["Message-ID"] = make_msgid(domain=envelope.rpartition("@")[2])
    where = settings.where
    try:
        refused, _reply = await aiosmtplib.send(
            message,
            sender=envelope,
            hostname=settings.host,
            port=settings.port,
            username=settings.user or None,
            password=password if settings.user else None,
            use_tls=settings.security == "tls",
            start_tls=True if settings.security == "starttls" else False,
            timeout=settings.timeout,
            cert_bundle=settings.ca_file,
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        reason = _scrub(_one_line(exc.message), password)
        raise NotifyError(
            f"SMTP server {where} refused the login for {settings.user!r}: {exc.code} {reason}",
            hint="check the SMTP user and password",
        ) from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        names = ", ".join(r.recipient for r in exc.recipients)
        raise NotifyError(
            f"SMTP server {where} refused the recipients {names}",
            hint="check the account's notification recipients",
        ) from None
    except aiosmtplib.SMTPSenderRefused as exc:
        raise NotifyError(
            f"SMTP server {where} refused the sender {exc.sender}: {exc.code} {_scrub(_one_line(exc.message), password)}",
            hint="use a sender address the server accepts for this user",
        ) from None
    except aiosmtplib.SMTPTimeoutError:
        raise NotifyError(
            f"SMTP server {where} did not answer within {settings.timeout:g} s",
            hint="check the host, port and security setting",
        ) from None
    except aiosmtplib.SMTPNotSupported as exc:
        raise NotifyError(
            f"SMTP server {where} does not support what was asked: {_scrub(_one_line(exc), password)}",
            hint="check the security setting (starttls, tls or none)",
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise NotifyError(
            f"SMTP server {where} refused the notice: {exc.code} {_scrub(_one_line(exc.message), password)}",
            hint="see the server's reply",
        ) from None
    except OSError as exc:  # refused, unreachable, TLS handshake or certificate
        reason = _scrub(_one_line(exc) or type(exc).__name__, password)
        raise NotifyError(
            f"cannot reach SMTP server {where}: {reason}",
            hint="check the host, port and security setting, and that the server is up",
        ) from None
    except aiosmtplib.SMTPException as exc:
        reason = _scrub(_one_line(exc) or type(exc).__name__, password)
        if settings.security == "starttls" and "STARTTLS" in reason:
            raise NotifyError(
                f"SMTP server {where} does not offer STARTTLS",
                hint="use security 'tls' (usually port 465), or 'none' only on a trusted network",
            ) from None
        raise NotifyError(
            f"SMTP server {where} failed to take the notice: {reason}",
            hint="check the host, port and security setting",
        ) from None
    return sorted(refused)
