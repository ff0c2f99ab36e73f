"""The schedule editor (S-1, S-2): frequency and zone; Test shows the next ten runs first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Select, Static

from core.accounts import Account
from core.errors import ConfigError, SincroError
from core.schedule import Schedule, next_runs
from tui.context import console
from tui.widgets.footer import ConsoleFooter
from tui.widgets.form import FormMessage, FormRow, mark_invalid
from tui.widgets.schedule_preview import SchedulePreview
from tui.workers import ReportsFailures

if TYPE_CHECKING:
    from datetime import datetime

    from core.schedules_store import StoredSchedule

KIND_OPTIONS = [("daily", "daily"), ("weekly", "weekly"), ("monthly", "monthly"),
                ("cron expression", "cron"), ("off (no scheduled runs)", "off")]
# which rows each kind shows
ROWS = {
    "daily": ("row-times", "row-between", "row-at", "row-tz"),
    "weekly": ("row-weekdays", "row-at", "row-tz"),
    "monthly": ("row-days", "row-at", "row-tz"),
    "cron": ("row-cron", "row-tz"),
    "off": (),
}
ALL_ROWS = ("row-times", "row-between", "row-at", "row-weekdays", "row-days", "row-cron", "row-tz")
# the CLI flags the engine's messages name, as the fields of this form
FLAG_NAMES = (("--daily N --between HH:MM-HH:MM or --at", "'runs a day' with 'between', or 'at'"),
              ("--between", "'between'"), ("--daily", "'runs a day'"), ("--at", "'at'"),
              ("--weekly", "'weekdays'"), ("--monthly", "'days'"), ("--cron", "'cron'"),
              ("--tz", "'time zone'"), ("--off", "'off'"))
CLUES = (("cron", "sch-cron"), ("time zone", "sch-tz"), ("window", "sch-between"),
         ("'between'", "sch-between"), ("daily runs", "sch-times"), ("weekday", "sch-weekdays"),
         ("day of month", "sch-days"), ("'days'", "sch-days"), ("time", "sch-at"))


def for_form(message: str) -> str:
    for flag, name in FLAG_NAMES:
        message = message.replace(flag, name)
    return message


def schedule_from_fields(kind: str, *, times: str = "", between: str = "", at: str = "",
                         weekdays: str = "", days: str = "", cron: str = "",
                         tz: str = "") -> Schedule:
    """The schedule the fields describe, or ConfigError saying which field is wrong."""
    tz = tz.strip()
    if not tz:
        raise ConfigError("no time zone given", hint="type an IANA zone, e.g. Europe/Rome")
    if kind == "off":
        return Schedule("off", tz=tz)
    if kind == "cron":
        return Schedule("cron", tz=tz, cron=cron)
    if kind == "daily" and times.strip():
        return Schedule.parse("daily", tz=tz, times=times.strip(), between=between.strip() or None)
    if kind == "daily" and between.strip():
        raise ConfigError("'between' goes with 'runs a day'",
                          hint="give how many runs a day, or list the times in 'at'")
    if kind == "weekly":
        return Schedule.parse("weekly", tz=tz, weekdays=weekdays, at=at)
    if kind == "monthly":
        return Schedule.parse("monthly", tz=tz, days=days, at=at)
    return Schedule.parse("daily", tz=tz, at=at)


class ScheduleEditor(ReportsFailures, Screen[bool]):
    BINDINGS = [
        Binding("ctrl+t", "test", "Test", id="schedule-test", priority=True),
        Binding("ctrl+r", "reset", "Reset", id="schedule-reset", priority=True),
        Binding("ctrl+s", "save", "Save", id="schedule-save", priority=True),
        Binding("escape", "cancel", "Cancel", id="schedule-cancel"),
    ]

    def __init__(self, account: Account) -> None:
        super().__init__()
        self.account = account
        self.reset_done = False

    def compose(self) -> ComposeResult:
        yield Static(Text(f" Schedule of {self.account.name}", style="bold"), id="schedule-title")
        with Horizontal(id="schedule-body"):
            with Vertical(id="schedule-fields"):
                yield FormRow("Frequency", Select(KIND_OPTIONS, value="daily", allow_blank=False,
                                                  id="sch-kind", compact=True))
                yield FormRow("Runs a day", Input(placeholder="e.g. 4", id="sch-times",
                                                  compact=True), id="row-times")
                yield FormRow("Between", Input(placeholder="08:00-20:00", id="sch-between",
                                               compact=True), id="row-between")
                yield FormRow("At", Input(placeholder="08:00,13:30", id="sch-at", compact=True),
                              id="row-at")
                yield FormRow("Weekdays", Input(placeholder="mon,thu", id="sch-weekdays",
                                                compact=True), id="row-weekdays")
                yield FormRow("Days", Input(placeholder="1,15,last", id="sch-days", compact=True),
                              id="row-days")
                yield FormRow("Cron", Input(placeholder="0 8 * * mon-fri", id="sch-cron",
                                            compact=True), id="row-cron")
                yield FormRow("Time zone", Input(value=self.account.tz, id="sch-tz",
                                                 compact=True), id="row-tz")
                yield Static(id="schedule-hint")
                yield FormMessage(id="schedule-message")
                with Horizontal(id="schedule-buttons"):
                    yield Button("Test", id="sch-test", compact=True)
                    yield Button("Reset", id="sch-reset", compact=True)
                    yield Button("Save", id="sch-save", variant="primary", compact=True)
                    yield Button("Cancel", id="sch-cancel", compact=True)
            yield SchedulePreview(id="schedule-preview")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self._show_rows("daily")
        self.run_worker(self._load(), group="schedule-load", exit_on_error=False,
                        name="Loading the schedule")
        # a scheduler (this console's, a daemon's) moves the stored next run as it goes
        self.set_interval(console(self).refresh_every, self.look_again, name="stored next run")
        self.query_one("#sch-kind", Select).focus()

    async def _load(self) -> None:
        from core.schedules_store import get_schedule

        engine = console(self).running_engine()
        try:
            stored = await get_schedule(engine.database, self.account.saved_id)
        except ConfigError as exc:
            self.query_one(FormMessage).show(f"the stored schedule cannot be read: {exc}")
            return
        if stored is None:
            self.query_one("#schedule-hint", Static).update(
                Text("No schedule yet: only manual runs.", style="dim"))
            return
        self.fill(stored.schedule)
        self.show_stored(stored)

    def look_again(self) -> None:
        """The stored next run changes under the editor (Reset clears it, a scheduler
        computes it again): show it as the hub has it now."""
        self.run_worker(self._look_again(), group="schedule-look", exclusive=True,
                        exit_on_error=False, name="Reading the stored next run")

    async def _look_again(self) -> None:
        from core.schedules_store import get_schedule

        try:
            stored = await get_schedule(console(self).running_engine().database, self.account.saved_id)
        except SincroError:
            return  # said when the editor opened, or by the accounts' own look at the hub
        if stored is not None:
            self.show_stored(stored)

    def show_stored(self, stored: StoredSchedule) -> None:
        nxt = stored.next_run
        hint = stored.schedule.describe()
        hint += f"\nstored next run: {self._fmt(nxt, stored.schedule)}" if nxt else \
            "\nstored next run: none"
        self.query_one("#schedule-hint", Static).update(Text(hint, style="dim"))

    def fill(self, s: Schedule) -> None:
        values = {
            "sch-times": str(s.times or ""),
            "sch-between": "-".join(s.between) if s.between else "",
            "sch-at": ",".join(s.at),
            "sch-weekdays": ",".join(s.weekdays),
            "sch-days": ",".join(str(d) for d in s.days),
            "sch-cron": s.cron or "",
            "sch-tz": s.tz,
        }
        for field_id, value in values.items():
            self.query_one(f"#{field_id}", Input).value = value
        self.query_one("#sch-kind", Select).value = s.kind
        self._show_rows(s.kind)

    def _show_rows(self, kind: str) -> None:
        for row in ALL_ROWS:
            self.query_one(f"#{row}").display = row in ROWS[kind]

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "sch-kind" and isinstance(event.value, str):
            self._show_rows(event.value)
            self.query_one(FormMessage).clear()

    @property
    def inputs(self) -> list[Input]:
        return list(self.query(Input))

    def read(self) -> Schedule | None:
        """The schedule on screen, or None with the message in place."""
        kind = self.query_one("#sch-kind", Select).value
        fields = {f.id.removeprefix("sch-"): f.value for f in self.inputs if f.id}
        try:
            schedule = schedule_from_fields(str(kind), **fields)
        except ConfigError as exc:
            message = for_form(str(exc))
            self.query_one(FormMessage).show(message)
            field = mark_invalid(self.inputs, message, CLUES)
            if field is not None:
                field.focus()
            return None
        for field in self.inputs:
            field.remove_class("-invalid")
        self.query_one(FormMessage).clear()
        return schedule

    def _fmt(self, when: datetime, schedule: Schedule) -> str:
        return when.astimezone(schedule.zone).strftime("%a %d %b %Y %H:%M %Z")

    # -- actions ----------------------------------------------------------------
    def action_test(self) -> None:
        schedule = self.read()
        preview = self.query_one(SchedulePreview)
        if schedule is None:
            preview.clear()
            return
        runs = next_runs(schedule, console(self).clock(), 10)
        preview.show(schedule, [self._fmt(r, schedule) for r in runs])

    def action_reset(self) -> None:
        self.query_one(SchedulePreview).clear()
        self.query_one(FormMessage).clear()
        self.run_worker(self._reset(), group="schedule-write", exclusive=True,
                        exit_on_error=False, name="Reset")

    async def _reset(self) -> None:
        from core.schedules_store import reset_next_run

        await reset_next_run(console(self).running_engine().database, self.account.saved_id)
        self.reset_done = True
        self.query_one(FormMessage).show("next-run computation cleared: the scheduler "
                                         "computes it again from now", error=False)
        scheduler = getattr(self.app, "scheduler", None)
        if scheduler is not None and scheduler.active:
            scheduler.wake()  # this console schedules: at once
        await self._look_again()

    def action_save(self) -> None:
        schedule = self.read()
        if schedule is not None:
            self.run_worker(self._save(schedule), group="schedule-write", exclusive=True,
                            exit_on_error=False, name="Save schedule")

    async def _save(self, schedule: Schedule) -> None:
        from core.schedules_store import save_schedule

        engine = console(self).running_engine()
        stored = await save_schedule(engine.database, self.account.saved_id, schedule,
                                     now=console(self).clock())
        nxt = self._fmt(stored.next_run, schedule) if stored.next_run else "none"
        self.app.notify(f"{schedule.describe()}; next run {nxt}",
                        title=f"Schedule of {self.account.name} saved", markup=False)
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(self.reset_done)  # after a Reset, the accounts show the next run again

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"sch-test": self.action_test, "sch-reset": self.action_reset,
                   "sch-save": self.action_save, "sch-cancel": self.action_cancel}
        actions[event.button.id or ""]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_test()
