"""The account form: add and edit with messages in place, the key masked, test connection."""

from __future__ import annotations

from pathlib import Path

from core.accounts import get_account
from core.store.hub import open_hub
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.tui.fakes import KEY, fill, make_app, screen_text, settle
from tui.screens.account_form import AccountForm
from tui.widgets.account_table import AccountTable
from tui.widgets.form import FormMessage


async def account(home: Path, name: str):
    db = await open_hub(home / "hub.db")
    try:
        return await get_account(db, name)
    finally:
        await db.close()


def message(app) -> str:
    return str(app.screen.query_one(FormMessage).render())


async def test_add_an_account_with_messages_in_place(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, AccountForm)
        await fill(pilot, "#acc-name", "Shop 3")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "invalid account name 'Shop 3'" in message(app)
        assert app.screen.query_one("#acc-name").has_class("-invalid")
        await fill(pilot, "#acc-name", "shop3")
        await fill(pilot, "#acc-url", "ftp://shop3")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "invalid shop URL 'ftp://shop3'" in message(app)
        assert app.screen.query_one("#acc-url").has_class("-invalid")
        assert not app.screen.query_one("#acc-name").has_class("-invalid")
        await fill(pilot, "#acc-url", "https://shop3.example")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "give the webservice key" in message(app)
        await fill(pilot, "#acc-key", "short")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "invalid webservice key" in message(app)
        assert "short" not in screen_text(app)  # a password field shows no key
        await fill(pilot, "#acc-key", KEY)
        await fill(pilot, "#acc-allowance", "2")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, AccountForm)
        assert "shop3" in [k.value for k in app.screen.query_one(AccountTable).rows]
        saved = await account(home, "shop3")
        assert saved.key == KEY and saved.option("full_sync_allowance") == 2
        assert KEY not in screen_text(app)


async def test_edit_keeps_the_key_when_left_blank(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AccountForm)
        assert form.query_one("#acc-name").disabled
        assert form.query_one("#acc-key").password
        assert "unchanged (ABCD…)" in screen_text(app)
        assert KEY not in screen_text(app)
        await fill(pilot, "#acc-url", "https://new.example/shop")
        await fill(pilot, "#acc-recipients", "office@example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        saved = await account(home, "shop1")
        assert saved.url == "https://new.example/shop/"
        assert saved.key == KEY
        assert saved.option("recipients") == ["office@example.com"]
        assert "https://new.example/shop/" in screen_text(app)


async def test_test_connection_says_why_it_failed(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        await fill(pilot, "#acc-url", "http://127.0.0.1:9")  # nothing listens there
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert message(app).startswith("connection failed: ")
        assert KEY not in message(app)


async def test_shop_id_and_language_are_checked_against_the_shop(home: Path) -> None:
    async with EmulatorServer(generate(3, seed=2, shops=2)) as emu:
        app = make_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await pilot.pause()
            await fill(pilot, "#acc-name", "multi")
            await fill(pilot, "#acc-url", emu.url)
            await fill(pilot, "#acc-key", emu.key)
            await fill(pilot, "#acc-shop-id", "two")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "invalid shop id 'two'" in message(app)
            assert app.screen.query_one("#acc-shop-id").has_class("-invalid")
            await fill(pilot, "#acc-shop-id", "7")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "no shop 7 (its shops: 1 (PrestaShop), 2 (PrestaShop 2))" in message(app)
            assert app.screen.query_one("#acc-shop-id").has_class("-invalid")
            await fill(pilot, "#acc-shop-id", "2")
            await fill(pilot, "#acc-language", "de")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, AccountForm)
            assert "no active language 'de'" in message(app)
            assert "it (Italiano (Italian))" in message(app)
            assert app.screen.query_one("#acc-language").has_class("-invalid")
            assert not app.screen.query_one("#acc-shop-id").has_class("-invalid")
            await fill(pilot, "#acc-language", "it")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, AccountForm)
    saved = await account(home, "multi")
    assert saved.option("shop_id") == 2 and saved.option("language") == "it"


async def test_importable_states_the_state_map_and_coding_from_the_shop(home: Path) -> None:
    """The form reads the shop's own order states (ctrl+t), in the account's language, for
    the importable states and the state map; coding rule, prefix and guest merging too."""
    from textual.widgets import Checkbox, Select, SelectionList

    async with EmulatorServer(generate(3, seed=2, languages=("en", "it"))) as emu:
        app = make_app(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await pilot.pause()
            form = app.screen
            await fill(pilot, "#acc-name", "shop9")
            await fill(pilot, "#acc-url", emu.url)
            await fill(pilot, "#acc-key", emu.key)
            await fill(pilot, "#acc-language", "it")
            states = form.query_one("#acc-states", SelectionList)
            assert states.option_count == 0  # nothing until the shop is read
            await pilot.press("ctrl+t")
            await settle(pilot)
            shop = {int(s["id"]): s["name"] for s in emu.state.tables["order_states"].values()}
            assert states.option_count == len(shop)
            # checked: every state but the default exclusions (6 cancelled, 8 payment error)
            assert sorted(states.selected) == sorted(set(shop) - {6, 8})
            # the names in the account's language (the shop's language 2)
            names = [str(states.get_option_at_index(i).prompt) for i in range(len(shop))]
            it_id = next(int(lg["id"]) for lg in emu.state.tables["languages"].values()
                         if lg["iso_code"] == "it")
            assert names[0] == f"1 {shop[1][it_id]}"
            assert form.query_one("#acc-map-shipped", Select).value == 4  # the stored default
            states.deselect(2)  # payment accepted: not imported any more
            states.select(8)
            form.query_one("#acc-map-shipped", Select).value = 5
            form.query_one("#acc-map-invoiced", Select).value = 2
            form.query_one("#acc-map-cancelled", Select).clear()
            form.query_one("#acc-coding-rule", Select).value = "prefix"
            await fill(pilot, "#acc-prefix", "bad prefix!")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "invalid article prefix 'bad prefix!'" in message(app)
            assert form.query_one("#acc-prefix").has_class("-invalid")
            await fill(pilot, "#acc-prefix", "WEB")
            await fill(pilot, "#acc-tax-map", "0=N9")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "invalid tax map" in message(app)
            assert form.query_one("#acc-tax-map").has_class("-invalid")
            await fill(pilot, "#acc-tax-map", "0=N3.2, 22=22")
            form.query_one("#acc-merge-guests", Checkbox).value = False
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, AccountForm), message(app)
    saved = await account(home, "shop9")
    assert sorted(saved.option("excluded_states")) == [2, 6]
    assert saved.option("state_map") == {"cancelled": None, "shipped": 5, "invoiced": 2}
    assert saved.option("coding_rule") == "prefix" and saved.option("article_prefix") == "WEB"
    assert saved.option("merge_guests") is False
    assert saved.option("tax_map") == {"0": "N3.2", "22": "22"}
