"""`sincro schedule ...` (S-1, S-2) as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import KEY, assert_clean_error, sincro


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    r = sincro(home, "account", "add", "shop1", "--url", "https://shop.example", "--key", KEY,
               "--tz", "Europe/Rome")
    assert r.code == 0, r.err
    return home


def test_preview_across_the_spring_forward_night(home: Path) -> None:
    r = sincro(home, "schedule", "preview", "shop1", "--daily", "4", "--between", "08:00-20:00",
               "--tz", "Europe/Rome", "--from", "2026-03-28T10:00")
    assert r.code == 0, r.err
    rows = [line.split() for line in r.out.splitlines() if line[:2].strip().isdigit()]
    assert [(d, t, o) for _, _, d, t, o in rows] == [
        ("2026-03-28", "12:00", "+01:00"), ("2026-03-28", "16:00", "+01:00"),
        ("2026-03-28", "20:00", "+01:00"), ("2026-03-29", "08:00", "+02:00"),
        ("2026-03-29", "12:00", "+02:00"), ("2026-03-29", "16:00", "+02:00"),
        ("2026-03-29", "20:00", "+02:00"), ("2026-03-30", "08:00", "+02:00"),
        ("2026-03-30", "12:00", "+02:00"), ("2026-03-30", "16:00", "+02:00")]
    assert [row[1] for row in rows[:4]] == ["Sat", "Sat", "Sat", "Sun"]


def test_set_show_preview_reset(home: Path) -> None:
    assert sincro(home, "schedule", "set", "shop1", "--weekly", "mon,thu", "--at", "07:30").code == 0
    shown = json.loads(sincro(home, "schedule", "show", "shop1", "--json").out)
    assert shown["schedule"]["kind"] == "weekly" and shown["next_run"]
    preview = json.loads(sincro(home, "schedule", "preview", "shop1", "--json", "--count", "4").out)
    assert len(preview["runs"]) == 4
    assert sincro(home, "schedule", "reset", "shop1").code == 0
    assert json.loads(sincro(home, "schedule", "show", "shop1", "--json").out)["next_run"] is None


@pytest.mark.parametrize("args, fragment", [
    (("--cron", "0 0 31 2 *"), "never fires"),
    (("--cron", "61 * * * *"), "cron"),
    (("--daily", "2000", "--between", "08:00-08:30"), "runs"),
    (("--monthly", "32", "--at", "08:00"), "32"),
    (("--weekly", "funday", "--at", "08:00"), "funday"),
    (("--daily", "4", "--between", "08:00-20:00", "--tz", "Mars/Base"), "Mars/Base"),
])
def test_impossible_schedules_get_a_clear_message(home: Path, args, fragment) -> None:
    assert_clean_error(sincro(home, "schedule", "set", "shop1", *args), fragment)
