"""Chart geometry for /admin, drawn as inline SVG by templates/_charts.html.

Python does the arithmetic (scales, ticks, coordinates); the Jinja macro writes the
markup with autoescape, so the page needs no JavaScript and no chart library.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from newsletter.operations.history import DayRates

# In SVG units; the SVG scales to its column, so a width near the column's pixels keeps
# the 11-unit labels readable: the sends chart spans the page, the rate charts half.
WIDE, HALF, HEIGHT = 960, 480, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 28
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Chart:
    title: str
    summary: str  # what the chart says, for screen readers and as its caption
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    path: str = ""  # an area under a line, as an SVG path
    line: str = ""
    bars: list[Bar] = field(default_factory=list)
    limit: tuple[float, str] | None = None  # (y, label) of a reference line
    width: int = WIDE
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    top_value: float = 1.0  # what the top of the y axis stands for

    @property
    def right(self) -> int:
        return self.width - RIGHT

    def y(self, value: float) -> float:
        return round(self.bottom - (self.bottom - self.top) * value / self.top_value, 1)


def axis_top(peak: float) -> float:
    """The top of a y axis of TICKS steps, each step 1, 2 or 5 times a power of ten."""
    return nice_ceiling(peak / TICKS) * TICKS


def nice_ceiling(value: float) -> float:
    """Round up to 1, 2 or 5 times a power of ten (a readable top for an axis)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _ticks(chart: Chart, label: Callable[[float], str]) -> list[tuple[float, str]]:
    values = [chart.top_value * k / TICKS for k in range(TICKS + 1)]
    return [(chart.y(v), label(v)) for v in values]


def sends_chart(per_minute: list[int], now: datetime) -> Chart:
    """An area chart of sends per minute over the last 24 hours, newest on the right."""
    total, peak = sum(per_minute), max(per_minute, default=0)
    chart = Chart(
        title="Sends per minute, last 24 hours",
        summary=f"{total} emails sent in 24 hours; busiest minute: {peak}.",
        top_value=axis_top(max(peak, TICKS)),  # counts: whole-number ticks
    )
    span = chart.right - chart.left
    step = span / max(len(per_minute) - 1, 1)
    points = [(round(chart.left + i * step, 1), chart.y(n)) for i, n in enumerate(per_minute)]
    if points:
        chart.line = "M" + " L".join(f"{x} {y}" for x, y in points)
        chart.path = (
            f"{chart.line} L{points[-1][0]} {chart.bottom} L{points[0][0]} {chart.bottom} Z"
        )
    chart.y_ticks = _ticks(chart, lambda v: f"{v:g}")
    start = now - timedelta(minutes=len(per_minute) - 1)
    for hours_back in (24, 18, 12, 6, 0):
        moment = now - timedelta(hours=hours_back)
        minutes = (moment - start).total_seconds() / 60
        x = round(chart.left + max(minutes, 0) * step, 1)
        chart.x_ticks.append((x, "now" if not hours_back else moment.strftime("%H:%M")))
    return chart


def rate_chart(days: list[DayRates], *, kind: str, limit: float) -> Chart:
    """Daily bounce or complaint rate as bars, with SES's review rate as a dashed line."""
    rates = [d.bounce_rate if kind == "bounce" else d.complaint_rate for d in days]
    known = [r for r in rates if r is not None]
    worst = max(known, default=None)
    label = "Bounce" if kind == "bounce" else "Complaint"
    percent = "{:.2%}" if kind == "bounce" else "{:.3%}"
    chart = Chart(
        title=f"{label} rate per day, last 30 days",
        summary=(
            f"Highest day: {percent.format(worst)}; SES reviews accounts above {limit:.1%}."
            if worst is not None
            else "Nothing was sent in 30 days."
        ),
        width=HALF,
        # The review line always shows, with room above it.
        top_value=axis_top(max([limit * 1.25, *known])),
    )
    slot = (chart.right - chart.left) / max(len(days), 1)
    for i, (day, rate) in enumerate(zip(days, rates, strict=True)):
        if rate is None:
            continue
        y = chart.y(rate)
        events = day.bounces if kind == "bounce" else day.complaints
        chart.bars.append(
            Bar(
                x=round(chart.left + i * slot + slot * 0.15, 1),
                y=y,
                width=round(slot * 0.7, 1),
                height=round(max(chart.bottom - y, 0.5), 1),
                title=f"{day.day:%Y-%m-%d}: {percent.format(rate)} ({events} of {day.sent})",
            )
        )
    chart.limit = (chart.y(limit), f"SES review {limit:.1%}")
    chart.y_ticks = _ticks(chart, lambda v: f"{round(v * 100, 4):g}%")
    for i in range(0, len(days), 7):
        chart.x_ticks.append((round(chart.left + (i + 0.5) * slot, 1), f"{days[i].day:%d %b}"))
    return chart
