"""Add or edit an account: messages in place, the key masked, a connection test."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static

from core import accounts as acc
from core.errors import ConfigError, SincroError
from core.timeutil import machine_zone, zone
from tui.context import console
from tui.widgets.footer import ConsoleFooter
from tui.widgets.form import FormMessage, FormRow, mark_invalid
from tui.workers import ReportsFailures

MAP_EVENTS = (("cancelled", "Cancelled"), ("shipped", "Shipped"), ("invoiced", "Invoiced"))
CLUES = (("tax map", "acc-tax-map"), ("article prefix", "acc-prefix"), ("account name", "acc-name"), ("environment variable", "acc-key-env"),
         ("--key-env", "acc-key-env"), ("key", "acc-key"), ("url", "acc-url"),
         ("time zone", "acc-tz"), ("allowance", "acc-allowance"),
         ("e-mail", "acc-recipients"), ("shop id", "acc-shop-id"), ("no shop", "acc-shop-id"),
         ("language", "acc-language"))


def parse_shop_id(text: str) -> int | None:
    """The shop of a multishop install the account works in; empty: the whole install."""
    value = text.strip().lower()
    if value in ("", "none"):
        return None
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 2**32 - 1):
        raise ConfigError(f"invalid shop id {text!r}",
                          hint="a shop id of the install, or empty for the whole install")
    return int(value)


def parse_language(text: str) -> str | None:
    """The ISO code of the account's language; empty: the shop's first language."""
    value = text.strip().lower()
    if value in ("", "none"):
        return None
    if not (value.isascii() and value.isalpha() and 2 <= len(value) <= 3):
        raise ConfigError(f"invalid language {text!r}",
                          hint="the ISO code of one of the shop's languages, e.g. it, or empty")
    return value


def parse_prefix(text: str) -> str:
    return acc.check_article_prefix(text.strip())


def parse_tax_map(text: str) -> dict[str, str]:
    """The account's own tax map entries, as `sincro account edit --tax-map` reads them (the
    defaults 22, 10, 5, 4 apply to the rates it leaves out)."""
    from core.sync import vat

    try:
        return vat.parse_map(text)
    except vat.VatError as exc:
        raise ConfigError(f"invalid tax map: {exc}",
                          hint="e.g. 22=22, 10=10, 0=N3.2, g9=ES:N4 (see 'sincro account "
                          "taxes NAME')") from None


def show_tax_map(option: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (option or {}).items())


def parse_allowance(text: str) -> int | None:
    value = text.strip().lower()
    if value in ("", "unlimited"):
        return None
    if not value.isdigit():
        raise ConfigError(f"invalid allowance {text!r}",
                          hint="a number of full syncs per month, or empty for unlimited")
    return int(value)


def parse_recipients(text: str) -> list[str]:
    emails = [e.strip() for e in text.split(",") if e.strip()]
    for e in emails:
        if "@" not in e or " " in e:
            raise ConfigError(f"invalid e-mail address {e!r}", hint="e.g. office@example.com")
    return emails


class AccountForm(ReportsFailures, Screen[bool]):
    DEFAULT_CSS = """
    #acc-states { height: auto; max-height: 12; margin-bottom: 1; }
    #acc-states-label { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("ctrl+t", "test_connection", "Test connection", id="account-test",
                priority=True),
        Binding("ctrl+s", "save", "Save", id="account-save", priority=True),
        Binding("escape", "cancel", "Cancel", id="account-cancel"),
    ]

    def __init__(self, account: acc.Account | None) -> None:
        super().__init__()
        self.account = account
        # the shop's order states (id, name in the account's language) once read: until
        # then the importable states and the state map are kept as stored
        self.states: list[tuple[int, str]] | None = None

    def compose(self) -> ComposeResult:
        a = self.account
        title = f" Account {a.name}" if a else " New account"
        yield Static(Text(title, style="bold"), id="account-title")
        with VerticalScroll(id="account-fields"):
            yield FormRow("Name", Input(value=a.name if a else "", id="acc-name", compact=True,
                                       placeholder="shop1", disabled=a is not None))
            yield FormRow("Shop URL", Input(value=a.url if a else "", id="acc-url", compact=True,
                                           placeholder="https://shop.example"))
            key_hint = (f"unchanged ({a.masked_key})" if a and a.key else
                        "32 characters A-Z 0-9")
            yield FormRow("Key", Input(id="acc-key", password=True, compact=True,
                                      placeholder=key_hint))
            yield FormRow("or key env", Input(value=(a.key_env or "") if a else "",
                                             id="acc-key-env", compact=True,
                                             placeholder="variable holding the key"))
            yield FormRow("Time zone", Input(value=a.tz if a else machine_zone(),
                                            id="acc-tz", compact=True))
            allowance = a.option("full_sync_allowance") if a else None
            yield FormRow("Full syncs", Input(value="" if allowance is None else str(allowance),
                                             id="acc-allowance", compact=True,
                                             placeholder="per month; empty: unlimited"))
            recipients = ", ".join(a.option("recipients") or []) if a else ""
            yield FormRow("Notify", Input(value=recipients, id="acc-recipients", compact=True,
                                         placeholder="office@example.com, ..."))
            shop_id = a.option("shop_id") if a else None
            yield FormRow("Shop id", Input(value="" if shop_id is None else str(shop_id),
                                          id="acc-shop-id", compact=True,
                                          placeholder="multishop: one shop; empty: all"))
            yield FormRow("Language", Input(value=(a.option("language") or "") if a else "",
                                           id="acc-language", compact=True,
                                           placeholder="e.g. it; empty: the shop's first"))
            yield FormRow("Tax map", Input(
                value=show_tax_map(a.option("tax_map") if a else None), id="acc-tax-map",
                compact=True, placeholder="e.g. 0=N3.2, g9=ES:N4 (22, 10, 5, 4 by default)",
                tooltip="shop VAT rate or tax rules group -> ERP VAT code (0 % needs its "
                "nature N1..N7)"))
            yield FormRow("Coding rule", Select(
                [("shop reference", "reference"), ("prefix + product id", "prefix")],
                value=(a.option("coding_rule") if a else "reference"), allow_blank=False,
                id="acc-coding-rule", compact=True,
                tooltip="how new articles get their ERP code: the shop's reference, or the "
                "prefix and the product id"))
            yield FormRow("Code prefix", Input(
                value=a.option("article_prefix") if a else "PS", id="acc-prefix", compact=True,
                placeholder="1-10 letters, digits, . _ -"))
            yield FormRow("Guests", Checkbox(
                "merge by e-mail", value=a.option("merge_guests") if a else True,
                id="acc-merge-guests", compact=True,
                tooltip="guest checkouts with the e-mail of a customer are that customer"))
            for event, label in MAP_EVENTS:
                yield FormRow(f"{label} →", Select(
                    [], prompt="(ctrl+t reads)", id=f"acc-map-{event}", compact=True,
                    tooltip=f"the shop order state Sincro sets when the ERP document is "
                    f"{event}; blank: none"))
            yield Label("Importable states and the state map: ctrl+t reads the shop's "
                        "states", id="acc-states-label")
            yield SelectionList[int](id="acc-states", compact=True)
            yield FormRow("Enabled", Checkbox("syncs may run", value=a.enabled if a else True,
                                              id="acc-enabled", compact=True))
            yield FormMessage(id="account-message")
            with Horizontal(id="account-buttons"):
                yield Button("Test connection", id="acc-test", compact=True)
                yield Button("Save", id="acc-save", variant="primary", compact=True)
                yield Button("Cancel", id="acc-cancel", compact=True)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#acc-url" if self.account else "#acc-name", Input).focus()

    # -- the shop's order states --------------------------------------------
    def read_states(self, account: acc.Account) -> None:
        self.run_worker(self._read_states(account), group="account-states", exclusive=True,
                        exit_on_error=False, name="Read the shop's order states")

    async def _read_states(self, account: acc.Account) -> None:
        from core.shopcheck import order_states_named

        label = self.query_one("#acc-states-label", Label)
        try:
            states = await order_states_named(account)
        except SincroError as exc:
            label.update(Text(f"Importable states: kept as they are (the shop's states "
                              f"cannot be read: {exc})"))
            return
        self.show_states(states)

    def show_states(self, states: list[tuple[int, str]]) -> None:
        """Fill the importable states and the state map from the shop's own states."""
        self.states = states
        a = self.account
        excluded = set(a.option("excluded_states") if a else
                       acc.DEFAULT_OPTIONS["excluded_states"])
        mapping = a.option("state_map") if a else acc.DEFAULT_OPTIONS["state_map"]
        choices = [(Text(f"{sid} {name}"), sid) for sid, name in states]
        ids = {sid for sid, _ in states}
        for event, _ in MAP_EVENTS:
            select = self.query_one(f"#acc-map-{event}", Select)
            select.set_options([(Text(f"{sid} {name}"), sid) for sid, name in states])
            current = mapping.get(event)
            select.prompt = "(none)"
            if current in ids:
                select.value = current
        box = self.query_one("#acc-states", SelectionList)
        box.clear_options()
        box.add_options([(label, sid, sid not in excluded) for label, sid in choices])
        self.query_one("#acc-states-label", Label).update(
            Text(f"Importable states ({len(states)} in the shop; space: on/off)"))

    def chosen_states(self, options: acc.AccountOptions) -> None:
        """The importable states and the state map as chosen (only once the shop's states
        are read: until then they stay as stored)."""
        if self.states is None:
            return
        importable = set(self.query_one("#acc-states", SelectionList).selected)
        if not importable:
            raise ConfigError("no importable state chosen",
                              hint="choose at least one shop order state to import orders in")
        options["excluded_states"] = [sid for sid, _ in self.states if sid not in importable]
        mapping: dict[str, int | None] = {}
        for event, _ in MAP_EVENTS:
            value = self.query_one(f"#acc-map-{event}", Select).value
            mapping[event] = value if isinstance(value, int) else None
        options["state_map"] = mapping

    def value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def build(self) -> acc.Account | None:
        """The account as typed, or None with the message in place."""
        old = self.account
        key = self.value("acc-key").strip() or None
        key_env = self.value("acc-key-env").strip() or None
        if old is not None and key is None and key_env is None:
            key, key_env = old.key, old.key_env  # a blank key keeps the stored one
        if key is not None and key_env is not None:
            key_env = None if old is not None and key_env == old.key_env else key_env
        try:
            acc.check_name(self.value("acc-name").strip())  # in the order of the fields
            acc.normalise_url(self.value("acc-url"))
            options: acc.AccountOptions = old.options.copy() if old else {}
            if key is None and key_env is None:
                raise ConfigError("give the webservice key, or the environment variable "
                                  "that holds it")
            if key is not None and key_env is None:
                acc.check_key(key)
            options["full_sync_allowance"] = parse_allowance(self.value("acc-allowance"))
            options["tax_map"] = parse_tax_map(self.value("acc-tax-map"))
            rule = self.query_one("#acc-coding-rule", Select).value
            options["coding_rule"] = "prefix" if rule == "prefix" else "reference"
            options["article_prefix"] = parse_prefix(self.value("acc-prefix"))
            options["merge_guests"] = self.query_one("#acc-merge-guests", Checkbox).value
            self.chosen_states(options)
            options["recipients"] = parse_recipients(self.value("acc-recipients"))
            options.pop("shop_id", None)
            options.pop("language", None)
            shop_id = parse_shop_id(self.value("acc-shop-id"))
            if shop_id is not None:
                options["shop_id"] = shop_id
            language = parse_language(self.value("acc-language"))
            if language is not None:
                options["language"] = language
            account = acc.build_account(
                self.value("acc-name").strip(), self.value("acc-url"), key=key,
                key_env=key_env, tz=self.value("acc-tz").strip() or None,
                enabled=self.query_one("#acc-enabled", Checkbox).value, options=options)
        except ConfigError as exc:
            message = str(exc).replace("--key-env", "'key env'").replace("--key", "'key'")
            self.query_one(FormMessage).show(message)
            field = mark_invalid(list(self.query(Input)), message, CLUES)
            if field is not None:
                field.focus()
            return None
        for field in self.query(Input):
            field.remove_class("-invalid")
        return replace(account, id=old.id) if old else account

    # -- actions ----------------------------------------------------------------
    def action_save(self) -> None:
        account = self.build()
        if account is not None:
            self.run_worker(self._save(account), group="account-write", exclusive=True,
                            exit_on_error=False, name="Save account")

    async def _save(self, account: acc.Account) -> None:
        hub = console(self).running_engine().database
        old = self.account.options if self.account else {}
        note = ""
        try:
            if any(account.options.get(k) not in (None, old.get(k)) for k in ("shop_id", "language")):
                note = await self._check_shop_and_language(account)
            if self.account is None:
                await acc.add_account(hub, account)
            else:
                await acc.save_account(hub, account)
        except ConfigError as exc:
            self.query_one(FormMessage).show(str(exc))
            mark_invalid(list(self.query(Input)), str(exc), CLUES)
            return
        self.app.notify(f"account {account.name} saved ({account.url}, key "
                        f"{account.masked_key}){note}", markup=False)
        self.dismiss(True)

    async def _check_shop_and_language(self, account: acc.Account) -> str:
        """The shop id and language checked against the shop, as `sincro account edit` does:
        a ConfigError naming the valid ones; a shop that cannot be read leaves them unchecked."""
        from core.prestashop.errors import ShopError
        from core.shopcheck import check_shop_and_language

        self.query_one(FormMessage).show(f"checking the shop id and language at {account.url} …",
                                         error=False)
        try:
            await check_shop_and_language(account)
        except ShopError as exc:
            return f"; the shop id and language are not checked, the shop cannot be read: {exc}"
        return ""

    def action_test_connection(self) -> None:
        account = self.build()
        if account is not None:
            self.query_one(FormMessage).show(f"connecting to {account.url} …", error=False)
            self.run_worker(self._test(account), group="account-test", exclusive=True,
                            exit_on_error=False, name="Test connection")

    async def _test(self, account: acc.Account) -> None:
        message = self.query_one(FormMessage)
        try:
            from core.prestashop.client import PrestaShopClient
        except ImportError:  # the client is not built yet
            message.show("test connection is not available in this version")
            return
        try:
            async with PrestaShopClient(account.url, account.resolve_key(),
                                        tz=zone(account.tz), timeout=15,
                                        retries=0) as client:
                info = await client.info()
        except SincroError as exc:
            message.show(f"connection failed: {exc}")
            return
        readable = sorted(r for r in ("orders", "customers", "addresses", "products")
                          if info.allows(r))
        version = info.version or "unknown version"
        message.show(f"connected to {info.shop_name} (PrestaShop {version}); the key reads "
                     f"{', '.join(readable) or 'none of orders, customers, addresses, products'}",
                     error=False)
        if self.states is None:
            self.read_states(account)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"acc-test": self.action_test_connection, "acc-save": self.action_save,
                   "acc-cancel": self.action_cancel}
        actions[event.button.id or ""]()
