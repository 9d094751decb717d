"""Charts of the trend reports (`?format=png|svg`), drawn here, in the reports service, with matplotlib.

Why here: the gateway holds no business logic and stays small; the reports service has the figures
and already depends on matplotlib, so it answers an RPC with the image's bytes (base64: RPC payloads
are JSON) and the gateway only sends them on.

How: matplotlib's object API with the Agg canvas (PNG) and the SVG canvas — no pyplot, no GUI, no
global figure state, so green threads rendering at the same time do not share a figure. The font is
DejaVu Sans, which matplotlib ships, so it exists wherever matplotlib is installed. A PNG is exactly
`width` × `height` pixels (100 dpi, no tight bounding box); an SVG keeps its text as text
(`svg.fonttype: none`), so the title and series labels can be read and searched, and carries no
date, so the same figures give the same bytes. Unknown values (None) are gaps in a line.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

# imported with the service, not on the first chart: a cold import costs a second or more, and an RPC
# has a few seconds to answer
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
DPI = 100
DEFAULT_SIZE = (800, 400)
MIN_SIZE, MAX_SIZE = (320, 200), (2000, 1200)


@dataclass
class Chart:
    title: str
    x: list[str]
    series: list[tuple[str, list[float | None]]] = field(default_factory=list)
    kind: str = "line"  # line or bar
    y_label: str = ""


def render(chart: Chart, fmt: str, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1]) -> bytes:
    """The chart as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}")
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "svg.fonttype": "none", "svg.hashsalt": "custops"}):
        figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        axes = figure.add_subplot()
        positions = list(range(len(chart.x)))
        if chart.kind == "bar" and chart.series:
            step = 0.8 / len(chart.series)
            for i, (label, values) in enumerate(chart.series):
                axes.bar([p - 0.4 + step * (i + 0.5) for p in positions],
                         [0 if v is None else v for v in values], width=step, label=label)
        else:
            for label, values in chart.series:
                axes.plot(positions, [float("nan") if v is None else v for v in values], marker="o", label=label)
        axes.set_xticks(positions, chart.x, rotation=45 if len(chart.x) > 6 else 0,
                        ha="right" if len(chart.x) > 6 else "center", fontsize=8)
        axes.set_title(chart.title)
        if chart.y_label:
            axes.set_ylabel(chart.y_label)
        axes.grid(axis="y", alpha=0.3)
        if chart.series:
            axes.legend(fontsize=8)
        figure.subplots_adjust(bottom=0.25, left=0.1, right=0.97, top=0.9)
        out = io.BytesIO()
        if fmt == "png":
            FigureCanvasAgg(figure).print_png(out)
        else:
            FigureCanvasSVG(figure).print_svg(out, metadata={"Date": None})
    return out.getvalue()


# --- the charts of each trend report (its JSON answer in, a Chart out)


def benchmarks_chart(report: dict, keys: list[str], labels: dict[str, str]) -> Chart:
    items = report["items"]
    return Chart(title="Benchmarks: weekly headline metrics", x=[i["week_start"] for i in items],
                 series=[(labels[k], [i["metrics"].get(k) for i in items]) for k in keys])


def volume_chart(report: dict) -> Chart:
    """Tickets per week, all customers together, oldest week first."""
    weeks: dict[str, list[int]] = {}
    for item in report["items"]:
        sums = weeks.setdefault(item["week_start"], [0, 0, 0])
        for i, kind in enumerate(("created", "resolved", "closed")):
            sums[i] += item[kind]
    order = sorted(weeks)
    return Chart(title="Ticket volume per week", x=order, y_label="tickets",
                 series=[(label, [weeks[w][i] for w in order])
                         for i, label in enumerate(("Created", "Resolved", "Closed"))])


def status_chart(report: dict) -> Chart:
    """Items completed per project, this week beside last week."""
    items = report["items"]
    return Chart(title=f"Items completed, week of {report['week_start']}", kind="bar", y_label="items",
                 x=[(i["project_name"] or "Tickets")[:24] for i in items],
                 series=[("This Week", [i["this_week"] for i in items]),
                         ("Last Week", [i["last_week"] for i in items])])


def volume_periods_chart(report: dict) -> Chart:
    """Every group together per week or month, oldest first: created, resolved, reopened, backlog."""
    periods = list(reversed(report["periods"]))  # the report is newest first
    return Chart(title=f"Ticket volume per {report['period']}", x=[p["period_start"] for p in periods],
                 y_label="tickets",
                 series=[(label, [p["totals"][key] for p in periods])
                         for key, label in (("created", "Created"), ("resolved", "Resolved"),
                                            ("reopened", "Reopened"), ("backlog", "Backlog"))])


def sla_chart(report: dict) -> Chart:
    """Attainment of each timer in the period beside the period before (the SLA report's trend)."""
    timers = (("first_response", "First response"), ("resolution", "Resolution"))
    trend = report.get("trend") or {}
    return Chart(title=f"SLA attainment %, {report['date_from']} to {report['date_to']}", kind="bar",
                 x=[label for _, label in timers], y_label="attainment %",
                 series=[("This period", [report[t]["attainment_pct"] for t, _ in timers]),
                         ("Previous period", [(trend.get(t) or {}).get("previous", {}).get("attainment_pct")
                                              for t, _ in timers])])
