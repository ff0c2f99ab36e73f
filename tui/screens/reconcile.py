"""Reconcile one account: shop orders against ERP documents, by category, and the fix of each.

The report comes from `core.reconcile.reconcile` (read only); a fix is what
`sincro reconcile NAME --fix CATEGORY` does (`core.resync.apply_fix`, run as a
recorded operation under the account's lease), asked for first, then the
account is reconciled again over the same period.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from core.kinds import RunKind, Trigger
from core.reconcile import CATEGORIES, ReconcileReport
from tui import format as fmt
from tui.context import console
from tui.screens.dialogs import ConfirmScreen
from tui.widgets.footer import ConsoleFooter
from tui.widgets.period import Invalid, PeriodField
from tui.widgets.table_rows import sync_rows
from tui.widgets.tones import tone
from tui.workers import ReportsFailures, failure_text

LABELS = {"missing": "Missing", "doubled": "Doubled", "differs": "Differs", "states": "States",
          "customers": "Customers", "doubled_customers": "Same e-mail",
          "refunds": "Refunds", "not_importable": "Not importable",
          "acknowledged": "Acknowledged"}
# what `f` does per category: exactly `sincro reconcile NAME --fix CATEGORY`
FIXES = {"missing": "import the missing orders (hub and ERP)",
         "differs": "update the ERP documents from the shop",
         "states": "push ERP states; acknowledge shop ones",
         "customers": "update the customers from the shop",
         "doubled_customers": "keep the first, move the others' documents",
         "refunds": "push the refunds as credit notes"}
# said in full in the confirmation
FIX_QUESTIONS = {
    "missing": "Import the missing orders from the shop into the hub, then push them to the "
               "ERP",
    "differs": "Re-read these orders from the shop and update their ERP documents where the "
               "ERP allows it (open documents); the others are reported",
    "states": "Push the ERP document states to the shop's orders (ERP ahead), and acknowledge "
              "the states set on the shop (shop ahead: those are handled in the ERP)",
    "customers": "Re-read these customers from the shop, update the hub, then the ERP",
    "doubled_customers": "Keep the first ERP customer of each e-mail; move the others' "
                         "documents and addresses to it and remove them, where the ERP "
                         "allows it (the others are reported)",
    "refunds": "Re-read these refunds from the shop and put each into the ERP as one credit "
               "note (a refund whose order is not in the ERP waits)"}
NO_FIX = {"doubled": "none: cancel the extra in the ERP",
          "not_importable": "none: not a problem (excluded states)",
          "acknowledged": "none: shop ahead; handle it in the ERP"}
ROWS = (*CATEGORIES, "not_importable", "acknowledged")


def items(report: ReconcileReport, row: str) -> list[Any]:
    if row == "not_importable":
        return [m for m in report.missing if not m.problem]
    if row == "acknowledged":
        return list(report.acknowledged)
    return report.problems(row)


def describe(row: str, item: Any) -> Text:
    """One line per id: the id first, then what is wrong; shop data as plain text."""
    return Text(fmt.one_line(_describe(row, item)))


def _describe(row: str, item: Any) -> str:
    if row in ("missing", "not_importable"):
        return f"order {item.order_id} ({item.reference}) [{item.reason}]: {item.detail}"
    if row == "doubled":
        return (f"orders {', '.join(map(str, item.order_ids))}: documents "
                f"{', '.join(item.documents)}: {item.detail}")
    if row == "differs":
        parts = "; ".join(f"{f.name} shop {f.shop} hub {f.hub} ERP {f.erp}" for f in item.fields)
        return f"order {item.order_id} document {item.document} ({item.erp_state}): {parts}"
    if row in ("states", "acknowledged"):
        return (f"order {item.order_id} document {item.document} [{item.direction}]: "
                f"{item.detail}")
    if row == "refunds":
        return f"refund {item.slip_id} of order {item.order_id} [{item.reason}]: {item.detail}"
    if row == "doubled_customers":
        others = ", ".join(f"{code or '(not pushed)'}" for _, code in item.others)
        return (f"{item.email}: ERP {item.keep_code} and {others}; shop customers "
                f"{', '.join(map(str, item.customer_ids))}")
    what = ", ".join(item.fields) or "not in the ERP"
    return f"customer {item.customer_id} ({item.erp_ref}) [{item.where}]: {what}"


class ReconcileScreen(ReportsFailures, Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="reconcile-back"),
        Binding("f", "fix", "Fix category", id="reconcile-fix",
                tooltip="Apply the selected category's action (asks first), then reconcile "
                "again"),
        Binding("r", "run", "Reconcile again", id="reconcile-run",
                tooltip="Reconcile again over the period (enter in the period field too)"),
        Binding("p", "period", "Period", id="reconcile-period",
                tooltip="Edit the period start: YYYY-MM-DD, shop time; empty for all orders"),
    ]

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account
        self.report: ReconcileReport | None = None
        self.period: str | None = None  # the start the shown report was made with
        self.since = PeriodField(self, "reconcile", "Orders from", "shop time")
        self.busy = False
        self.fixing = False  # a fix writes: leaving the screen would cancel it half-way

    def compose(self) -> ComposeResult:
        yield Static(Text(f" Reconcile {self.account}: shop orders against the ERP",
                          style="bold"), id="reconcile-title")
        yield from self.since.compose()
        yield Static(id="reconcile-status")
        yield DataTable(id="reconcile-categories", cursor_type="row")
        with VerticalScroll(id="reconcile-items-box"):
            yield Static(id="reconcile-items")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one("#reconcile-categories", DataTable)
        table.add_column("Category", key="category", width=14)
        table.add_column("Count", key="count", width=5)
        # the action column takes what is left: nothing cut off at 80 columns
        table.add_column("Action (f)", key="action", width=max(40, self.app.size.width - 34))
        self.since.offer_default()
        table.focus()
        self.action_run()

    # -- reconciling -----------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run", "fix") and (self.busy or console(self).engine is None):
            return None
        if action == "fix":
            row = self.selected
            if self.report is None or row not in FIXES or not items(self.report, row):
                return None
        return True

    def action_run(self) -> None:
        since = self.since.checked()
        if isinstance(since, Invalid) or self.busy:
            return
        self._start(self.run_worker(self._reconcile(since),
                                    group="reconcile", exclusive=True, exit_on_error=False,
                                    name=f"Reconcile of {self.account}"))

    def action_period(self) -> None:
        self.since.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()
        if not self.since.invalid:
            self.query_one("#reconcile-categories", DataTable).focus()

    def _start(self, worker: Worker) -> None:
        """`busy` until the worker ends (see on_worker_state_changed): one thing at a time."""
        self.busy = True
        self.fixing = worker.group.startswith("run:")
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.fixing:
            self.app.notify("a fix is running; wait for it to finish (it reconciles again "
                            "after)", title="Reconcile", severity="warning", markup=False)
            return
        self.app.pop_screen()

    async def _reconcile(self, since: str | None) -> None:
        self.query_one("#reconcile-status", Static).update(
            Text(f"reconciling {self.account}, orders placed "
                 f"{f'from {since}' if since else 'from the start'}…", style="dim"))
        report = await reconcile_account(console(self).engine, self.account, since)
        self.period = since
        self.show(report)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.worker.group not in ("reconcile", f"run:{self.account}"):
            return
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.busy = self.fixing = False
            self.refresh_bindings()
        if event.state == WorkerState.ERROR:
            self.query_one("#reconcile-status", Static).update(
                Text(fmt.safe(f"{event.worker.name} failed: {failure_text(event.worker.error)}"),
                     style=tone(self.app, "error")))

    # -- showing -----------------------------------------------------------------
    def show(self, report: ReconcileReport) -> None:
        self.report = report
        span = f"from {self.period}" if self.period else "from the start"
        status = Text(f"{report.orders_checked} orders placed {span} (shop time), "
                      f"{report.documents_checked} ERP documents, {report.customers_checked} "
                      "customers\n")
        if report.aligned:
            status.append("aligned", style=tone(self.app, "success"))
            status.append(": shop, hub and ERP agree")
        else:
            summary = ", ".join(f"{k} {v}" for k, v in report.counts().items() if v)
            status.append(f"not aligned: {summary}", style=tone(self.app, "warning"))
        for note in report.notes:
            status.append(f"\nnote: {fmt.one_line(note)}", style="dim")
        self.query_one("#reconcile-status", Static).update(status)
        rows = {}
        for row in ROWS:
            n = len(items(report, row))
            problem = row in CATEGORIES and n > 0
            style = tone(self.app, "warning") if problem else "dim"
            count = Text(str(n), style=style, justify="right")
            if n == 0 and row in CATEGORIES:
                action = Text("aligned", style=tone(self.app, "success"))
            else:
                action = Text(FIXES.get(row) or NO_FIX[row], style="" if row in FIXES else "dim")
            rows[row] = {"category": Text(LABELS[row], style=style), "count": count,
                         "action": action}
        sync_rows(self.query_one("#reconcile-categories", DataTable), rows)
        self.show_items()
        self.refresh_bindings()

    @property
    def selected(self) -> str | None:
        table = self.query_one("#reconcile-categories", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value

    def show_items(self) -> None:
        box = self.query_one("#reconcile-items", Static)
        row = self.selected
        if self.report is None or row is None:
            box.update("")
            return
        found = items(self.report, row)
        ids = ids_of(self.report, row)
        text = Text(f"{LABELS[row]}: ", style="bold")
        if not found:
            text.append("none", style="dim")
        else:
            text.append(f"{len(found)}; ids {', '.join(map(str, ids))}")
            for item in found:
                text.append("\n• ")
                text.append_text(describe(row, item))
        box.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_items()
        self.refresh_bindings()

    # -- fixing ------------------------------------------------------------------
    def action_fix(self) -> None:
        row = self.selected
        if self.report is None or row not in FIXES or self.busy:
            return
        self.run_worker(self._confirm_then_fix(row), group="ask:reconcile", exclusive=True,
                        exit_on_error=False, name=f"Fix {row}")

    async def _confirm_then_fix(self, category: str) -> None:
        report = self.report
        assert report is not None
        ids = ids_of(report, category)
        shown = ", ".join(map(str, ids[:12])) + (f" and {len(ids) - 12} more"
                                                 if len(ids) > 12 else "")
        question = (f"{FIX_QUESTIONS[category]}.\n{self.account}, "
                    f"{LABELS[category].lower()}: {len(items(report, category))} ({shown}).\n"
                    "Recorded as a run; then the account is reconciled again. Start?")
        if not await self.app.push_screen_wait(ConfirmScreen(f"Fix {LABELS[category].lower()}"
                                                             f": {self.account}", question)):
            return
        if self.busy:
            return
        self._start(self.run_worker(self._fix(report, category), group=f"run:{self.account}",
                                    exit_on_error=False,
                                    name=f"Fix {category} of {self.account}"))

    async def _fix(self, report: ReconcileReport, category: str) -> None:
        engine = console(self).engine
        result = await fix_category(engine, self.account, report, category)
        changed, unresolved = len(result.changed), len(result.unresolved)
        body = f"{changed} changed" + (f", {unresolved} not fixed" if unresolved else "")
        for i, why in sorted(result.unresolved.items())[:3]:
            body += f"\n{i}: {fmt.one_line(why)}"
        self.app.notify(body, title=f"Fix {category} of {self.account}", markup=False,
                        severity="warning" if unresolved else "information", timeout=8)
        await self._reconcile(self.period)


def ids_of(report: ReconcileReport, row: str) -> list[int]:
    if row in CATEGORIES:
        return report.ids(row)
    return sorted({x.order_id for x in items(report, row)})


async def reconcile_account(engine: Any, name: str, since: str | None) -> ReconcileReport:
    from core.reconcile import reconcile

    return await reconcile(engine, name, since=since)


async def fix_category(engine: Any, name: str, report: ReconcileReport, category: str) -> Any:
    """What `sincro reconcile NAME --fix CATEGORY` does, recorded as a console run."""
    from core.resync import apply_fix

    async def body(ctx: Any) -> Any:
        return await apply_fix(ctx, report, category)

    done = await engine.run_operation(name, RunKind.fix(category), body,
                                      trigger=Trigger.CONSOLE)
    return done.result()
