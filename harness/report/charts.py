"""Charts as inline SVG strings, drawn with matplotlib.

Figures are created with ``matplotlib.figure.Figure`` directly, not through pyplot: no GUI
backend is ever selected (same effect as Agg, without changing the process-wide backend) and
no global figure registry holds them, so nothing leaks between charts. Text is written as
SVG ``<text>`` (escaped by matplotlib's XML writer) rather than glyph paths: smaller, and
searchable in the page. Inputs are typed results (``harness.results.schema``), already
redacted by the model."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from harness.results.schema import CallRow, FaultImpactRow, ImpactRow, LeaderRow, ScenarioResult

from .model import (
    MAX_TIMELINE_INVOCATIONS,
    MAX_TIMELINE_ROWS,
    InvocationRow,
    KindCost,
    ScenarioView,
)

COMPACT_ABOVE = 12  # invocations; beyond this, LLM calls share their invocation's row

CLASS_COLOURS = {"committed": "#2e7d32", "wasted": "#ef8f00", "duplicate": "#c62828"}
INVOCATION_COLOURS = {"success": "#546e7a", "failure": "#8e24aa", None: "#b0bec5"}
FAULT_COLOUR = "#e53935"
LEADER_COLOUR = "#3949ab"  # a change of a cluster partition's leader

_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # labels are data: a "$" must not start mathtext
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


_FONT_STYLE = re.compile(r"font-family: 'DejaVu Sans', 'Arial', 'Helvetica', sans-serif; |;? ?font-family: 'DejaVu Sans', 'Arial', 'Helvetica', sans-serif")
_ROUND = re.compile(r"(\d+\.\d{2})\d+")


def _to_svg(fig: Figure, label: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = buf.getvalue()
    # Inline in HTML: no XML declaration, DOCTYPE or RDF metadata.
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    # Keep only ids that something references (clip paths, markers): matplotlib's plain
    # ids (figure_1, patch_1 ...) would repeat across the page's charts.
    used = set(re.findall(r"#([\w.-]+)", svg))
    svg = re.sub(r'\sid="([^"]*)"', lambda m: m.group(0) if m.group(1) in used else "", svg)
    # Smaller page: geometry to 2 decimals (a hundredth of a point), no layout whitespace.
    # Only in geometry attributes: text content (a label "1.941 s") is left as it is.
    svg = re.sub(r'(\s(?:d|x|y|x1|x2|y1|y2|width|height|transform)=")([^"]*)"',
                 lambda m: m.group(1) + _ROUND.sub(r"\1", m.group(2)) + '"', svg)
    svg = re.sub(r'\stransform="rotate\(-?0 [^")]*\)"', "", svg)  # a no-op on every label
    svg = _FONT_STYLE.sub("", svg)  # the page's CSS sets it once for all charts
    svg = re.sub(r"\s*\n\s*", " ", svg)
    svg = re.sub(r">\s+<", "><", svg)
    # matplotlib's "*{...}" style would apply to the whole page once inlined: scope it.
    svg = svg.replace('<style type="text/css">*{', '<style type="text/css">svg.chart *{', 1)
    return svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{html.escape(label, quote=True)}" ', 1)


def _figure(width: float, height: float, salt: str) -> Figure:
    # The salt makes matplotlib's hashed clip-path and marker ids unique per chart.
    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt}):
        return Figure(figsize=(width, height))


# --- the timeline of one scenario ---------------------------------------------------------


def _timeline_rows(view: ScenarioView) -> tuple[list[tuple[int, str, str, Any]], int, bool]:
    """Rows top to bottom: (depth, label, kind, item). A small tree gets a row per LLM call
    under its invocation; a large one (a soak) is compact: calls drawn on their invocation's
    row, failing and unfinished trees first when not all fit. Returns the rows, how many
    invocations were left out, and whether the layout is compact."""
    tree = view.tree
    compact = len(tree) > COMPACT_ABOVE or len(tree) + len(view.result.calls) > MAX_TIMELINE_ROWS
    if len(tree) > MAX_TIMELINE_INVOCATIONS:
        bad = [r for r in tree if r.inv.result != "success" or r.inv.status != "completed"]
        keep = {id(r) for r in bad[:MAX_TIMELINE_INVOCATIONS]}
        for r in tree:
            if len(keep) >= MAX_TIMELINE_INVOCATIONS:
                break
            keep.add(id(r))
        shown = [r for r in tree if id(r) in keep]
    else:
        shown = list(tree)
    rows: list[tuple[int, str, str, Any]] = []
    for r in shown:
        label = str(r.inv.target or r.inv.invocation_id or "?")
        if compact:  # many invocations of the same target: tell them apart
            label = f"{label} …{str(r.inv.invocation_id or '')[-6:]}"
        rows.append((r.depth, label, "inv", r))
        if not compact:
            rows.extend((r.depth + 1, f"LLM #{c.id} attempt {c.attempt}", "call", c) for c in r.calls)
    if view.unattributed_calls and not compact:
        rows.append((0, "LLM calls of no known invocation", "header", None))
        rows.extend((1, f"LLM #{c.id} attempt {c.attempt}", "call", c) for c in view.unattributed_calls)
    return rows[:MAX_TIMELINE_ROWS], len(tree) - len(shown), compact


def _end_of_axis(view: ScenarioView) -> float:
    s = view.result
    times = [0.1]
    for inv in s.timeline:
        times += [inv.created_s or 0.0, inv.completed_s or 0.0]
    for c in s.calls:
        times += [c.arrived_s or 0.0, c.ended_s or 0.0]
    for f in s.faults:
        times += [f.at_s or 0.0, f.healed_s or 0.0]
    times += [e.appended_s or 0.0 for e in s.journal]
    times += [row.at_s for row in s.leadership]
    return max(times) * 1.04


def timeline_svg(view: ScenarioView) -> str | None:
    """Invocations (callees under their caller), their LLM calls coloured by class, journal
    entries as ticks, and fault windows shaded, on one time axis."""
    rows, hidden, compact = _timeline_rows(view)
    faults = view.result.faults
    if not rows and not faults:
        return None
    end = _end_of_axis(view)
    label_levels = min(len(faults), 3)
    height = 0.9 + 0.24 * max(len(rows), 1) + 0.18 * label_levels
    fig = _figure(10.0, height, view.anchor)
    with matplotlib.rc_context({**_RC, "svg.hashsalt": view.anchor}):
        ax = fig.add_axes((0.3, 0.0, 0.69, 1.0))
        n = max(len(rows), 1)
        for y, (depth, label, kind, item) in enumerate(rows):
            # Indentation by x offset, not spaces: SVG collapses leading whitespace.
            weight = "bold" if kind == "inv" and depth == 0 else "normal"
            colour = "#555" if kind == "call" else "#111"
            ax.text(-0.42 + 0.025 * depth, y, ("└ " if depth and kind == "inv" else "") + label[:48],
                    transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8,
                    fontweight=weight, color=colour, clip_on=False)
            if kind == "inv":
                _draw_invocation(ax, y, item, end)
                for call in item.calls if compact else ():
                    _draw_call(ax, y, call, end, height=0.28, note=False)
            elif kind == "call":
                _draw_call(ax, y, item, end)
        for i, f in enumerate(faults):
            start = f.at_s or 0.0
            healed = f.healed_s
            ax.axvspan(start, healed if healed is not None else end, color=FAULT_COLOUR, alpha=0.13, lw=0, zorder=0)
            ax.axvline(start, color=FAULT_COLOUR, lw=0.8, alpha=0.7, zorder=0)
            # Labels staggered over three levels so that nearby faults do not overprint.
            ax.annotate(f"{f.kind} {f.target}", xy=(start, 1.0), xycoords=ax.get_xaxis_transform(),
                        xytext=(2, 3 + 12 * (i % 3)), textcoords="offset points", fontsize=8,
                        color=FAULT_COLOUR, va="bottom", annotation_clip=False)
        _leader_changes(ax, view.result.leadership)
        ax.set_ylim(n - 0.4, -0.6)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlim(0, end)
        ax.grid(axis="x", color="#ddd", lw=0.6)
        ax.set_axisbelow(True)
        note = [f"{hidden} more invocations not drawn" if hidden else "", "LLM calls drawn on their invocation" if compact else ""]
        ax.set_xlabel("seconds since the workload started" + "".join(f"   ({part})" for part in note if part))
        legend = [
            Patch(color=INVOCATION_COLOURS["success"], label="invocation"),
            Patch(color=INVOCATION_COLOURS["failure"], label="failed"),
            Patch(facecolor=INVOCATION_COLOURS[None], hatch="///", label="not completed"),
            *(Patch(color=c, label=f"LLM {k}") for k, c in CLASS_COLOURS.items()),
            Patch(color=FAULT_COLOUR, alpha=0.25, label="fault window"),
        ]
        ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.35, -0.5 / height),
                  ncol=7, fontsize=7, frameon=False, handlelength=1.2, columnspacing=1.0)
        return _to_svg(fig, f"timeline of {view.result.name} [{view.result.agent}]")


def _leader_changes(ax: Any, leadership: list[LeaderRow]) -> None:
    """A cluster's change of leader: a dashed line, labelled with the new leader and epoch
    (the first sighting is not a change)."""
    first: dict[int, bool] = {}
    for row in leadership:
        if first.setdefault(row.partition_id, True):
            first[row.partition_id] = False
            continue
        ax.axvline(row.at_s, color=LEADER_COLOUR, lw=0.9, ls="--", zorder=1)
        ax.annotate(f"p{row.partition_id} leader {row.leader or 'none'} (epoch {row.epoch})", xy=(row.at_s, 0.0),
                    xycoords=ax.get_xaxis_transform(), xytext=(2, 2), textcoords="offset points", fontsize=7,
                    color=LEADER_COLOUR, rotation=90, va="bottom", annotation_clip=False)


def _draw_invocation(ax: Any, y: int, row: InvocationRow, end: float) -> None:
    inv = row.inv
    start = inv.created_s
    if start is None:
        return
    done = inv.completed_s
    result = inv.result if done is not None else None
    colour = INVOCATION_COLOURS.get(result, INVOCATION_COLOURS[None])
    ax.barh(y, (done if done is not None else end) - start, left=start, height=0.55, color=colour,
            hatch=None if done is not None else "///", edgecolor="#78909c" if done is None else colour, lw=0.5)
    ticks = [e.appended_s for e in row.journal if e.appended_s is not None]
    if ticks:  # journal entries: where progress was made durable
        ax.plot(ticks, [y] * len(ticks), ls="none", marker="|", ms=9, mew=1.1, color="#fff")


def _draw_call(ax: Any, y: int, call: CallRow, end: float, height: float = 0.45, note: bool = True) -> None:
    start = call.arrived_s
    if start is None:
        return
    ended = call.ended_s
    width = max((ended if ended is not None else end) - start, end / 200)  # instant calls stay visible
    colour = CLASS_COLOURS.get(call.class_, "#999")
    ax.barh(y, width, left=start, height=height, color=colour, hatch=None if ended is not None else "..", lw=0, zorder=3)
    if note and call.outcome not in (None, "ok"):
        ax.text(start + width, y, f" {call.outcome} {call.status or ''}", va="center", fontsize=7, color="#444")


# --- run summaries ------------------------------------------------------------------------


def recovery_svg(by_kind: dict[str, list[tuple[str, float]]]) -> str | None:
    """Recovery time per fault kind: a box where there are 3 or more, every point on top."""
    if not by_kind:
        return None
    kinds = list(by_kind)
    fig = _figure(max(3.5, 1.1 * len(kinds) + 1.5), 2.6, "recovery")
    with matplotlib.rc_context({**_RC, "svg.hashsalt": "recovery"}):
        ax = fig.add_subplot()
        boxed = [(i, [v for _, v in by_kind[k]]) for i, k in enumerate(kinds) if len(by_kind[k]) >= 3]
        if boxed:
            ax.boxplot([v for _, v in boxed], positions=[i for i, _ in boxed], widths=0.5, showfliers=False,
                       medianprops={"color": "#333"}, boxprops={"color": "#777"}, whiskerprops={"color": "#777"},
                       capprops={"color": "#777"})
        for i, kind in enumerate(kinds):
            values = [v for _, v in by_kind[kind]]
            # Deterministic jitter: the same run draws the same chart.
            xs = [i + ((j % 5) - 2) * 0.06 for j in range(len(values))]
            ax.scatter(xs, values, s=22, color="#1565c0", alpha=0.8, zorder=3)
        ax.set_xticks(range(len(kinds)), [f"{k}\n(n={len(by_kind[k])})" for k in kinds])
        ax.set_xlim(-0.6, len(kinds) - 0.4)
        top = max(v for points in by_kind.values() for _, v in points)
        ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)  # headroom: a point on the top edge is cut
        ax.set_ylabel("recovery (s)")
        ax.grid(axis="y", color="#ddd", lw=0.6)
        ax.set_axisbelow(True)
        return _to_svg(fig, "recovery time per fault kind")


def cost_svg(costs: list[KindCost]) -> str | None:
    """Wasted and duplicate LLM calls, and wasted tokens, per fault kind."""
    if not costs:
        return None
    kinds = [c.kind for c in costs][::-1]
    ordered = costs[::-1]
    fig = _figure(9.0, 0.9 + 0.3 * len(costs), "cost")
    with matplotlib.rc_context({**_RC, "svg.hashsalt": "cost"}):
        calls_ax, tokens_ax = fig.subplots(1, 2, sharey=True)
        ys = range(len(kinds))
        wasted = [c.wasted_calls for c in ordered]
        calls_ax.barh(ys, wasted, color=CLASS_COLOURS["wasted"], label="wasted")
        calls_ax.barh(ys, [c.duplicate_calls for c in ordered], left=wasted, color=CLASS_COLOURS["duplicate"],
                      label="duplicate")
        calls_ax.set_yticks(list(ys), kinds)
        calls_ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # calls are counted, not measured
        calls_ax.set_xlabel("LLM calls")
        calls_ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)
        tokens_ax.barh(ys, [c.wasted_tokens for c in ordered], color="#f5b041")
        tokens_ax.set_xlabel("wasted tokens")
        for ax in (calls_ax, tokens_ax):
            ax.grid(axis="x", color="#ddd", lw=0.6)
            ax.set_axisbelow(True)
        fig.tight_layout()
        return _to_svg(fig, "the cost of faults: wasted LLM calls and tokens per fault kind")


# --- what each fault did (soaks, random schedules) ------------------------------------------

OUTCOME_COLOURS = {"completed": "#2e7d32", "failed": "#8e24aa", "running": "#78909c"}
# Above this many requests the latency points are drawn as one embedded image: a marker per
# point would cost ~70 bytes of SVG each.
RASTERIZE_ABOVE = 300


def impact_svg(s: ScenarioResult, salt: str) -> str | None:
    """Two panels on one time axis, fault windows shaded and numbered as in the impact
    table: (a) every request's latency at its send time, coloured by outcome (still running:
    the time it had been running when the run ended, a lower bound); (b) completed requests
    per second, with the offered load."""
    impact = s.impact
    if impact is None or not impact.requests:
        return None
    end = max(impact.end_s, 0.1) * 1.02
    points: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in OUTCOME_COLOURS}
    for r in impact.requests:
        finished = r.finished_s if r.finished_s is not None else impact.end_s
        xs, ys = points.setdefault(r.outcome, ([], []))
        xs.append(r.sent_s)
        ys.append(max(finished - r.sent_s, 0.001))
    latencies = [y for _, ys in points.values() for y in ys]
    log = max(latencies) / max(min(latencies), 1e-3) > 20
    rasterize = len(impact.requests) > RASTERIZE_ABOVE
    label_levels = min(len(impact.faults), 3)
    fig = _figure(10.0, 4.6 + 0.18 * label_levels, salt)
    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt, "savefig.dpi": 110}):
        lat_ax, rate_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2], "hspace": 0.08})
        for outcome, (xs, ys) in points.items():
            if not xs:
                continue
            colour = OUTCOME_COLOURS.get(outcome, "#999")
            hollow = outcome == "running"
            lat_ax.scatter(xs, ys, s=9 if not hollow else 14, marker="o" if not hollow else "^", lw=0.6,
                           facecolors="none" if hollow else colour, edgecolors=colour, alpha=0.75, zorder=3,
                           rasterized=rasterize, label=f"{outcome} ({len(xs)})")
        if impact.delay_threshold_s is not None:
            lat_ax.axhline(impact.delay_threshold_s, color="#333", lw=0.7, ls="--", zorder=2)
            lat_ax.annotate(f"delay threshold {impact.delay_threshold_s:.2f} s", xy=(1.0, impact.delay_threshold_s),
                            xycoords=lat_ax.get_yaxis_transform(), xytext=(-2, 2), textcoords="offset points",
                            ha="right", va="bottom", fontsize=7, color="#333")
        if log:
            lat_ax.set_yscale("log")
            # Plain numbers: mathtext is off (labels are data), so 10^k would print as markup.
            lat_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            lat_ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            lat_ax.set_ylim(0, max(latencies) * 1.1)
        lat_ax.set_ylabel("latency (s, log scale)" if log else "latency (s)")
        lat_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, handletextpad=0.3)
        _throughput_panel(rate_ax, impact)
        for ax in (lat_ax, rate_ax):
            _fault_windows(ax, impact.faults, end)
        for i, f in enumerate(impact.faults):
            lat_ax.annotate(f"{i + 1} {f.kind} {f.target}", xy=(f.at_s or 0.0, 1.0),
                            xycoords=lat_ax.get_xaxis_transform(), xytext=(2, 3 + 12 * (i % 3)), textcoords="offset points", fontsize=7.5,
                            color=FAULT_COLOUR, va="bottom", annotation_clip=False)
        rate_ax.set_xlim(0, end)
        return _to_svg(fig, f"latency and throughput under faults: {s.name} [{s.agent}]")


def _throughput_panel(ax: Any, impact: ImpactRow) -> None:
    """Completed requests per second over time, with the offered load."""
    ax.plot(impact.throughput_t, impact.throughput_rps, color="#1565c0", lw=1.2, label="completed/s")
    if impact.offered_rps:
        ax.axhline(impact.offered_rps, color="#1565c0", lw=0.7, ls=":", label="offered load")
    ax.set_ylim(0, max([*impact.throughput_rps, impact.offered_rps or 0.0, 1.0]) * 1.1)
    ax.set_ylabel("completed / s")
    ax.set_xlabel(f"seconds since the workload started (throughput over a {impact.window_s:.2f} s window)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def _fault_windows(ax: Any, faults: list[FaultImpactRow], end: float) -> None:
    """Each fault's window shaded, from its start to its healing (or the end), and a grid."""
    for f in faults:
        start = f.at_s or 0.0
        ax.axvspan(start, f.healed_s if f.healed_s is not None else end, color=FAULT_COLOUR, alpha=0.12, lw=0, zorder=0)
        ax.axvline(start, color=FAULT_COLOUR, lw=0.7, alpha=0.6, zorder=0)
    ax.grid(axis="both", color="#e3e3e3", lw=0.5)
    ax.set_axisbelow(True)
