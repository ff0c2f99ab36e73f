"""Charts drawn in the terminal: textual-plotext's `Plot` (plotext), built off the UI thread.

textual-plotext's own widget, `PlotextPlot`, builds its plot in `render()`, on the UI
thread, each time it is drawn: 5-12 ms a chart, paid again whenever the view is shown
or resized. Here a worker thread builds the same `Plot` into text and the widget only
shows it, so a key never waits for a chart. The chart is built again only when its
data, its size or the theme changes.

`plotext`'s own themes are not used ("clear": no colours), so the chart takes the
widget's background and text colour; the bars and marks take the theme's colours.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.color import Color
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from tui.workers import ReportsFailures

RGB = tuple[int, int, int]
FAILED_MARK = "✗"
KEPT = 8  # charts kept built per widget: going back to an account draws nothing again


@dataclass(frozen=True, slots=True)
class ChartData:
    """What a chart shows: one value per x label, and the positions marked as failed."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    marks: tuple[int, ...] = ()  # indices of `values` marked with FAILED_MARK
    unit: Literal["count", "seconds"] = "count"
    colour: Literal["primary", "accent", "secondary"] = "primary"


@dataclass(frozen=True, slots=True)
class Palette:
    bars: RGB
    marks: RGB


def tick_label(value: float, unit: str) -> str:
    if unit == "seconds":
        from tui.format import duration

        return duration(value)
    return f"{value:.0f}"


def y_ticks(top: float, unit: str) -> tuple[list[float], list[str]]:
    """0, the middle and the top: whole numbers for counts."""
    if unit == "count":
        whole = max(1, int(top))
        counts = sorted({0, whole // 2, whole}) if whole > 1 else [0, 1]
        return [float(t) for t in counts], [str(t) for t in counts]
    top = top or 1.0
    ticks = [0.0, top / 2, top]
    return ticks, [tick_label(t, unit) for t in ticks]


def x_ticks(labels: tuple[str, ...], width: int) -> tuple[list[float], list[str]]:
    """A label every few positions (as many as fit), always the last one (today)."""
    n = len(labels)
    if not n:
        return [], []
    room = max(1, (width - 8) // 9)  # a label and its gap take about nine columns
    step = max(1, -(-n // room))
    picked = list(range(n - 1, -1, -step))[::-1]
    return [float(i + 1) for i in picked], [labels[i] for i in picked]


def build_chart(data: ChartData, width: int, height: int, palette: Palette) -> Text:
    """The chart as text (plotext's output, its colours as Rich styles). Runs in a thread:
    it touches no widget."""
    from textual_plotext.plot import Plot

    plt = Plot()
    plt.theme("clear")
    plt.plotsize(width, height)
    # plotext caps a plot at the terminal's size unless the figure's own size is set too
    # (as textual-plotext's widget does)
    plt._set_size(width, height)
    xs = list(range(1, len(data.values) + 1))
    values = list(data.values)
    top = max(values, default=0) or 1
    plt.bar(xs, values, color=palette.bars, width=0.4)
    if data.marks:
        plt.scatter([xs[i] for i in data.marks], [0] * len(data.marks), marker=FAILED_MARK,
                    color=palette.marks)
    plt.ylim(0, top)
    plt.yticks(*y_ticks(top, data.unit))
    plt.xticks(*x_ticks(data.labels, width))
    plt.xlim(0.5, len(values) + 0.5)
    plt.title(data.title)
    return Text.from_ansi(plt.build(), no_wrap=True, end="")


class Chart(ReportsFailures, Static):
    """A chart of `ChartData`; `show()` it, and it is built in a worker thread."""

    DEFAULT_CSS = """
    Chart {
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: ChartData | None = None
        self._built: tuple[object, ...] | None = None  # what the shown text was built from
        self._wanted: tuple[object, ...] | None = None
        self._kept: OrderedDict[tuple[object, ...], Text] = OrderedDict()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._rebuild, init=False)

    def show(self, data: ChartData | None) -> None:
        self.data = data
        if data is None:
            self._built = self._wanted = None
            self.update("")
            return
        self.call_after_refresh(self._rebuild)  # at the size the new layout gives it

    @property
    def drawn(self) -> str:
        """The chart as it is shown, as plain text ('' before it is drawn)."""
        text = self._kept.get(self._built) if self._built else None
        return text.plain if text is not None else ""

    def on_resize(self) -> None:
        self._rebuild()

    def palette(self) -> Palette:
        variables = self.app.theme_variables
        data = self.data

        def rgb(name: str, default: str) -> RGB:
            return Color.parse(variables.get(name, default)).rgb

        return Palette(bars=rgb(data.colour if data else "primary", "#0178d4"),
                       marks=rgb("error", "#ba3c5b"))

    def _rebuild(self) -> None:
        data = self.data
        width, height = self.content_size
        if data is None or width < 10 or height < 4:
            return
        palette = self.palette()
        wanted = (data, width, height, palette)
        if wanted in (self._built, self._wanted):
            return
        self._wanted = wanted
        if wanted in self._kept:
            self._kept.move_to_end(wanted)
            self._built = wanted
            self.update(self._kept[wanted])
            return
        self.run_worker(lambda: (wanted, build_chart(data, width, height, palette)),
                        thread=True, group=f"chart-{self.id}", exclusive=True,
                        exit_on_error=False, name="Drawing a chart")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.node is not self:
            return
        event.stop()  # a failure is told once, here
        super().on_worker_state_changed(event)
        if event.state != WorkerState.SUCCESS:
            return
        result = event.worker.result
        assert result is not None
        wanted, text = result
        if wanted != self._wanted:
            return  # an older build finished after a newer one was asked for
        self._built = wanted
        self._kept[wanted] = text
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        self.update(text)
