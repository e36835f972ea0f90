"""Figures on pages: plotly's HTML for a chart (plotly.js loaded once by the page), a lean copy of
a figure's data, small figure edits the outputs share, and where plotly.js itself lives.

One place for each: the site, the chart pages and the slide view all embed through `embed`, and
everything that ships or loads plotly.js asks `plotly_js_path`.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from report.explain import Part

CHART_SIG_DIGITS = 4
HOVER_TEXT_ONLY = "%{text}<extra></extra>"  # report.charts' hover: all of it in `text`
CONTEXT_GROUP = "context"  # the legend group of report.charts.context_traces (other models, grey)
PLOTLY_JS = "plotly.min.js"


def plotly_js_path() -> Path:
    """plotly.min.js inside the installed plotly package: shipped with the output, never a CDN."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / PLOTLY_JS


@functools.lru_cache(maxsize=1)
def plotly_js_text() -> str:
    """plotly.min.js itself, for a page that inlines it."""
    return plotly_js_path().read_text(encoding="utf-8")


def _round_sig(values: Any, digits: int = CHART_SIG_DIGITS) -> Any:
    """Round floats to significant digits, integral ones to int (keeps a page light; the table
    and the raw JSON have the exact values)."""
    if isinstance(values, float):
        rounded = float(f"{values:.{digits}g}")
        return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded
    if isinstance(values, (list, tuple)):
        return type(values)(_round_sig(v, digits) for v in values)
    return values


def _affixes(values: Sequence[str]) -> tuple[str, str]:
    """The longest prefix and suffix all values share (without '%', which templates read)."""
    prefix = os.path.commonprefix(list(values)).split("%", 1)[0]
    rest = [v[len(prefix) :] for v in values]
    suffix = os.path.commonprefix([r[::-1] for r in rest])[::-1].rsplit("%", 1)[-1]
    return prefix, suffix


def factor_hover(trace: dict[str, Any]) -> None:
    """Print once what every point of a trace says alike: the hover text's shared lines and the
    shared start and end of the others (labels, units) move into the trace's hovertemplate, the
    rest into customdata. Plotly shows the same text."""
    text, template = trace.get("text"), trace.get("hovertemplate")
    if template != HOVER_TEXT_ONLY or "customdata" in trace or not isinstance(text, list) or len(text) < 2:
        return
    if not all(isinstance(t, str) for t in text):
        return
    rows = [t.split("<br>") for t in text]
    if len({len(r) for r in rows}) != 1:
        return
    lines, columns = [], []
    for i in range(len(rows[0])):
        values = [r[i] for r in rows]
        prefix, suffix = _affixes(values)
        if len(set(values)) == 1 and "%" not in values[0]:
            lines.append(values[0])
            continue
        lines.append(f"{prefix}%{{customdata[{len(columns)}]}}{suffix}")
        columns.append([v[len(prefix) : len(v) - len(suffix)] for v in values])
    trace["hovertemplate"] = "<br>".join(lines) + "<extra></extra>"
    if columns:
        trace["customdata"] = [list(point) for point in zip(*columns, strict=True)]
    del trace["text"]


def lean_figure(fig: Any) -> Any:
    """Keep a chart's data lean (a 1,000-cell page stays well under 300 KB): coordinates
    rounded, integral floats written as integers, hover lines shared by a trace's points written
    once, and the grey context trace (every other model, on a model page) hovering with the
    model's name only. Works in place on a figure dict (or a Figure's traces); returns it."""
    traces = fig.get("data", []) if isinstance(fig, dict) else fig.data
    for trace in traces:
        text = trace["text"] if isinstance(trace, dict) and "text" in trace else None
        if isinstance(text, list) and trace.get("legendgroup") == CONTEXT_GROUP:
            trace["text"] = [t.split("<br>", 1)[0] if isinstance(t, str) else t for t in text]
        if isinstance(trace, dict):
            factor_hover(trace)
        for axis in ("x", "y", "z"):
            values = trace.get(axis) if isinstance(trace, dict) else getattr(trace, axis, None)
            if values is not None and any(isinstance(v, float) for v in values):
                trace[axis] = _round_sig(list(values))
    if isinstance(fig, dict):
        _shared_defaults(fig)
    return fig


SHARED_KEYS = ("hovertemplate", "hoverinfo", "mode")  # often the same on every trace of a type


def _shared_defaults(fig: dict[str, Any]) -> None:
    """A trace attribute that every trace of a type sets, written once: its most common value
    becomes the layout template's default for that type (plotly applies it to each trace) and
    the traces holding that value drop it; the others keep their own."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for trace in fig.get("data", []):
        by_type.setdefault(trace.get("type", "scatter"), []).append(trace)
    layout = fig.setdefault("layout", {})
    template = layout.setdefault("template", {})
    if not isinstance(template, dict):
        return  # a named template: leave the traces as they are
    for kind, traces in by_type.items():
        defaults = template.setdefault("data", {}).setdefault(kind, [{}])
        if len(defaults) != 1:
            continue  # cycled defaults: one entry per trace would be needed
        for key in SHARED_KEYS:
            if key in defaults[0] or not all(key in t for t in traces):
                continue
            values = [json.dumps(t[key], sort_keys=True) for t in traces]
            common, n = Counter(values).most_common(1)[0]
            if n < 2:
                continue
            defaults[0] = {**defaults[0], key: json.loads(common)}
            for trace, value in zip(traces, values, strict=True):
                if value == common:
                    del trace[key]


def embed(fig: Any, div_id: str, modebar: bool = True, lean: bool = True) -> Markup:
    """plotly's HTML for a page: no plotly.js (the page head loads it once), a fixed div id
    (deterministic output). `fig` is a plotly Figure or a figure dict (dicts skip plotly's slow
    validation); `lean=False` keeps the data exactly as given."""
    import plotly.io as pio

    html = pio.to_html(
        lean_figure(fig) if lean else fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        validate=not isinstance(fig, dict),
        config={"displaylogo": False, "responsive": True, "displayModeBar": modebar},
    )
    return Markup(html)  # plotly's own output; it escapes <, > and / inside its JSON


def breakdown_figure(parts: Sequence[Part]) -> dict[str, Any]:
    """A small horizontal bar chart of the parameter breakdown, as a plain figure dict."""
    shown = [p for p in parts if p.params]
    axis = {"gridcolor": "#e5e5e5", "zeroline": False, "automargin": True}
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [p.params for p in shown],
                "y": [p.name for p in shown],
                "marker": {"color": "#3f51b5"},
                "hovertemplate": "%{y}: %{x:,}<extra></extra>",
            }
        ],
        "layout": {
            "height": 60 + 28 * len(shown),
            "margin": {"l": 10, "r": 10, "t": 10, "b": 30},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "font": {"color": "#2a3f5f"},
            "xaxis": {**axis, "title": {"text": "parameters"}},
            "yaxis": {**axis, "autorange": "reversed"},
        },
    }


def untitled(spec: dict[str, Any], band_px: int, height: int | None = None) -> dict[str, Any]:
    """The figure without its own title, and the band the title took at the top given to the
    chart: the slide's title names it. `height`: the image's layout height (a deck picture
    drawn for its box), where the symbol key moves up to the top edge, into the title's place."""
    layout = spec["layout"]
    if layout.pop("title", None) is not None and "margin" in layout:
        layout["margin"]["t"] = max(10, layout["margin"].get("t", 0) - band_px)
    if height is not None and "legend2" in layout:
        layout["legend2"]["y"] = 1.0 - 4 / height
    return spec


def short_hover(spec: dict[str, Any]) -> dict[str, Any]:
    """Hover shows the model and the point's coordinates instead of every setting: the full
    hover text is about three quarters of a chart's weight, and the slide view carries four
    charts (the home and model pages keep the full text)."""
    layout = spec["layout"]
    scene = layout.get("scene")
    names = "xyz" if scene is not None else "xy"
    axes = [(scene or layout).get(f"{n}axis", {}) for n in names]
    lines = [
        f"{(axis.get('title') or {}).get('text', n)}: %{{{n}}}" for n, axis in zip(names, axes, strict=True)
    ]
    template = "%{fullData.name}<br>" + "<br>".join(lines) + "<extra></extra>"
    for trace in spec["data"]:
        if trace.pop("text", None) is not None:
            trace["hovertemplate"] = template
    return spec
