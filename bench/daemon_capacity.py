"""What `sincro --daemon` holds: accounts on 15-minute schedules against one emulated shop
(in its own process, with injected latency), for a SQLite hub with one daemon and a
PostgreSQL hub with one or two daemons. Run by hand, never by the tests:

    uv run python bench/daemon_capacity.py [--accounts 100,500,1000,2000]
        [--configs sqlite-1,pg-1,pg-2] [--window 60] [--latency-ms 20] [--orders 3]
        [--spread period|window] [--timeout 1200]

For each config and each number of accounts N: a fresh home (for PostgreSQL a fresh
database in a throwaway cluster this script starts: tests/pg.py's Cluster, fsync off),
N accounts on one emulator, each scheduled "*/15 * * * *" (Europe/Rome). Three phases,
each with its own daemon processes (``python -m cli --daemon``, stopped with SIGTERM):

1. warm-up: every account due at once, until every first run has ended (a first run
   imports the shop's few orders and makes their customers; later runs find nothing new);
2. window: the stored next runs spread evenly over the 15-minute period from t0
   (``--spread period``: the real demand of N accounts, N*W/900 runs due in the W-second
   window, time not scaled) or over the window itself (``--spread window``: all N runs
   due in W seconds, 900/W times the real demand). Measured: runs started in the window,
   lateness (start - due) of every run due in it (waiting after the window until each
   has started), CPU of the daemons, of PostgreSQL and of the emulator over the window,
   peak RSS of each daemon;
3. saturation: every account due at once; the time until all N runs have ended gives the
   sustained throughput R (runs/s); R*900 bounds the accounts one setup keeps on
   15-minute schedules (R*450 is the comfortable figure).

Due times are the stored next runs (whole seconds: the hub keeps them at second
resolution); a start is the moment this script reads the daemon's ``event=run_started``
line (its ``ts`` and the runs table's started_at are whole seconds, too coarse). The
due time comes from the daemon's "scheduled run of X due T starts" notice. At each
quarter hour the accounts that have run are due again (the schedule's own next run): a
phase that would cross one waits for it to pass first (daemons stopped), and the runs
of a boundary that still falls inside a phase are counted apart, out of the figures. A daemon only sees next runs written by
another process at its next look (within 20 s), so each phase writes them before its
daemons start, with a few seconds' lead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._emulator import emulator_process, requests_made, reset_requests  # noqa: E402
from core import accounts as acc  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.schedule import Schedule  # noqa: E402
from core.schedules_store import save_schedule  # noqa: E402
from core.timeutil import iso  # noqa: E402
from tests import pg as testpg  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")
PERIOD = 900.0  # a 15-minute schedule
LEAD = 6.0  # seconds between starting the daemons and the first due run
LATE = 60.0  # the lateness that counts as "late"
BUSY = 80.0  # % of a core per daemon, in the window, that says the daemon is CPU-bound
WARM_GUESS = 6.0  # first runs/s, to tell whether the warm-up would cross a quarter-hour
SCHEDULE = Schedule("cron", tz="Europe/Rome", cron="*/15 * * * *")
FIELD = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))')
NOTICE = re.compile(r"scheduled run of (\S+) due (\S+) (starts|skipped)")


# -- /proc ------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def cpu_s(pid: int, children: bool = False) -> float:
    """utime+stime of ``pid`` (children excluded unless ``children``: reaped ones too)."""
    f = _stat(pid)
    if f is None:
        return 0.0
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)
    return ticks / CLK


def hwm_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child_pids(ppid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (f := _stat(int(d.name))) is not None and int(f[1]) == ppid:
            out.append(int(d.name))
    return out


def tree_cpu_s(pid: int) -> float:
    """A parent and its live children (PostgreSQL's postmaster and backends)."""
    return cpu_s(pid, children=True) + sum(cpu_s(c) for c in child_pids(pid))


def machine_busy() -> tuple[float, float]:
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


# -- daemons ----------------------------------------------------------------
@dataclass
class Run:
    account: str
    due: float
    daemon: int
    claimed: float
    started: float | None = None
    finished: float | None = None
    outcome: str = ""


class Daemon:
    """One ``sincro --daemon`` process; its stdout read as it comes, each line timed."""

    def __init__(self, index: int, env: dict[str, str]) -> None:
        self.index = index
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "--daemon"], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.ready = threading.Event()
        self.ready_at = 0.0
        self.lock = threading.Lock()
        self.runs: list[Run] = []
        self.open: dict[str, Run] = {}  # account -> its claimed run not yet started
        self.going: dict[str, Run] = {}  # account -> its started run
        self.skipped = 0
        self.other: list[str] = []  # errors and warnings
        self.err: list[str] = []
        self.signalled = False
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.time()
            f = {m[1]: m[2] if m[2] is not None else m[3] for m in FIELD.finditer(line)}
            ev = f.get("event")
            with self.lock:
                if ev == "notice":
                    msg = f.get("msg", "")
                    if m := NOTICE.match(msg):
                        due = datetime.fromisoformat(m[2]).timestamp()
                        if m[3] == "starts":
                            run = Run(m[1], due, self.index, now)
                            self.open[m[1]] = run
                            self.runs.append(run)
                        else:
                            self.skipped += 1
                    elif msg.startswith("daemon started"):
                        self.ready_at = now
                        self.ready.set()
                    elif f.get("level") in ("warning", "error"):
                        self.other.append(msg)
                elif ev == "run_started":
                    if (run := self.open.pop(f.get("account", ""), None)) is not None:
                        run.started = now
                        self.going[run.account] = run
                elif ev == "run_finished":
                    if (run := self.going.pop(f.get("account", ""), None)) is not None:
                        run.finished = now
                        run.outcome = f.get("outcome", "")
                elif ev == "run_refused" or (ev == "log" and f.get("level") in ("warning",
                                                                                   "error")):
                    self.other.append(line.strip()[:300])

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line.rstrip())

    def snapshot(self) -> list[Run]:
        with self.lock:
            return [Run(**r.__dict__) for r in self.runs]

    def term(self) -> None:
        """SIGTERM, once (a second one after the daemon's handler has gone would kill it)."""
        if not self.signalled and self.proc.poll() is None:
            self.signalled = True
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 120.0) -> int | None:
        if self.proc.poll() is None:
            self.term()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for t in self._threads:
            t.join(5)
        return self.proc.returncode


LIVE: list[Daemon] = []  # stopped on the way out, whatever happens


def start_daemons(k: int, env: dict[str, str]) -> list[Daemon]:
    ds = [Daemon(i, env) for i in range(k)]
    LIVE.extend(ds)
    for d in ds:
        if not d.ready.wait(120):
            raise RuntimeError(f"daemon {d.index} did not start: {' '.join(d.err[-5:])}")
    return ds


def stop_daemons(ds: list[Daemon]) -> None:
    for d in ds:
        d.term()
    for d in ds:
        code = d.stop()
        LIVE.remove(d)
        if code != 0:
            print(f"    ! daemon {d.index} exited with {code}: {' | '.join(d.err[-3:])}")
        elif d.err:
            print(f"    ! daemon {d.index} stderr: {' | '.join(d.err[-3:])}")


def all_runs(ds: list[Daemon]) -> list[Run]:
    return [r for d in ds for r in d.snapshot()]


# -- the hub ----------------------------------------------------------------
@contextlib.contextmanager
def hub_env(url: str | None) -> Iterator[None]:
    """SINCRO_HUB for this process's own Engine (the hub is chosen from the environment)."""
    saved = os.environ.pop("SINCRO_HUB", None)
    if url:
        os.environ["SINCRO_HUB"] = url
    try:
        yield
    finally:
        os.environ.pop("SINCRO_HUB", None)
        if saved is not None:
            os.environ["SINCRO_HUB"] = saved


async def _setup(home: Path, n: int, url: str, key: str) -> dict[str, int]:
    ids = {}
    async with Engine(home, notify=False) as engine:
        for i in range(n):
            a = await acc.add_account(engine.hub, acc.build_account(
                f"shop{i:05d}", url, key=key, tz="Europe/Rome",
                options={"tax_map": {"0": "N4"}}))
            assert a.id is not None
            await save_schedule(engine.hub, a.id, SCHEDULE)
            ids[a.name] = a.id
    return ids


async def _plant(home: Path, dues: dict[int, float]) -> None:
    """The stored next runs (set_next_run's statement, all in one transaction)."""
    rows = [(iso(datetime.fromtimestamp(t, UTC)), aid) for aid, t in dues.items()]
    async with Engine(home, notify=False, tidy=False) as engine:
        async with engine.hub.transaction() as conn:
            await conn.executemany("UPDATE schedules SET next_run = ? WHERE account_id = ?", rows)


# -- figures ----------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def lat_text(values: list[float], censored: int = 0) -> str:
    if not values:
        return "no runs"
    gt = ">" if censored else ""
    return (f"p50 {pct(values, 50):.1f} s, p99 {gt}{pct(values, 99):.1f} s, "
            f"max {gt}{max(values):.1f} s")


@dataclass
class Result:
    config: str
    hub: str
    daemons: int
    n: int
    setup_s: float = 0.0
    warm_s: float = float("nan")
    due_in_window: int = 0
    started_in_window: int = 0
    per_min: float = 0.0
    lat: list[float] = field(default_factory=list)
    censored: int = 0
    cpu_pct: float = 0.0
    cpu_each: list[float] = field(default_factory=list)
    pg_pct: float = float("nan")
    emu_pct: float = 0.0
    machine_pct: float = 0.0
    rss: list[float] = field(default_factory=list)
    sat_s: float = float("nan")
    sat_rate: float = float("nan")
    sat_lat: list[float] = field(default_factory=list)
    sat_cpu_pct: float = 0.0
    sat_pg_pct: float = float("nan")
    sat_emu_pct: float = 0.0
    sat_machine_pct: float = 0.0
    sat_done: int = 0
    req_per_run: float = float("nan")
    boundary_runs: int = 0
    skipped: int = 0
    not_ok: int = 0


@dataclass
class Ctx:
    root: Path
    url: str
    key: str
    emu_pid: int
    cluster: testpg.Cluster | None
    args: argparse.Namespace


class Meter:
    """CPU of the daemons, of PostgreSQL, of the emulator and of the machine, from a mark."""

    def __init__(self, ds: list[Daemon], ctx: Ctx) -> None:
        self.ds, self.ctx = ds, ctx
        self.pm = None
        if ctx.cluster is not None:
            with contextlib.suppress(OSError, ValueError):
                self.pm = int((ctx.cluster.data / "postmaster.pid").read_text().split()[0])
        self.mark()

    def _read(self) -> tuple:
        return (time.time(), [cpu_s(d.pid) for d in self.ds],
                tree_cpu_s(self.pm) if self.pm else 0.0, cpu_s(self.ctx.emu_pid), machine_busy())

    def mark(self) -> None:
        self.t0 = self._read()

    def since(self) -> dict:
        t1 = self._read()
        wall = max(1e-6, t1[0] - self.t0[0])
        each = [100 * (b - a) / wall for a, b in zip(self.t0[1], t1[1], strict=True)]
        busy = t1[4][0] - self.t0[4][0]
        total = max(1, t1[4][1] - self.t0[4][1])
        return {"wall": wall, "each": each, "daemons": sum(each),
                "pg": 100 * (t1[2] - self.t0[2]) / wall if self.pm else float("nan"),
                "emu": 100 * (t1[3] - self.t0[3]) / wall,
                "machine": 100 * busy / total * (os.cpu_count() or 1)}


def first_due(expected_s: float) -> float:
    """A phase's due time: LEAD seconds from now, or past the next quarter-hour when the
    phase (expected to take ``expected_s``) would cross it: there the accounts that have
    run are due again (their schedule's own next run), a burst that is not the load
    measured. (The daemons are stopped between phases: nothing runs while we wait.)"""
    t0 = math.ceil(time.time() + LEAD)
    boundary = (t0 // PERIOD + 1) * PERIOD  # Europe/Rome's offsets are whole hours
    if t0 + expected_s + 10 > boundary and expected_s + 10 < PERIOD - LEAD:
        print(f"    (waiting {boundary - time.time():.0f} s for the quarter-hour to pass)")
        sleep_until(boundary + 1)
        t0 = math.ceil(time.time() + LEAD)
    return float(t0)


def sleep_until(t: float) -> None:
    while (left := t - time.time()) > 0:
        time.sleep(min(left, 0.5))


def wait_for(cond, timeout: float, poll: float = 0.2) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(poll)
    return cond()


def measure(ctx: Ctx, config: str, n: int) -> Result:
    hub, k = config.split("-")
    res = Result(config, "PostgreSQL" if hub == "pg" else "SQLite", int(k), n)
    home = ctx.root / f"{config}-{n}" / "home"
    dbname = url = None
    if hub == "pg":
        assert ctx.cluster is not None
        dbname = ctx.cluster.new_database()
        url = ctx.cluster.url(dbname)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINCRO_")}
    env["SINCRO_HOME"] = str(home)
    if os.environ.get("SINCRO_DAEMON_RUNS"):
        env["SINCRO_DAEMON_RUNS"] = os.environ["SINCRO_DAEMON_RUNS"]
    if url:
        env["SINCRO_HUB"] = url
    args = ctx.args
    try:
        with hub_env(url):
            t = time.perf_counter()
            ids = asyncio.run(_setup(home, n, ctx.url, ctx.key))
            res.setup_s = time.perf_counter() - t
        print(f"  setup: {n} accounts and schedules in {res.setup_s:.1f} s "
              f"({n / res.setup_s:.0f}/s, one Engine, add_account + save_schedule)")

        def phase(dues: dict[str, float]) -> list[Daemon]:
            with hub_env(url):
                asyncio.run(_plant(home, {ids[a]: t for a, t in dues.items()}))
            return start_daemons(res.daemons, env)

        def of(runs: list[Run], dues: dict[str, float]) -> list[Run]:
            """The runs of the planted due times (not those of a quarter-hour boundary)."""
            return [r for r in runs if abs(dues.get(r.account, -1e18) - r.due) < 1]

        def done(ds: list[Daemon], dues: dict[str, float]) -> int:
            return sum(r.finished is not None for r in of(all_runs(ds), dues))

        # 1. warm-up: each account's first run
        t0 = first_due(n / WARM_GUESS)
        dues = {a: t0 for a in ids}
        ds = phase(dues)
        ok = wait_for(lambda: done(ds, dues) >= n, args.timeout, 0.5)
        fin = [r.finished for r in of(all_runs(ds), dues) if r.finished is not None]
        res.warm_s = (max(fin) - t0) if fin else float("nan")
        print(f"  warm-up: {len(fin)}/{n} first runs ended in {res.warm_s:.1f} s"
              + ("" if ok else " (timed out)"))
        stop_daemons(ds)

        # 2. the window: the real demand (or all N due within it: --spread window)
        w = args.window
        t0 = first_due(w + 30)
        step = (PERIOD if args.spread == "period" else w) / n
        dues = {a: t0 + math.floor(i * step) for i, a in enumerate(ids)}
        in_window = {a for a, t in dues.items() if t < t0 + w}
        res.due_in_window = len(in_window)
        ds = phase(dues)
        if any(d.ready_at > t0 for d in ds):
            print("    ! a daemon was ready only after the first due run")
        sleep_until(t0)
        meter = Meter(ds, ctx)
        sleep_until(t0 + w)
        m = meter.since()
        res.rss = [hwm_mb(d.pid) for d in ds]
        runs = all_runs(ds)
        res.started_in_window = sum(1 for r in runs
                                    if r.started is not None and t0 <= r.started < t0 + w)
        res.per_min = res.started_in_window / w * 60
        res.cpu_pct, res.cpu_each, res.pg_pct, res.emu_pct, res.machine_pct = (
            m["daemons"], m["each"], m["pg"], m["emu"], m["machine"])
        # every run due in the window, however late it starts
        wait_for(lambda: sum(r.started is not None for r in of(all_runs(ds), dues)
                             if r.account in in_window) >= len(in_window), args.timeout, 0.5)
        now = time.time()
        runs = all_runs(ds)
        mine = [r for r in of(runs, dues) if r.account in in_window]
        res.lat = [r.started - r.due for r in mine if r.started is not None]
        unstarted = in_window - {r.account for r in mine if r.started is not None}
        res.censored = len(unstarted)
        res.lat += [now - dues[a] for a in unstarted]
        res.boundary_runs = len(runs) - len(of(runs, dues))
        res.skipped = sum(d.skipped for d in ds)
        notes = [x for d in ds for x in d.other]
        print(f"  window {w:.0f} s ({args.spread}): {res.due_in_window} runs due, "
              f"{res.started_in_window} started ({res.per_min:.1f}/min); lateness "
              f"{lat_text(res.lat, res.censored)}"
              + (f"; {res.censored} never started" if res.censored else ""))
        print(f"    CPU (% of one core): daemons {res.cpu_pct:.1f} "
              f"({' + '.join(f'{c:.1f}' for c in res.cpu_each)}), PostgreSQL "
              f"{res.pg_pct:.1f}, emulator {res.emu_pct:.1f}, whole machine "
              f"{res.machine_pct:.0f} of {100 * (os.cpu_count() or 1)}; peak RSS "
              f"{' / '.join(f'{r:.0f}' for r in res.rss)} MB")
        stop_daemons(ds)

        # 3. saturation: every account due at once
        with contextlib.suppress(Exception):
            reset_requests(ctx.url)
        t0 = first_due(1.5 * res.warm_s)
        dues = {a: t0 for a in ids}
        ds = phase(dues)
        sleep_until(t0)
        meter = Meter(ds, ctx)
        ok = wait_for(lambda: done(ds, dues) >= n, args.timeout)
        m = meter.since()
        res.rss = [max(a, hwm_mb(d.pid)) for a, d in zip(res.rss, ds, strict=True)]
        runs = all_runs(ds)
        mine = of(runs, dues)
        fin = [r.finished for r in mine if r.finished is not None]
        res.sat_done = len(fin)
        res.sat_s = (max(fin) - t0) if fin else float("nan")
        res.sat_rate = len(fin) / res.sat_s if fin else float("nan")
        res.sat_lat = [r.started - r.due for r in mine if r.started is not None]
        res.not_ok = sum(1 for r in mine if r.finished is not None and r.outcome != "ok")
        res.sat_cpu_pct, res.sat_pg_pct, res.sat_emu_pct, res.sat_machine_pct = (
            m["daemons"], m["pg"], m["emu"], m["machine"])
        with contextlib.suppress(Exception):
            res.req_per_run = requests_made(ctx.url)["total"] / max(1, len(all_runs(ds)))
        res.skipped += sum(d.skipped for d in ds)
        res.boundary_runs += len(runs) - len(mine)
        notes += [x for d in ds for x in d.other]
        starts = [r.started for r in mine if r.started is not None]
        print(f"  saturation: {res.sat_done}/{n} runs ended in {res.sat_s:.1f} s"
              + ("" if ok else " (timed out)")
              + (f" (all started in {max(starts) - t0:.1f} s)" if starts else "")
              + f": R = {res.sat_rate:.2f} runs/s; lateness {lat_text(res.sat_lat)}")
        print(f"    CPU (% of one core): daemons {res.sat_cpu_pct:.1f}, PostgreSQL "
              f"{res.sat_pg_pct:.1f}, emulator {res.sat_emu_pct:.1f}, whole machine "
              f"{res.sat_machine_pct:.0f}; {res.req_per_run:.1f} shop requests per run; "
              f"outcome not ok: {res.not_ok}")
        print(f"    => ~{res.sat_rate * PERIOD:.0f} accounts at 15 min (upper bound), "
              f"~{res.sat_rate * PERIOD / 2:.0f} comfortably")
        stop_daemons(ds)
        if res.boundary_runs or res.skipped:
            print(f"  also: {res.boundary_runs} runs due at a quarter-hour boundary (left "
                  f"out), {res.skipped} skipped")
        if notes:
            print(f"  {len(notes)} warnings/errors from the daemons, e.g.: {notes[0][:200]}")
        return res
    finally:
        for d in list(LIVE):
            d.stop(30)
            LIVE.remove(d)
        if dbname and ctx.cluster is not None:
            with contextlib.suppress(Exception):
                ctx.cluster.drop_database(dbname)
        shutil.rmtree(home.parent, ignore_errors=True)


# -- the report -------------------------------------------------------------
def table(results: list[Result]) -> str:
    rows = ["| hub | daemons | accounts | runs/min | lateness p50 / p99 | CPU % | RSS MB "
            "| saturation runs/s | ~accounts at 15 min |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        gt = ">" if r.censored else ""
        rows.append(
            f"| {r.hub} | {r.daemons} | {r.n} | {r.per_min:.1f} | "
            f"{pct(r.lat, 50):.1f} s / {gt}{pct(r.lat, 99):.1f} s | {r.cpu_pct:.0f} | "
            f"{' / '.join(f'{x:.0f}' for x in r.rss)} | {r.sat_rate:.1f} | "
            f"{r.sat_rate * PERIOD:.0f} (≤; ~{r.sat_rate * PERIOD / 2:.0f} comfortable) |")
    return "\n".join(rows)


def late_point(results: list[Result]) -> list[str]:
    out = []
    for config in dict.fromkeys(r.config for r in results):
        rs = sorted((r for r in results if r.config == config), key=lambda r: r.n)
        late = next((r for r in rs if pct(r.lat, 99) > LATE), None)
        if late is not None:
            out.append(f"- {config}: runs are late (window p99 > {LATE:.0f} s) from "
                       f"{late.n} accounts")
        else:
            r = rs[-1]
            out.append(f"- {config}: never late up to {r.n} accounts; saturation at "
                       f"{r.n} accounts predicts ~{r.sat_rate * PERIOD:.0f} "
                       f"(R = {r.sat_rate:.2f} runs/s)")
        busy = next((r for r in rs if r.cpu_pct / r.daemons >= BUSY), None)
        if busy is not None:  # the steady load alone takes the daemon's core
            out.append(f"  but at {busy.n} accounts the steady 15-minute load already "
                       f"takes {busy.cpu_pct / busy.daemons:.0f}% of a core per daemon: "
                       "the daemon is CPU-bound before R*900 (it grows faster than the runs)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--accounts", default="100,500,1000,2000")
    p.add_argument("--configs", default="sqlite-1,pg-1,pg-2")
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--orders", type=int, default=3, help="orders in the emulated shop")
    p.add_argument("--spread", choices=("period", "window"), default="period")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds a phase may take")
    args = p.parse_args()
    ns = [int(x) for x in args.accounts.split(",") if x.strip()]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if not re.fullmatch(r"(sqlite-1|pg-[1-9])", c):
            p.error(f"unknown config {c!r}: sqlite-1 or pg-K")
    root = Path(tempfile.mkdtemp(prefix="sincro-capacity-"))
    os.chmod(root, 0o755)
    cluster = None
    results: list[Result] = []
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; emulator with "
          f"{args.orders} orders, {args.latency_ms:.0f} ms per request; schedule */15 * * * * "
          f"Europe/Rome; SINCRO_DAEMON_RUNS={os.environ.get('SINCRO_DAEMON_RUNS') or 16}")
    try:
        if any(c.startswith("pg") for c in configs):
            bindir = testpg._bindir()
            if bindir is None:
                raise SystemExit("PostgreSQL is not installed (no initdb)")
            cluster = testpg.Cluster(bindir, root / "pg", testpg.free_port(), testpg._run_as())
            cluster.root.mkdir()
            os.chmod(cluster.root, 0o755)
            cluster.start()
            print(f"PostgreSQL cluster on 127.0.0.1:{cluster.port} (fsync off, "
                  "synchronous_commit off)")
        with emulator_process(args.orders, 7, args.latency_ms) as (url, key):
            emu = [c for c in child_pids(os.getpid())
                   if b"emulator" in Path(f"/proc/{c}/cmdline").read_bytes()]
            ctx = Ctx(root, url, key, emu[0] if emu else 0, cluster, args)
            for config in configs:
                for n in ns:
                    print(f"\n== {config}, {n} accounts")
                    results.append(measure(ctx, config, n))
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up")
    finally:
        for d in list(LIVE):
            d.stop(30)
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    if results:
        print(f"\nwindow {args.window:.0f} s, spread over the "
              f"{'15-minute period' if args.spread == 'period' else 'window'}; lateness = start "
              "- due; CPU % = daemons' CPU in the window, of one core (sum over daemons); RSS "
              "= peak per daemon (window or saturation); saturation = all accounts due at "
              "once\n")
        print(table(results))
        print("\nwhere runs start to be late:")
        print("\n".join(late_point(results)))


if __name__ == "__main__":
    main()
