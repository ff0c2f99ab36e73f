"""`sincro status` (issue 18, acceptance 4): what a monitoring system calls. Exit 0 when all
is well, 1 when an account is late or failing, 2 on usage errors; the clock is fixed.

The commands run in-process through ``cli.main.main``; runs are written into the hub with
fixed times, the schedule is saved at a fixed moment."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from core.schedule import Schedule
from core.schedules_store import reset_next_run, save_schedule
from core.store.hub import open_hub
from tests.helpers import KEY
from tests.hubs import hub_exists, hub_write

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
EVERY_5 = Schedule("cron", tz="UTC", cron="*/5 * * * *")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def wide(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # whole cells, not folded in narrow ones


@pytest.fixture
def clock(monkeypatch) -> list[datetime]:
    """`sincro status` reads the time from here: `clock[0] = ...` moves it."""
    now = [NOW]
    monkeypatch.setattr("cli.commands.status.clock", lambda: now[0])
    return now


@pytest.fixture
def home(tmp_path: Path, capsys) -> Path:
    """shop1 every five minutes (saved at 09:58, so due at 10:00), shop2 without schedule."""
    home = tmp_path / "home"
    for name in ("shop1", "shop2"):
        assert main(["--home", str(home), "account", "add", name, "--url",
                     f"https://{name}.example", "--key", KEY]) == 0
    capsys.readouterr()

    async def schedule() -> None:
        db = await open_hub(home / "hub.db")
        try:
            await save_schedule(db, 1, EVERY_5, now=NOW - timedelta(minutes=2))
        finally:
            await db.close()

    asyncio.run(schedule())
    return home


def add_run(home: Path, outcome: str | None, ended: datetime, account_id: int = 1,
            kind: str = "scheduled") -> None:
    started = ended - timedelta(seconds=20)
    hub_write(home, "INSERT INTO runs (account_id, kind, trigger, owner, started_at, ended_at, "
              "outcome, errors) VALUES (?, ?, 'schedule', 'test', ?, ?, ?, ?)",
              (account_id, kind, started.isoformat(),
               ended.isoformat() if outcome else None, outcome,
               json.dumps(["the shop answered 503"] if outcome == "failed" else [])))


def status(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    return run(capsys, "--home", str(home), "status", *argv)


def as_json(capsys, home: Path, *argv: str) -> tuple[int, dict]:
    code, out, err = status(capsys, home, "--json", *argv)
    assert err == ""
    return code, json.loads(out)


def test_healthy_accounts_exit_0(home: Path, clock, capsys) -> None:
    add_run(home, "ok", NOW - timedelta(minutes=1), kind="orders")
    code, out, err = status(capsys, home)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "OK: all 2 accounts are well"
    assert "orders ok" in out and "never" in out  # shop2 never ran: nothing expected of it
    code, doc = as_json(capsys, home)
    assert code == 0 and doc["healthy"] is True
    shop1, shop2 = doc["accounts"]
    assert shop1["status"] == "ok" and shop1["problems"] == []
    assert shop1["last_run"]["kind"] == "orders" and shop1["last_run"]["outcome"] == "ok"
    assert shop1["age_s"] == 60
    assert shop1["next_run"] == "2026-11-28T10:00:00+00:00"
    assert shop1["failed_in_a_row"] == 0
    assert shop2 == {**shop2, "status": "ok", "schedule": None, "last_run": None,
                     "next_run": None, "failed_in_a_row": 0}
    code, out, _ = status(capsys, home, "shop1")
    assert code == 0 and out.splitlines()[0] == "OK: shop1 is well"


def test_an_overdue_next_run_is_late_exit_1(home: Path, clock, capsys) -> None:
    add_run(home, "ok", NOW - timedelta(minutes=1))
    clock[0] = NOW + timedelta(minutes=15)  # due at 10:00, nothing fired it: 15 min is not late
    assert status(capsys, home)[0] == 0
    clock[0] = NOW + timedelta(minutes=16)
    code, out, err = status(capsys, home)
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == ("NOT OK: shop1 late: next run was due 16m ago "
                                   "(late after 15m)")
    assert "16m overdue" in out
    assert "scheduled by: nobody" in out  # why: no daemon schedules this home
    code, doc = as_json(capsys, home)
    assert code == 1 and doc["healthy"] is False
    assert doc["accounts"][0]["problems"] == ["late"]
    assert doc["accounts"][0]["overdue_s"] == 16 * 60
    assert doc["accounts"][1]["status"] == "ok"  # no schedule: never late
    assert status(capsys, home, "--late-after", "20")[0] == 0
    assert status(capsys, home, "shop2")[0] == 0  # only the account named counts


def test_a_cleared_next_run_counts_from_the_last_scheduled_run(home: Path, clock,
                                                               capsys) -> None:
    async def reset() -> None:
        db = await open_hub(home / "hub.db")
        try:
            await reset_next_run(db, 1)
            async with db.transaction() as conn:  # cleared at 10:00
                await conn.execute("UPDATE schedules SET updated_at = ?", (NOW.isoformat(),))
        finally:
            await db.close()

    asyncio.run(reset())
    clock[0] = NOW + timedelta(minutes=3)
    code, doc = as_json(capsys, home, "shop1")
    assert code == 0 and doc["accounts"][0]["next_run"] == "2026-11-28T10:05:00+00:00"
    clock[0] = NOW + timedelta(hours=1)  # nobody computed it again since
    code, doc = as_json(capsys, home, "shop1")
    assert code == 1 and doc["accounts"][0]["problems"] == ["late"]


def test_failed_runs_in_a_row_are_failing_exit_1(home: Path, clock, capsys) -> None:
    add_run(home, "ok", NOW - timedelta(minutes=30))
    add_run(home, "failed", NOW - timedelta(minutes=20))
    code, out, err = status(capsys, home)
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == "NOT OK: shop1 failing: 1 run failed in a row"
    assert "scheduled failed" in out
    assert status(capsys, home, "--fail-after", "2")[0] == 0
    add_run(home, "interrupted", NOW - timedelta(minutes=15))  # passed over, not a success
    add_run(home, "failed", NOW - timedelta(minutes=10))
    add_run(home, None, NOW - timedelta(minutes=1))  # without an end, no live lease: not running
    code, doc = as_json(capsys, home, "--fail-after", "2")
    assert code == 1
    shop1 = doc["accounts"][0]
    assert shop1["failed_in_a_row"] == 2 and shop1["problems"] == ["failing"]
    assert shop1["reasons"] == ["2 runs failed in a row (failing from 2)"]
    assert shop1["last_run"]["outcome"] == "failed"
    assert shop1["last_run"]["errors"] == ["the shop answered 503"]
    assert shop1["running"] is None
    add_run(home, "partial", NOW - timedelta(minutes=5))  # it went through, with errors
    assert status(capsys, home)[0] == 0


def test_late_and_failing_together_and_a_disabled_account(home: Path, clock, capsys) -> None:
    add_run(home, "failed", NOW - timedelta(minutes=5))
    add_run(home, "failed", NOW - timedelta(minutes=5), account_id=2)
    clock[0] = NOW + timedelta(hours=2)
    code, doc = as_json(capsys, home)
    assert code == 1
    assert [a["status"] for a in doc["accounts"]] == ["late, failing", "failing"]
    assert main(["--home", str(home), "account", "edit", "shop2", "--disable"]) == 0
    capsys.readouterr()
    code, doc = as_json(capsys, home, "shop2")
    assert code == 0  # disabled: nothing is expected of it
    assert doc["accounts"][0]["status"] == "disabled"
    assert doc["accounts"][0]["failed_in_a_row"] == 1


def test_an_unknown_account_is_one_line_exit_2(home: Path, clock, capsys) -> None:
    code, out, err = status(capsys, home, "shop9")
    assert code == 2 and out == ""
    assert err.splitlines() == [err.strip()]
    assert err.startswith("sincro: error: no account named 'shop9' (known accounts: shop1, "
                          "shop2)")
    code, out, err = status(capsys, home, "shop9", "--json")
    assert code == 2 and out == ""


@pytest.mark.parametrize("argv, fragment", [
    (["--late-after", "-1"], "'-1' is not a number of minutes"),
    (["--late-after", "soon"], "'soon' is not a number of minutes"),
    (["--fail-after", "0"], "'0' is not a whole number from 1"),
    (["shop1", "shop2"], "unrecognized arguments"),
])
def test_bad_options_are_one_line_exit_2(home: Path, clock, capsys, argv, fragment) -> None:
    code, out, err = status(capsys, home, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err, err


def test_a_home_without_sincro_data_is_exit_2_and_left_alone(tmp_path: Path, clock,
                                                             capsys) -> None:
    home = tmp_path / "nothing-here"
    code, out, err = status(capsys, home)
    assert code == 2 and out == ""
    assert "no Sincro data in" in err and "SINCRO_HOME" in err
    assert not (home / "hub.db").exists() and not hub_exists(home)


def test_a_run_going_on_is_shown_beside_the_last_finished_one(home: Path, clock,
                                                              capsys) -> None:
    import os

    from core.locks import HOST

    add_run(home, "ok", NOW - timedelta(minutes=6))
    add_run(home, None, NOW - timedelta(seconds=30))  # run 2, its lease held by a live process
    hub_write(home, "INSERT INTO leases (account_id, owner, pid, host, what, run_id, "
              "acquired_at, heartbeat_at, expires_at) VALUES (1, 'test', ?, ?, "
              "'scheduled sync', 2, ?, ?, ?)", (os.getpid(), HOST, NOW.isoformat(),
                                                NOW.isoformat(), "2999-01-01T00:00:00+00:00"))
    code, doc = as_json(capsys, home, "shop1")
    assert code == 0
    shop1 = doc["accounts"][0]
    assert shop1["running"]["id"] == 2 and shop1["last_run"]["outcome"] == "ok"
    code, out, _ = status(capsys, home, "shop1")
    assert "shop1: scheduled run 2 going on since" in out
