"""No console view crashes on a stored value (issue 20, item 5), and none draws shop text
raw (item 2): amounts such as 1E+309, NaN, Infinity or 20 decimals in erp.db, odd
durations in hub.db, escape sequences in names and errors."""

from __future__ import annotations

import json
from pathlib import Path

from core.erp.embedded import EmbeddedErp
from core.erp.port import CustomerData
from tests.hubs import erp_write, hub_write, on_postgres
from tests.integration.test_stored_values import corrupt_erp
from tests.tui.fakes import make_app, screen_text, seed_erp, seed_runs, settle

HOSTILE = "\x1b[31mRED\x1b]0;pwned\x07\x1b[2J\u202e"


def raw_screen(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "".join(segment.text for strip in strips for segment in strip)


async def test_erp_view_shows_odd_amounts_as_text(home: Path, notes) -> None:
    await seed_erp(home)
    corrupt_erp(home / "erp.db", ("1e309", "NaN"))
    erp_write(home, "UPDATE articles SET price = '0.12345678901234567890' WHERE code = 'B2'")
    app = make_app(home)
    seen = notes(app)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        text = screen_text(app)
        assert "1E+309" in text and "NaN" in text
        await pilot.press("t")
        await settle(pilot)
        assert "0.12345" in screen_text(app)
    assert not [n for n in seen if n.get("severity") == "error"], seen


async def test_history_and_run_detail_show_odd_durations(home: Path, notes) -> None:
    await seed_runs(home)
    hub_write(home, "UPDATE runs SET duration_s = 'NaN' WHERE id = 1")
    # SQLite stores 1e999 as Inf; PostgreSQL refuses the literal, so it is told Infinity
    infinite = "'Infinity'" if on_postgres() else "1e999"
    hub_write(home, f"UPDATE runs SET duration_s = {infinite} WHERE id = 2")
    hub_write(home, "UPDATE runs SET counts = ? WHERE id = 3",
              (json.dumps({"orders_imported": 10**30}),))
    app = make_app(home)
    seen = notes(app)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert "NaN" in screen_text(app) and " inf " in screen_text(app)
        for _ in range(3):
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("down")
    assert not [n for n in seen if n.get("severity") == "error"], seen


async def test_hostile_names_and_errors_are_drawn_with_their_escapes_written_out(
        home: Path) -> None:
    await seed_runs(home)
    await seed_erp(home)
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        await erp.add_article(f"C3{HOSTILE[:1]}", f"Mug{HOSTILE}", "1.00")
        await erp.upsert_customer(CustomerData("shop1:c:9", f"Ann{HOSTILE}"))
    finally:
        await erp.close()
    # what a shop's answer put in a run's errors and log
    hub_write(home, "UPDATE runs SET errors = ? WHERE id = 2",
              (json.dumps([f"customer 7: the shop said {HOSTILE}"]),))
    hub_write(home, "INSERT INTO run_logs (run_id, at, level, message) VALUES "
              "(2, '2026-11-27T09:30:01+00:00', 'error', ?)", (f"order R{HOSTILE} failed",))
    app = make_app(home)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        for key in ("3", "enter", "escape", "down", "enter", "v", "escape", "4", "t", "1"):
            await pilot.press(key)
            await settle(pilot)
            screen = raw_screen(app)
            assert "\x1b" not in screen and "\x07" not in screen and "\u202e" not in screen, key
        await pilot.press("3", "enter")  # the cursor is still on run 2
        await settle(pilot)
        assert "\\x1b[31mRED" in screen_text(app)
