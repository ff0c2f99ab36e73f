"""After each run, one e-mail notice to the account's recipients (R-2).

A notice that cannot be sent is kept in the hub and retried after the next
run; a failed send is logged and never fails the run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from email import message_from_bytes, policy
from email.message import EmailMessage

from core.accounts import get_account
from core.errors import SincroError
from core.events import ALSO_AN_EVENT, Notice
from core.kinds import Level
from core.notify import SmtpSettings, build_message, send
from core.runs import RunSummary
from core.store.db import Database
from core.timeutil import iso, utcnow

log = logging.getLogger("sincro.notify")
MAX_ATTEMPTS = 20


async def get_smtp(db: Database) -> SmtpSettings | None:
    raw = await db.scalar("SELECT value FROM settings WHERE name = 'smtp'")
    return SmtpSettings(**json.loads(raw)) if raw else None


async def save_smtp(db: Database, settings: SmtpSettings | None) -> None:
    async with db.transaction() as conn:
        if settings is None:
            await conn.execute("DELETE FROM settings WHERE name = 'smtp'")
        else:
            await conn.execute(
                "INSERT INTO settings (name, value) VALUES ('smtp', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (json.dumps(asdict(settings)),))


class Notifier:
    """An Engine after-run hook."""

    def __init__(self, engine) -> None:
        self.engine = engine

    async def __call__(self, summary: RunSummary) -> None:
        db: Database = self.engine.hub
        if not summary.id:
            return  # dry runs are not notified
        account = await get_account(db, summary.account)
        recipients = account.option("recipients") or []
        smtp = await get_smtp(db)
        if not recipients or smtp is None:
            return
        message = build_message(account.name, summary.as_dict(), recipients, sender=smtp.sender)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO notices (run_id, message, recipients, created_at) VALUES (?, ?, ?, ?)",
                (summary.id, bytes(message), json.dumps(recipients), iso(utcnow())))
        await self.flush(smtp)

    async def flush(self, smtp: SmtpSettings | None = None) -> int:
        """Send every notice waiting; returns how many went out."""
        db: Database = self.engine.hub
        smtp = smtp or await get_smtp(db)
        if smtp is None:
            return 0
        rows = await db.fetchall(
            "SELECT id, run_id, message FROM notices WHERE sent_at IS NULL AND attempts < ? "
            "ORDER BY id", (MAX_ATTEMPTS,))
        sent = 0
        for row in rows:
            msg = message_from_bytes(row["message"], policy=policy.default)
            assert isinstance(msg, EmailMessage)
            try:
                await send(smtp, msg)
            except SincroError as exc:
                text = f"e-mail notice for run {row['run_id']} not sent: {exc}; retried later"
                log.warning(text, extra=ALSO_AN_EVENT)
                self.engine.publish(Notice(message=text, level=Level.WARNING))
                async with db.transaction() as conn:
                    await conn.execute(
                        "UPDATE notices SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                        (str(exc), row["id"]))
                break  # the server is not answering: the rest wait too
            async with db.transaction() as conn:
                await conn.execute("UPDATE notices SET sent_at = ?, attempts = attempts + 1 "
                                   "WHERE id = ?", (iso(utcnow()), row["id"]))
            sent += 1
        return sent
