"""Help, command palette, themes, bindings: the console as a whole."""

from __future__ import annotations

import os
from pathlib import Path

from core.store.pg import shown_url
from tests import pg
from tests.hubs import on_postgres
from tests.tui.fakes import help_rows, make_app, screen_text, settle
from tui.app import SincroApp
from tui.screens.help import HelpScreen


async def test_help_lists_every_key_of_every_screen(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listed = {(row[0], row[2]) for row in await help_rows(app, pilot)}
        for where, bindings in app.key_sections():
            for binding in bindings:
                assert (where, binding.tooltip or binding.description) in listed
        assert ("Accounts", "Orders sync: import new orders, push them to the ERP") in listed
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


def test_every_binding_has_an_id_and_a_description() -> None:
    app = SincroApp(engine_factory=lambda: None)  # type: ignore[arg-type,return-value]
    for _where, bindings in app.key_sections():
        for binding in bindings:
            if binding.action == "command_palette":
                continue
            assert binding.id, binding
            assert binding.description, binding


async def test_theme_toggles_between_dark_and_light(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "sincro-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "sincro-light"
        await pilot.press("ctrl+t")
        assert app.theme == "sincro-dark"


async def test_the_palette_has_every_action_and_runs_them(home: Path, shop) -> None:
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in ("Orders sync", "Customers sync", "Full sync", "States push",
                      "Listing rules", "Edit account", "New account", "Schedule",
                      "Show live log", "Show run history", "Show ERP", "Open run",
                      "ERP: set stock", "Toggle dark/light theme", "Help: every key"):
            assert title in commands
        commands["Show live log"].callback()
        await pilot.pause()
        assert "account: all" in screen_text(app)
        await commands["Orders sync"].callback()
        await settle(pilot)
        assert shop.opened == ["shop1"]


async def test_the_palette_opens_on_ctrl_p_and_finds_a_sync(home: Path, shop) -> None:
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"orders sync")
        await pilot.pause()
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert shop.opened == ["shop1"]


async def test_nothing_is_cut_off_at_80x24(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("1", "2", "3", "4", "6"):
            await pilot.press(key)
            await settle(pilot)
            footer = screen_text(app).splitlines()[-1]
            assert "Help" in footer, (key, footer)  # the last key of the footer still fits


async def test_quitting_while_a_sync_runs_asks_first(home: Path, shop) -> None:
    from tui.screens.dialogs import ConfirmScreen

    gate = shop.hold()
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot, skip=("bridge", "run:"))
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Orders sync of shop1" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        gate.set()
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_hub_that_cannot_be_opened_is_explained(tmp_path: Path, notes,
                                                        monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if on_postgres():  # the PostgreSQL hub's equivalent: its server refuses the password
        url = os.environ["SINCRO_HUB"]
        assert f":{pg.PASSWORD}@" in url
        monkeypatch.setenv("SINCRO_HUB", url.replace(f":{pg.PASSWORD}@", ":wrong-secret@"))
        await _explains_an_unreachable_hub(make_app(home), notes, shown_url(url))
        return
    (home / "hub.db").write_bytes(b"this is not a database" * 100)
    app = make_app(home)
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):  # the opening worker fails; wait for it without raising
            await pilot.pause()
            if all(w.is_finished for w in app.workers if w.group == "engine"):
                break
        await pilot.pause()
        assert "cannot open the hub: the hub database" in screen_text(app)
        assert any("is damaged (file is not a database)" in n["message"]
                   and "sincro restore PATH" in n["message"] for n in seen)
        assert app.engine is None


async def _explains_an_unreachable_hub(app: SincroApp, notes, shown: str) -> None:
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):  # the opening worker fails; wait for it without raising
            await pilot.pause()
            if all(w.is_finished for w in app.workers if w.group == "engine"):
                break
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert f"cannot open the hub: cannot open the hub database at {shown} " in text
        assert "password authentication failed" in text
        errors = [n["message"] for n in seen if n.get("severity") == "error"]
        assert len(errors) == 1 and "\n" not in errors[0], errors
        assert shown in errors[0] and "password authentication failed" in errors[0]
        assert "SINCRO_HUB" in errors[0]
        for shown_text in (text, *[n["message"] for n in seen]):
            assert "wrong-secret" not in shown_text and pg.PASSWORD not in shown_text
        assert app.engine is None


async def test_quitting_during_a_sync_leaves_it_interrupted_and_resumable(home: Path,
                                                                          shop) -> None:
    from core.runs import get_run
    from core.store.hub import open_hub

    shop.hold()
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot, skip=("bridge", "run:"))
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    db = await open_hub(home / "hub.db")
    try:
        run = await get_run(db, 1)
        assert run.outcome == "interrupted"
        assert await db.scalar("SELECT COUNT(*) FROM leases") == 0
    finally:
        await db.close()


async def test_switching_views_does_not_keep_old_footer_keys_alive(home: Path) -> None:
    # Textual's Footer leaves a watcher per key it ever showed (textual#6666);
    # thousands of dead keys made the garbage collector pause for a second.
    import gc

    from textual.widgets._footer import FooterKey

    def alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, FooterKey))

    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in "12345":
            await pilot.press(key)
            await settle(pilot)
        before = alive()
        for _ in range(10):
            for key in "12345":
                await pilot.press(key)
                await settle(pilot)
        after = alive()
    assert after <= before + 10, (before, after)


async def test_the_footer_is_rebuilt_only_when_its_keys_change(home: Path) -> None:
    from textual.widgets._footer import FooterKey

    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = list(app.screen.query(FooterKey))
        for _ in range(3):  # a new account highlighted: bindings refreshed, same keys
            await pilot.press("down")
            await settle(pilot)
            app.screen.refresh_bindings()
            await settle(pilot)
        assert list(app.screen.query(FooterKey)) == keys
        await pilot.press("2")  # the live log has other keys
        await settle(pilot)
        assert "Follow/pause" in [k.description for k in app.screen.query(FooterKey)]
