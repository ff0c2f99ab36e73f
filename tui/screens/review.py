"""Review one account: what Sincro created on its own since a date, for the office to check.

Articles Sincro coded by itself (the shop product had no usable reference) and
guest customers it merged into one ERP customer by e-mail; from
`core.reconcile.review`, read only.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label, Static

from core.reconcile import ReviewReport, review
from tui import format as fmt
from tui.context import console
from tui.widgets.footer import ConsoleFooter
from tui.widgets.period import Invalid, PeriodField
from tui.widgets.table_rows import sync_rows
from tui.workers import ReportsFailures

ARTICLE_COLUMNS = (("code", "Code"), ("product", "Product"), ("name", "Name"),
                   ("reference", "Reference"), ("created", "Created"))
MERGED_COLUMNS = (("email", "E-mail"), ("erp", "ERP customer"), ("ids", "Shop customers"),
                  ("last", "Last imported"))
OFFICE_COLUMNS = (("what", "What"), ("who", "Order / customer"), ("detail", "Why"))


class ReviewScreen(ReportsFailures, Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="review-back"),
        Binding("r", "run", "Refresh", id="review-run",
                tooltip="Read again over the period (enter in the date field too)"),
        Binding("p", "period", "Since", id="review-period",
                tooltip="Edit the start date: YYYY-MM-DD, UTC; empty for everything"),
        Binding("t", "switch", "Next list", id="review-switch",
                tooltip="Move between the articles, the merged guests and the office's checks"),
    ]

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account
        self.report: ReviewReport | None = None
        self.since = PeriodField(self, "review", "Created from", "UTC")

    def compose(self) -> ComposeResult:
        yield Static(Text(f" Review {self.account}: created by Sincro on its own",
                          style="bold"), id="review-title")
        yield from self.since.compose()
        yield Static(id="review-status")
        yield Label(id="review-articles-title", classes="review-heading")
        yield DataTable(id="review-articles", cursor_type="row")
        yield Label(id="review-merged-title", classes="review-heading")
        yield DataTable(id="review-merged", cursor_type="row")
        yield Label(id="review-office-title", classes="review-heading")
        yield DataTable(id="review-office", cursor_type="row")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        for table_id, columns in (("#review-articles", ARTICLE_COLUMNS),
                                  ("#review-merged", MERGED_COLUMNS),
                                  ("#review-office", OFFICE_COLUMNS)):
            table = self.query_one(table_id, DataTable)
            for key, label in columns:
                table.add_column(label, key=key)
        self.since.offer_default()
        self.query_one("#review-articles", DataTable).focus()
        self.action_run()

    def action_run(self) -> None:
        since = self.since.checked()
        if isinstance(since, Invalid):
            return
        self.run_worker(self._load(since), group="review", exclusive=True,
                        exit_on_error=False, name=f"Review of {self.account}")

    def action_period(self) -> None:
        self.since.focus()

    def action_switch(self) -> None:
        order = ["#review-articles", "#review-merged", "#review-office"]
        focused = next((i for i, t in enumerate(order)
                        if self.query_one(t, DataTable).has_focus), -1)
        self.query_one(order[(focused + 1) % len(order)], DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()
        if not self.since.invalid:
            self.query_one("#review-articles", DataTable).focus()

    async def _load(self, since: str | None) -> None:
        engine = console(self).engine
        if engine is None:
            return
        self.show(await review(engine.database, self.account, since=since), since)

    def show(self, report: ReviewReport, since: str | None) -> None:
        self.report = report
        tz = console(self).tz
        span = f"since {since} (UTC)" if since else "since the start"
        status = Text(f"{span}: {len(report.articles)} auto-coded articles, "
                      f"{len(report.merged)} merged guest customers, "
                      f"{len(report.held)} orders held, "
                      f"{len(report.invalid_vat)} partite IVA failing the check")
        if not (report.articles or report.merged or report.held or report.invalid_vat):
            status.append("; nothing to check", style="dim")
        self.query_one("#review-status", Static).update(status)
        self.query_one("#review-articles-title", Label).update(Text(
            f"Articles coded by Sincro ({len(report.articles)}): check them in the ERP"))
        self.query_one("#review-merged-title", Label).update(Text(
            f"Guest customers merged by e-mail ({len(report.merged)})"))
        sync_rows(self.query_one("#review-articles", DataTable), {
            f"{a.product_id}-{a.attribute_id}": {
                "code": Text(fmt.safe(a.code)),
                "product": Text(f"{a.product_id}-{a.attribute_id}"),
                "name": Text(fmt.safe(a.name or "—")),
                "reference": Text(fmt.safe(a.reference or "—")),
                "created": Text(fmt.when(a.created_at, tz))}
            for a in report.articles})
        sync_rows(self.query_one("#review-merged", DataTable), {
            m.erp_ref: {
                "email": Text(fmt.safe(m.email)),
                "erp": Text(fmt.safe(m.erp_code or "(not pushed)")),
                "ids": Text(", ".join(map(str, m.customer_ids))),
                "last": Text(fmt.when(m.last_imported_at, tz))}
            for m in report.merged})
        self.query_one("#review-office-title", Label).update(Text(
            f"For the office ({len(report.held) + len(report.invalid_vat) + len(report.matches)})"
            ": orders held, partite IVA kept as typed, records linked"))
        office = {f"o{h.order_id}": {
            "what": Text("order held"),
            "who": Text(f"{h.order_id} {fmt.safe(h.reference or '')}".strip()),
            "detail": Text(fmt.safe(h.reason))} for h in report.held}
        office.update({f"v{v.address_id}": {
            "what": Text("partita IVA"),
            "who": Text(f"customer {v.customer_id}"),
            "detail": Text(fmt.safe(f"{v.vat_number}: wrong check digit, kept as typed"))}
            for v in report.invalid_vat})
        office.update({f"m{m.kind}{m.shop_id}": {
            "what": Text(f"{m.kind} linked"),
            "who": Text(f"{m.kind} {m.shop_id} -> ERP {fmt.safe(m.erp_code or '')}"),
            "detail": Text(fmt.safe(f"same {m.by.replace('_', ' ')} {m.value}"))}
            for m in report.matches})
        sync_rows(self.query_one("#review-office", DataTable), office)
