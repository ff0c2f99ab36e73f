"""The dashboard (view 6) and the run history's charts: the hub's figures, per account."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.timeutil import utcnow
from tests.tui.activity_seed import (
    SHOP1_FAILED,
    SHOP1_LONGEST,
    SHOP1_ORDERS,
    SHOP2_FAILED,
    SHOP2_ORDERS,
    seed_activity,
)
from tests.tui.fakes import make_app, screen_text, settle
from tui import activity as activity_module
from tui.screens.dashboard import DashboardView
from tui.screens.history import HistoryView
from tui.widgets.activity_panel import ActivityPanel
from tui.widgets.charts import FAILED_MARK, Chart


def nonzero(chart: Chart) -> dict[str, float]:
    """The chart's values by day label, leaving out the days at 0."""
    assert chart.data is not None
    return {label: value for label, value in zip(chart.data.labels, chart.data.values,
                                                 strict=True) if value}


def marked(chart: Chart) -> list[str]:
    assert chart.data is not None
    return [chart.data.labels[i] for i in chart.data.marks]


def marks_drawn(chart: Chart) -> int:
    """The failed marks drawn on the chart's bars (below its title, which explains them)."""
    title, _, plot = chart.drawn.partition("\n")
    assert "orders imported per day" in title
    return plot.count(FAILED_MARK)


def dashboard(app) -> DashboardView:
    return app.screen.query_one(DashboardView)


async def test_key_6_shows_each_days_orders_failures_and_durations(home: Path) -> None:
    await seed_activity(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert app.main.current == "dashboard"
        panel = dashboard(app).panel
        assert panel.activity is not None and panel.activity.account == "shop1"
        assert len(panel.orders.data.labels) == 30
        assert panel.orders.data.labels[0] == "30 Oct" and panel.orders.data.labels[-1] == "28 Nov"
        # the run of 20 Oct is older than 30 days; the one of 23:30 UTC is 28 Nov in Rome
        assert nonzero(panel.orders) == SHOP1_ORDERS
        assert marked(panel.orders) == SHOP1_FAILED
        assert nonzero(panel.durations) == SHOP1_LONGEST
        text = screen_text(app)
        assert "shop1  last 30 days: 27 orders imported, 5 runs, 1 failed" in text
        assert "▶ shop1" in text and "27 orders" in text
        assert "next runs: 28 Nov 08:00, 28 Nov 12:00, 28 Nov 16:00" in text
        assert "orders imported per day" in text and "longest run of each day" in text
        assert marks_drawn(panel.orders) == 1  # drawn on the chart, not only held


async def test_a_switches_the_account_shown(home: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.widgets import charts

    built: list[str] = []
    real = charts.build_chart

    def counted(data, *args):
        built.append(data.title)
        return real(data, *args)

    monkeypatch.setattr(charts, "build_chart", counted)
    await seed_activity(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6", "a")
        await settle(pilot)
        panel = dashboard(app).panel
        assert panel.activity is not None and panel.activity.account == "shop2"
        assert nonzero(panel.orders) == SHOP2_ORDERS
        assert marked(panel.orders) == SHOP2_FAILED
        assert "next runs: none (no schedule)" in screen_text(app)
        assert "▶ shop2" in screen_text(app)
        assert len(built) == 4  # two charts of each account
        await pilot.press("a")
        await settle(pilot)
        assert panel.activity.account == "shop1"
        assert len(built) == 4  # kept: shop1's charts are shown again, not drawn again
        assert nonzero(panel.orders) == SHOP1_ORDERS and marks_drawn(panel.orders) == 1


async def test_the_dashboard_opens_on_the_account_selected_in_the_accounts_view(
        home: Path) -> None:
    await seed_activity(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "6")
        await settle(pilot)
        assert dashboard(app).panel.activity.account == "shop2"


async def test_the_palette_shows_the_dashboard_and_switches_account(home: Path) -> None:
    await seed_activity(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"show dashboard")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.current == "dashboard"
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Dashboard: next account"].callback()
        await settle(pilot)
        assert dashboard(app).panel.activity.account == "shop2"


@pytest.mark.parametrize("fails", [False, True], ids=["ok", "failed"])
async def test_a_run_that_finishes_while_it_is_open_is_counted(home: Path, shop,
                                                               fails: bool) -> None:
    # the runs are stamped by the real clock: the console's clock is the real one here
    app = make_app(home, shop, clock=utcnow)
    if fails:
        shop.fail = RuntimeError("the shop is down")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        panel = dashboard(app).panel
        assert panel.activity.days[-1].runs == 0 and panel.orders.data.marks == ()
        app.main.accounts.action_sync("orders")  # shop1's orders sync, the dashboard open
        await settle(pilot)
        assert app.main.current == "dashboard"
        assert panel.activity.days[-1].runs == 1
        assert panel.orders.data.marks == ((29,) if fails else ())
        assert marks_drawn(panel.orders) == (1 if fails else 0)


async def test_the_figures_are_read_again_only_when_a_run_or_schedule_changed(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed_activity(home)
    reads: list[int] = []
    real = activity_module.load_activity

    async def counted(*args, **kwargs):
        reads.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr("tui.screens.dashboard.load_activity", counted)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("6", "1", "6", "3", "6"):
            await pilot.press(key)
            await settle(pilot)
        assert len(reads) == 1
        from core.schedules_store import reset_next_run

        await reset_next_run(app.engine.database, 1)
        await pilot.press("1", "6")
        await settle(pilot)
        assert len(reads) == 2
        await pilot.press("r")
        await settle(pilot)
        assert len(reads) == 3


async def test_the_run_history_shows_the_same_charts_for_its_account(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = activity_module.load_activity

    async def counted(*args, **kwargs):
        reads.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr("tui.screens.history.load_activity", counted)
    await seed_activity(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3", "g")
        await settle(pilot)
        view = app.screen.query_one(HistoryView)
        panel = view.query_one(ActivityPanel)
        assert view.charts and panel.display
        assert panel.activity is not None and panel.activity.account == "shop1"
        assert nonzero(panel.orders) == SHOP1_ORDERS
        assert marked(panel.orders) == SHOP1_FAILED
        assert "charts of shop1" in screen_text(app)
        await pilot.press("r")  # the runs are read again; the figures have not changed
        await settle(pilot)
        assert len(reads) == 1 and nonzero(panel.orders) == SHOP1_ORDERS
        await pilot.press("g")
        await settle(pilot)
        assert not view.charts and not panel.display and "newest first" in screen_text(app)
