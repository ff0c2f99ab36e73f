"""The engine: one per process, shared by the CLI, the console and the daemon.

``async with Engine(home) as engine:`` opens the hub. ``run_operation`` is the
one lifecycle of whatever writes for an account (a sync, a reconcile fix, a resync,
a cursor move, a listing run): one at a time per account (R-1), under the account's
lease, recorded as a run (R-3), with events to every subscriber and the after-run
hooks. ``run_sync`` runs one pipeline through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from core import accounts as acc
from core.errors import ConfigError, DiskFull, SincroError, StoreDamaged
from core.events import Event, RunFinished, RunRefused, RunStarted
from core.home import ERP_FILE, HUB_FILE, ensure_home
from core.kinds import Outcome, RunKind, Trigger
from core.locks import (
    DEFAULT_TTL,
    HOST,
    AccountBusy,
    Lease,
    LeaseInfo,
    current_lease,
    lease_is_stale,
    new_owner,
)
from core.runs import (
    RunRecorder,
    RunSummary,
    create_run,
    finish_run,
    get_run,
    mark_interrupted,
    prune,
)
from core.store import faults
from core.store.db import Database
from core.store.hub import open_hub
from core.store.location import ERP_SCHEMA
from core.sync.context import RunContext
from core.sync.pipeline import PIPELINES, steps_for
from core.timeutil import utcnow

log = logging.getLogger("sincro.engine")

DEFAULT_RETENTION_DAYS = 90

ShopFactory = Callable[[acc.Account], Any]  # returns an async context manager -> ShopReader
ErpFactory = Callable[["Engine"], Awaitable[Any]]
T = TypeVar("T")
Body = Callable[[RunContext], Awaitable[T]]  # what an operation does, in its run


@dataclass(slots=True)
class Running:
    """An operation going on in this engine: what it is (as its lease says), since when."""

    what: str
    since: datetime
    run_id: int = 0


@dataclass(frozen=True, slots=True)
class Finished(Generic[T]):
    """An operation's end: its run, and what its body returned or raised (recorded)."""

    summary: RunSummary
    value: T | None = None
    error: Exception | None = None

    def result(self) -> T:
        """What the body returned; what ended it, raised again."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def operation_label(kind: RunKind, scope: str | None = None) -> str:
    """An operation as its run log and busy messages name it: 'orders sync', 'fix-missing',
    'cursor set orders'."""
    label = f"{kind} sync" if kind in PIPELINES else str(kind)
    return f"{label} {scope}" if scope else label


def pipeline(kind: RunKind) -> Body[None]:
    """The body of a sync: the steps of ``PIPELINES[kind]``, each written when it ends."""

    async def body(ctx: RunContext) -> None:
        for _name, step in steps_for(kind):
            await step(ctx)
            await ctx.run.flush()

    return body


class Subscription:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.engine._subs.remove(self)


class Engine:
    def __init__(
        self,
        home: Path,
        *,
        shop_factory: ShopFactory | None = None,
        erp_factory: ErpFactory | None = None,
        lease_ttl: float = DEFAULT_TTL,
        log_retention_days: int | None = None,
        notify: bool = True,
        tidy: bool = True,
    ) -> None:
        self.home = home
        self.owner = new_owner()
        self.shop_factory = shop_factory or default_shop_factory
        self.erp_factory = erp_factory or default_erp_factory
        self.lease_ttl = lease_ttl
        self.log_retention_days = log_retention_days
        self.tidy = tidy  # False: open without writing (dry runs, reconcile)
        self.hub: Database | None = None
        self._erp: Any = None
        self._scratch: tuple[Any, Path] | None = None  # see erp_to_read
        self._erp_lock = asyncio.Lock()
        self._subs: list[Subscription] = []
        self.running: dict[str, Running] = {}  # account -> its operation, in this engine
        self.finished_hooks: list[Callable[[RunSummary], Awaitable[None]]] = []
        if notify:
            from core.notices import Notifier

            self.finished_hooks.append(Notifier(self))

    async def __aenter__(self) -> Engine:
        ensure_home(self.home)
        self.hub = await open_hub(self.home / HUB_FILE)
        try:
            if self.tidy:
                await self._tidy()
        except BaseException:
            await self.hub.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._erp is not None:
            await self._erp.close()
            self._erp = None
        if self._scratch is not None:
            erp, where = self._scratch
            self._scratch = None
            await erp.close()
            await asyncio.to_thread(shutil.rmtree, where, True)
        if self.hub is not None:
            await self.hub.close()
            self.hub = None

    async def _tidy(self) -> None:
        """Runs left open by a dead process become 'interrupted'; old runs go."""
        assert self.hub is not None
        rows = await self.hub.fetchall(
            "SELECT runs.id, runs.account_id, runs.owner FROM runs WHERE ended_at IS NULL")
        dead = []
        for r in rows:
            lease = await current_lease(self.hub, r["account_id"])
            if lease is None or lease.owner != r["owner"] or lease_is_stale(lease, utcnow()):
                dead.append(r["id"])
        await mark_interrupted(self.hub, dead)
        days = self.log_retention_days or int(await self.hub.scalar(
            "SELECT value FROM settings WHERE name = 'log_retention_days'")
            or DEFAULT_RETENTION_DAYS)
        await prune(self.hub, days)

    # -- events ---------------------------------------------------------
    @property
    def database(self) -> Database:
        """The hub, while the engine is open (between __aenter__ and __aexit__)."""
        if self.hub is None:
            raise RuntimeError("the engine is not open: it has no hub")
        return self.hub

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self._subs.append(sub)
        return sub

    def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            sub.queue.put_nowait(event)

    # -- the ERP ---------------------------------------------------------
    async def erp(self) -> Any:
        async with self._erp_lock:
            if self._erp is None:
                self._erp = await self.erp_factory(self)
            return self._erp

    async def _embedded_erp_exists(self) -> bool:
        if self.hub is not None and self.hub.dialect == "postgresql":
            return bool(await self.hub.scalar(
                f"SELECT to_regclass('{ERP_SCHEMA}.sincro_schema') IS NOT NULL"))
        return (self.home / ERP_FILE).exists()

    async def erp_to_read(self) -> Any:
        """The ERP for what only reads (dry runs, reconcile): the real one, except that an
        embedded ERP never used yet is not created for it: an empty scratch one stands in,
        in a temporary directory removed when the engine closes."""
        async with self._erp_lock:
            if self._erp is not None or self.erp_factory is not default_erp_factory \
                    or await self._embedded_erp_exists():
                pass
            elif self._scratch is not None:
                return self._scratch[0]
            else:
                from core.erp.choice import load_erp_setting, uses_tryton

                if self.hub is None or not uses_tryton(await load_erp_setting(self.hub)):
                    from core.erp.embedded import EmbeddedErp

                    where = Path(await asyncio.to_thread(tempfile.mkdtemp,
                                                         prefix="sincro-dry-erp-"))
                    self._scratch = (await EmbeddedErp.open(where / ERP_FILE, local=True),
                                     where)
                    return self._scratch[0]
        return await self.erp()

    # -- runs -----------------------------------------------------------
    async def run_sync(self, account_name: str, kind: RunKind, *, trigger: Trigger = Trigger.CLI,
                       dry_run: bool = False) -> RunSummary:
        """One pipeline (``PIPELINES[kind]``) for one account, as an operation."""
        assert self.hub is not None
        if kind not in PIPELINES:
            raise ConfigError(f"unknown kind of sync {str(kind)!r}",
                              hint=f"one of {', '.join(PIPELINES)}")
        account = await acc.get_account(self.hub, account_name)
        if not account.enabled and trigger == Trigger.SCHEDULE:
            raise ConfigError(f"account {account.name} is disabled",
                              hint=f"enable it with 'sincro account edit {account.name} --enable'")
        account.resolve_key()  # an unset --key-env variable is a configuration error
        if kind == RunKind.FULL and not dry_run:
            from core.sync.full import check_quota

            await check_quota(self.hub, account)
        done = await self.run_operation(account, kind, pipeline(kind), trigger=trigger,
                                        dry_run=dry_run)
        return done.summary

    async def run_operation(self, account: str | acc.Account, kind: RunKind, body: Body[T], *,
                            trigger: Trigger, scope: str | None = None, dry_run: bool = False,
                            hub_only: bool = False) -> Finished[T]:
        """Run ``body`` as one operation on the account: every sync, reconcile fix, resync,
        cursor move and listing run goes through here.

        A second operation on an account that one already runs is refused (``AccountBusy``,
        with who runs what since when): in this engine by ``running``, across processes
        by the account's lease, taken here and released here only. The operation is
        recorded as a run of ``kind`` (R-3), its events are published, and the after-run
        hooks (notices) are called before the account is free again. ``scope`` narrows
        the kind in the run's log and in busy messages ("set orders" for a cursor move).

        What the body raises is recorded in the run (outcome ``failed``) and handed back
        in ``Finished.error`` (``Finished.result()`` raises it); a full disk or a damaged
        store is raised. A dry run takes neither the account nor a record (run id 0).
        ``hub_only``: the body needs neither the shop nor the ERP (``ctx.shop`` and
        ``ctx.erp`` are None) and no shop key.
        """
        assert self.hub is not None
        if isinstance(account, str):
            account = await acc.get_account(self.hub, account)
        if not hub_only:
            account.resolve_key()
        label = operation_label(kind, scope)
        what = f"{label} ({trigger})"
        if dry_run:
            return await self._run(account, kind, trigger, 0, body, label=label, dry_run=True,
                                   hub_only=hub_only)

        held = self.running.get(account.name)
        if held is not None:
            reason = self._busy_here(account, held)
            self.publish(RunRefused(account=account.name, kind=kind, reason=reason))
            raise AccountBusy(reason, hint="wait for it to finish and try again")
        # taken before the first await: no twin can start in this engine
        self.running[account.name] = Running(what, utcnow())
        lease = Lease(self.hub, account.saved_id, account.name, self.owner, ttl=self.lease_ttl)
        try:
            await lease.acquire(what)
        except BaseException as exc:
            self.running.pop(account.name, None)
            if isinstance(exc, AccountBusy):
                self.publish(RunRefused(account=account.name, kind=kind, reason=str(exc)))
            raise
        try:
            run_id = await create_run(self.hub, account.saved_id, kind, trigger, self.owner)
            self.running[account.name].run_id = run_id
            await lease.set_run(run_id)
            lease.keep_alive()
            return await self._run(account, kind, trigger, run_id, body, label=label,
                                   dry_run=False, hub_only=hub_only)
        finally:
            await self._release(account.name, lease)

    def _busy_here(self, account: acc.Account, held: Running) -> str:
        """Why the account is busy in this engine, worded as the lease tells another process."""
        assert account.id is not None
        return LeaseInfo(account.id, self.owner, os.getpid(), HOST, held.what,
                         held.run_id or None, held.since, held.since).describe(account.name)

    async def _release(self, account_name: str, lease: Lease) -> None:
        """Release the lease; the account is free in this engine only once it is released,
        even when this task is cancelled meanwhile."""
        release = asyncio.ensure_future(lease.release())

        def free(task: asyncio.Future) -> None:
            self.running.pop(account_name, None)
            if not task.cancelled():
                task.exception()  # retrieved; raised below when awaited

        release.add_done_callback(free)
        await asyncio.shield(release)

    async def _run(self, account: acc.Account, kind: RunKind, trigger: Trigger, run_id: int,
                   body: Body[T], *, label: str, dry_run: bool, hub_only: bool) -> Finished[T]:
        assert self.hub is not None
        rec = RunRecorder(self.hub, run_id, account.name, self.publish, record=not dry_run)
        started = utcnow()
        self.publish(RunStarted(run_id=run_id, account=account.name, kind=kind,
                                trigger=trigger, at=started))
        # the run's lines and counts go into the hub with each of its transactions
        attached = rec.attach()
        rec.info(f"{label} of {account.name} started ({trigger})"
                 + (" — dry run, nothing is written" if dry_run else ""))
        outcome = Outcome.OK
        value: T | None = None
        error: Exception | None = None  # what ended the body, handed to the caller
        fault: SincroError | None = None  # a full disk or a damaged store: also raised
        try:
            if hub_only:
                value = await body(RunContext(account=account, hub=self.hub, shop=None,
                                              erp=None, run=rec, kind=kind, trigger=trigger,
                                              dry_run=dry_run))
            else:
                erp = await (self.erp_to_read() if dry_run else self.erp())
                async with self.shop_factory(account) as shop:
                    if getattr(shop, "client", None) is not None:
                        shop.client.report = rec.warning  # the client's waits go to the run log
                    ctx = RunContext(account=account, hub=self.hub, shop=shop, erp=erp, run=rec,
                                     kind=kind, trigger=trigger, dry_run=dry_run)
                    value = await body(ctx)
        except asyncio.CancelledError:
            outcome = Outcome.INTERRUPTED
            rec.warning("run interrupted; it resumes where it stopped on the next run")
            try:
                await asyncio.shield(self._finish(rec, account, kind, trigger, outcome,
                                                  started, label))
            finally:
                rec.detach(attached)
            raise
        except (DiskFull, StoreDamaged) as exc:
            rec.error(str(exc))
            outcome, fault = Outcome.FAILED, exc
        except SincroError as exc:
            rec.error(str(exc))
            outcome, error = Outcome.FAILED, exc
        except Exception as exc:  # a bug: keep the process alive, record it
            fault = faults.find(exc, self.home, "data directory")
            if fault is not None:  # a raw SQLite or OS error that is a storage fault
                rec.error(str(fault))
            else:
                log.exception("run %s failed", run_id)
                rec.error(f"internal error: {type(exc).__name__}: {exc}")
                error = exc
            outcome = Outcome.FAILED
        if outcome == Outcome.OK and rec.errors:
            outcome = Outcome.PARTIAL
        try:
            summary = await self._finish(rec, account, kind, trigger, outcome, started, label)
        finally:
            rec.detach(attached)
        if fault is not None:
            # recorded as failed with its reason; the caller says it too (exit code 2)
            raise fault
        return Finished(summary, value, error)

    async def _finish(self, rec: RunRecorder, account: acc.Account, kind: RunKind,
                      trigger: Trigger, outcome: Outcome, started: datetime,
                      label: str) -> RunSummary:
        assert self.hub is not None
        duration = (utcnow() - started).total_seconds()
        rec.info(f"{label} of {account.name}: {outcome} in {duration:.1f}s "
                 + " ".join(f"{k}={v}" for k, v in sorted(rec.counts.items()) if v))
        if rec.record:
            try:
                await self._record_end(rec, outcome, round(duration, 3))
            except (DiskFull, StoreDamaged):
                # the hub cannot take the end: the run keeps the counts and lines written
                # as it went, and is marked interrupted when the hub is next opened
                self.publish(RunFinished(
                    run_id=rec.id, account=account.name, kind=kind, trigger=trigger,
                    outcome=outcome, counts=dict(rec.counts), errors=tuple(rec.errors),
                    duration_s=duration))
                raise
            summary = await get_run(self.hub, rec.id)
        else:
            summary = None
        if summary is None:
            summary = RunSummary(rec.id, account.name, kind, trigger, outcome, started.isoformat(),
                                 utcnow().isoformat(), dict(rec.counts), list(rec.errors),
                                 list(rec.steps))
        self.publish(RunFinished(run_id=rec.id, account=account.name, kind=kind, trigger=trigger,
                                 outcome=outcome, counts=dict(rec.counts),
                                 errors=tuple(rec.errors), duration_s=duration))
        for hook in self.finished_hooks:
            try:
                await hook(summary)
            except Exception:  # a notice must never fail the run
                log.exception("after-run hook failed")
        return summary

    async def _record_end(self, rec: RunRecorder, outcome: Outcome, duration: float) -> None:
        """finish_run; on a full disk, once more after a checkpoint has folded the hub's
        write-ahead log into the file and truncated it (that often frees enough)."""
        assert self.hub is not None
        try:
            await finish_run(self.hub, rec, outcome, duration)
        except DiskFull:
            if self.hub.dialect == "sqlite":
                try:
                    await self.hub.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
                except SincroError:
                    pass
            await finish_run(self.hub, rec, outcome, duration)


def default_shop_factory(account: acc.Account):
    from core.sync.shop import open_shop

    return open_shop(account)


async def default_erp_factory(engine: Engine):
    """The ERP chosen with ``sincro erp use`` (core/erp/choice.py), embedded by default."""
    from core.erp.choice import open_chosen_erp

    return await open_chosen_erp(engine.hub, engine.home / ERP_FILE)
