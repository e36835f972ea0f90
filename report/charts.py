"""One engine that turns any view (report.views) and results into a plotly figure.

The steps, each a small function: select the cells a view shows (`chart_data`: filter, set
failed cells aside, pick each axis's metric, drop cells without a value) -> group points into
traces (one legend entry per model, grouped by family with a title, or one per family when a
static image has no room) -> style them (colour from the family name, symbol from the
precision, estimated points hollow) -> lay out axes, camera and the note of what was left out.

`figure_spec` returns a plain figure dict (plotly validates nothing, which keeps a 1,000-cell
report fast); `build_figure` wraps it in a plotly Figure for callers that want one. Names from
result files are untrusted: every text plotly renders as HTML is escaped here.
"""

from __future__ import annotations

import colorsys
import contextlib
import dataclasses
import functools
import hashlib
import html
import math
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.schema import METRICS, Metric, Result, device_kind
from report.fit import frame_of, hardware_of, measured_efficiencies, speed_of
from report.load import result_order
from report.text import count, method_text, metric_value, number, setting_text, variant_parts
from report.views import VIEWS, View

Template = Literal["light", "dark", "presentation", "presentation-dark"]
TEMPLATES: tuple[Template, ...] = ("light", "dark", "presentation", "presentation-dark")

# Rows a static 960x540 legend holds at the presentation font before it would overflow (a 2D
# legend sits lower, beside the plot area, so it holds fewer).
STATIC_LEGEND_ROWS = {True: 13, False: 11}  # by view.is_3d
# ...and at the compact font (COMPACT_LEGEND_PX), before a static legend falls back to families
COMPACT_LEGEND_ROWS = {True: 22, False: 18}
LEGEND_PX, COMPACT_LEGEND_PX = 16, 11
HTML_LEGEND_MODELS = 60  # interactive legends scroll, but past this a family legend reads better
STATIC_HEIGHT = 540  # report.export's layout height; the key's place is worked out in pixels
MAX_TITLE_CHARS = 70  # a model name longer than this is cut in a chart title (never in hover)
MAX_STATIC_LEGEND_CHARS = 22  # ...and in a static image's legend, so the scene keeps its width
SETTING_METRICS = ("batch_size", "prompt_tokens", "new_tokens")
KEY_METRICS = ("decode_tokens_per_s", "prefill_latency", "peak_memory", "params_total")

# Marker symbols. In 3D plotly draws markers as text glyphs; of its 3D symbols only circle, square
# and diamond have a hollow form (hollow = estimated), so in 3D the symbol says how many bits a
# weight takes: circle for unquantized floats, square for 8-bit, diamond for 4-bit and below. The
# symbol key names the precisions under each shape and hover names a cell's own. 2D has shapes to
# spare: one per precision.
SYMBOLS_3D = {"float32": "circle", "float16": "circle", "bfloat16": "circle", "fp8": "square",
              "int8": "square", "w8a8": "square", "int4": "diamond", "nf4": "diamond", "w4a8": "diamond",
              "w4a16": "diamond", "qoq": "diamond"}  # fmt: skip
BITS_3D = {"circle": "16-32 bit", "square": "8 bit", "diamond": "4 bit"}  # the key's name for a shape
SYMBOLS_2D = ("circle", "diamond", "square", "cross", "x", "star", "triangle-up", "pentagon", "hexagon")
KNOWN_SYMBOLS_2D = {"float32": 0, "bfloat16": 1, "float16": 2, "int8": 3, "int4": 4, "qoq": 5}
HOLLOW_3D = set(BITS_3D)

CONTEXT_GREY = {
    "light": "#c4c4c4",
    "presentation": "#c4c4c4",
    "dark": "#5a5a5a",
    "presentation-dark": "#5a5a5a",
}
FRONT_COLOR = {
    "light": "#222222",
    "presentation": "#222222",
    "dark": "#eeeeee",
    "presentation-dark": "#eeeeee",
}
NOTE_COLOR = {
    "light": "#555555",
    "presentation": "#555555",
    "dark": "#bbbbbb",
    "presentation-dark": "#bbbbbb",
}
IMPORTED_OUTLINE, IMPORTED_OUTLINE_WIDTH = "#222222", 3  # points from another tool's files
IMPORTED_KEY = "imported"  # the symbol legend's entry for them (drawn with that outline)
SYMBOL_KEY_COLOR = {
    "light": "#777777",
    "presentation": "#777777",
    "dark": "#aaaaaa",
    "presentation-dark": "#aaaaaa",
}
DARK_BACKGROUND = "#111111"  # the site's dark page (report.build.PAGE_COLORS): dark images sit on it unseen


def escape(text: str) -> str:
    """Untrusted text for plotly, which renders a few HTML tags in labels: <, > and & become
    entities it shows as text. Quotes stay (plotly would print &quot; literally)."""
    return html.escape(text, quote=False)


# --------------------------------------------------------------------------- colours and symbols


def _hash(text: str, salt: str = "") -> int:
    digest = hashlib.blake2b(f"{salt}\0{text.strip().casefold()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def category_color(value: str) -> str:
    """A colour derived from a name alone (never from its position among others), so a family
    or a model keeps its colour in every chart, every result set and every run."""
    h = _hash(value)
    hue = (h % 3600) / 3600.0
    # yellows and light greens wash out on white: darken that band
    lightness = (0.38 if 0.10 < hue < 0.45 else 0.47) + ((h >> 12) % 3) * 0.04
    saturation = 0.62 + ((h >> 16) % 3) * 0.1
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


# Well-known families get colours picked to stay apart from each other; any other name takes
# one from its hash. Either way the colour follows from the name alone.
KNOWN_FAMILY_COLORS = {
    "llama": "#1f6fd1",
    "gemma": "#2a9d3a",
    "qwen": "#7b3fc4",
    "mistral": "#f08a0c",
    "mixtral": "#d62f2f",
    "openai gpt": "#0fa3b1",
    "gpt": "#0fa3b1",
    "gpt-2": "#0fa3b1",
    "phi": "#8c564b",
    "smollm": "#e0509f",
    "deepseek": "#2e3a8c",
    "falcon": "#a3a314",
    "olmo": "#5c8a00",
    "granite": "#4d6b7a",
}


def family_color(family: str) -> str:
    """The colour of a model family: a fixed one for well-known families, else derived from
    the name by a stable hash, so a family keeps its colour across charts, result sets and runs."""
    return KNOWN_FAMILY_COLORS.get(family.strip().casefold()) or category_color(family)


SHADE_LIGHTNESS = (-0.18, -0.12, -0.06, 0.0, 0.06, 0.12, 0.18)  # a model's shade of its family's hue
SHADE_HUE = (-0.024, -0.012, 0.0, 0.012, 0.024)


def model_color(family: str, model: str) -> str:
    """A model's colour: its family's hue in a shade of its own (lighter or darker, a little
    warmer or cooler), derived from the two names alone, so a model keeps its colour in every
    chart, result set and run, and models of one family read as one group."""
    base = family_color(family)
    hue, lightness, saturation = colorsys.rgb_to_hls(*(int(base[i : i + 2], 16) / 255 for i in (1, 3, 5)))
    h = _hash(model, "shade")
    lightness = min(max(lightness + SHADE_LIGHTNESS[h % len(SHADE_LIGHTNESS)], 0.22), 0.74)
    hue = (hue + SHADE_HUE[(h >> 8) % len(SHADE_HUE)]) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def point_color(view: View, result: Result, level: str) -> str:
    """The colour of a cell: by family a model's own shade of its family's hue where the legend
    names models, the family's colour where it names families; else from the category's value."""
    if view.color == "family":
        family = result.model.family
        return model_color(family, result.model.name) if level == "model" else family_color(family)
    return category_color(category_value(result, view.color))


VARIANT_SEP = " · "  # precision = number format, then the engine and KV format where not default


def precision(result: Result) -> str:
    """The number format a cell ran at (its quantization if any, else its dtype), followed by
    its engine and KV cache format where they are not the defaults: "int4 · compiled · KV fp8".
    The marker symbol follows the number format alone; the symbol key names every variant."""
    s = result.setting
    number_format = s.quantization if s.quantization and s.quantization.lower() != "none" else s.dtype
    return VARIANT_SEP.join([number_format, *variant_parts(result)])


def category_value(result: Result, category: str) -> str:
    """The value of a colour/symbol/filter category for one result, as text."""
    s = result.setting
    values: dict[str, Any] = {
        "family": result.model.family,
        "model": result.model.name,
        "slug": result.model.slug,
        "suite": result.suite,
        "device": s.device,
        "device_kind": device_kind(result),
        "dtype": s.dtype,
        "quantization": s.quantization or "none",
        "engine": s.engine,
        "kv_cache": s.kv_cache,
        "precision": precision(result),
        "batch_size": s.batch_size,
        "prompt_tokens": s.prompt_tokens,
        "new_tokens": s.new_tokens,
        "method": result.method,
    }
    return str(values[category])


def without_variants(value: str) -> str:
    """A precision's number format alone: its engine and KV variants share its symbol and key."""
    return value.split(VARIANT_SEP)[0]


def symbol_for(value: str, *, three_d: bool, hollow: bool = False) -> str:
    """The marker symbol for a category value (a precision, say); hollow (estimated) where
    plotly has a hollow form of it."""
    value = without_variants(value)
    if three_d:
        symbol = SYMBOLS_3D.get(value.lower()) or _symbol_by_bits(value.lower())
        return f"{symbol}-open" if hollow and symbol in HOLLOW_3D else symbol
    index = KNOWN_SYMBOLS_2D.get(value.lower(), _hash(value, "symbol"))
    symbol = SYMBOLS_2D[index % len(SYMBOLS_2D)]
    return f"{symbol}-open" if hollow else symbol


def _symbol_by_bits(value: str) -> str:
    """The 3D shape of a precision the table does not know, by the bit count its name gives
    ("int2", "fp6"): 8 and up square, fewer diamond; no number: circle (a float dtype)."""
    digits = "".join(c if c.isdigit() else " " for c in value).split()
    if not digits:
        return "circle"
    return "square" if int(digits[0]) >= 8 else "diamond"


# --------------------------------------------------------------------------- selecting cells


@dataclass(frozen=True)
class Point:
    """One plotted cell: the result and its display values on the view's axes."""

    result: Result
    values: tuple[float, ...]
    expected: str = ""  # an estimate: its expected decode speed beside the bound (report.fit)
    frame: str = ""  # the hardware and method it belongs to (frame_of): cells of one frame compete


@dataclass
class ChartData:
    """What a view shows of a result set, and what it leaves out (and why)."""

    view: View
    metrics: tuple[Metric, ...]
    points: list[Point] = field(default_factory=list)
    context: list[Point] = field(default_factory=list)  # other models, drawn grey (highlight)
    failed: list[Result] = field(default_factory=list)  # status != ok: listed, never plotted
    missing: list[tuple[Result, str]] = field(default_factory=list)  # ok, no value: (result, metric label)
    device_kinds: tuple[str, ...] = ()

    @property
    def frames(self) -> list[str]:
        """The frames of the plotted cells: those holding the view's own cells (not only grey ones
        of other models, on a model's chart) first; among them measured (and imported) ones, then
        those with the most own cells, then by name."""
        own = Counter(p.frame for p in self.points)
        names = {p.frame for p in self.points + self.context}
        return sorted(names, key=lambda f: (not own[f], f.endswith("(estimated)"), -own[f], f))

    @property
    def models(self) -> list[str]:
        return sorted({p.result.model.name for p in self.points}, key=str.casefold)


def matches(view: View, result: Result) -> bool:
    """Whether a result passes the view's filter."""
    for key, allowed in view.filter.items():
        value = category_value(result, key)
        if value not in {str(a) if a is not None else "none" for a in allowed}:
            return False
    return True


# --------------------------------------------------------------------------- reuse within a build

_memo: dict[tuple[Any, ...], Any] | None = None


@contextlib.contextmanager
def reuse_figures() -> Iterator[None]:
    """Inside the block the same view of the same results (the same Result objects, in any
    order) is selected and drawn once: the report's pipeline draws a view for the chart pages,
    the site, the deck and the animation, and each gets a copy of one figure."""
    global _memo
    outer = _memo
    _memo = {} if outer is None else outer
    try:
        yield
    finally:
        _memo = outer


def _memo_key(kind: str, view: View, results: Iterable[Result], *rest: Any) -> tuple[Any, ...] | None:
    if _memo is None:
        return None
    return (kind, id(view), frozenset(map(id, results)), *rest)


def chart_data(
    view: View, results: Iterable[Result], *, highlight: str | None = None, only: str | None = None
) -> ChartData:
    """Select and measure the cells of a view. `only` keeps one model (by name); `highlight`
    keeps every model but draws the others grey."""
    results = results if isinstance(results, (list, tuple)) else list(results)
    key = _memo_key("data", view, results, highlight, only)
    if key is not None and _memo is not None:
        if key not in _memo:
            _memo[key] = _chart_data(view, results, highlight=highlight, only=only)
        return _memo[key]
    return _chart_data(view, results, highlight=highlight, only=only)


def _chart_data(
    view: View, results: Iterable[Result], *, highlight: str | None = None, only: str | None = None
) -> ChartData:
    # sorted, so the figure (and its HTML) does not depend on the order results came in
    chosen = sorted(
        (r for r in results if matches(view, r) and (only is None or r.model.name == only)), key=result_order
    )
    ok = [r for r in chosen if r.status == "ok"]
    metrics = tuple(axis.choose(ok) for axis in view.axes())
    expected = _expected_notes([r for r in ok if r.method == "estimated"], results)
    data = ChartData(view=view, metrics=metrics, failed=[r for r in chosen if r.status != "ok"])
    if highlight is not None:
        data.failed = [r for r in data.failed if r.model.name == highlight]
    for result in ok:
        values = []
        for axis, metric in zip(view.axes(), metrics, strict=True):
            value = metric.display(result)
            if value is None or not math.isfinite(value) or (axis.is_log(metric) and value <= 0):
                break
            values.append(value)
        point = (
            Point(result, tuple(values), expected.get(id(result), ""), frame_of(result))
            if len(values) == len(metrics)
            else None
        )
        is_context = highlight is not None and result.model.name != highlight
        if point is None:
            if not is_context:
                absent = metrics[len(values)]
                data.missing.append((result, absent.label))
        elif is_context:
            data.context.append(point)
        else:
            data.points.append(point)
    data.device_kinds = tuple(sorted({device_kind(p.result) for p in data.points + data.context}))
    return data


def frame_data(data: ChartData, frame: str | None) -> ChartData:
    """The part of a view's cells drawn in one frame (one hardware, one method): a static
    image per hardware. Failed and unplotted cells of other frames are left to their frames.
    None: every frame (the data as it is)."""
    if frame is None:
        return data
    points = [p for p in data.points if p.frame == frame]
    context = [p for p in data.context if p.frame == frame]
    return dataclasses.replace(
        data,
        points=points,
        context=context,
        failed=[r for r in data.failed if frame_of(r) == frame],
        missing=[(r, m) for r, m in data.missing if frame_of(r) == frame],
        device_kinds=tuple(sorted({device_kind(p.result) for p in points + context})),
    )


def static_frames(data: ChartData, mix: bool = False) -> list[str | None]:
    """The frames a view's static images draw: one image per frame (first the one the
    interactive chart opens on), or a single image of every frame mixed (None) where there is
    one frame or the user asked for mixing (`--mix`)."""
    frames = data.frames
    return [None] if mix or len(frames) < 2 else list(frames)


def _expected_notes(estimates: Sequence[Result], results: Iterable[Result]) -> dict[int, str]:
    """By id(result): an estimate's expected decode speed (the roofline bound x an efficiency, as
    the fit matrix counts it, report.fit) in a line for its hover."""
    if not estimates:
        return {}
    measured = measured_efficiencies(results)
    notes = {}
    for result in estimates:
        speed = speed_of(result, hardware_of(result), measured)
        if speed.label == "expected" and speed.efficiency is not None:
            notes[id(result)] = (
                f"expected {number(speed.tokens_per_s)} tok/s: the bound x {speed.efficiency:.0%} efficiency"
            )
        else:
            notes[id(result)] = "no efficiency known: the speed shown is an upper bound"
    return notes


def flat_data(data: ChartData) -> ChartData | None:
    """A 3D view whose cells take one value on some axis (one model's single cell, one batch
    size) drawn as a 2D chart instead: a scene with a flat or a point cloud says nothing. Kept
    are the axes the cells vary on, the vertical axis (the view's z, speed in the built-in
    views) first among equals, as the 2D y axis. None where the view is 2D or varies on all three."""
    view = data.view
    shown = data.points + data.context
    if not view.is_3d or not shown:
        return None
    varies = [len({p.values[i] for p in shown}) > 1 for i in range(3)]
    if all(varies):
        return None
    # z (index 2) first, then x, then y; the axes the cells vary on before the others
    a, b = sorted(sorted((2, 0, 1), key=lambda i: not varies[i])[:2], key=lambda i: i == 2)
    axes = view.axes()
    flat = view.model_copy(update={"x": axes[a], "y": axes[b], "z": None})

    def project(points: list[Point]) -> list[Point]:
        return [dataclasses.replace(p, values=(p.values[a], p.values[b])) for p in points]

    return ChartData(
        view=flat, metrics=(data.metrics[a], data.metrics[b]), points=project(data.points),
        context=project(data.context), failed=data.failed, missing=data.missing,
        device_kinds=data.device_kinds,
    )  # fmt: skip


# --------------------------------------------------------------------------- text


def axis_title(metric: Metric, kinds: Sequence[str], override: str | None = None) -> str:
    """The registry's title, named by device where the name depends on it (GPU memory vs RSS)."""
    if override:
        return override
    if metric.cpu_label and len(kinds) > 1:
        unit = f" ({metric.unit})" if metric.unit else ""
        return f"{metric.label} / {metric.cpu_label}{unit}"
    return metric.title(kinds[0] if kinds else None)


def hover_text(point: Point, metrics: Sequence[Metric]) -> str:
    """Model, every setting and the key metrics of one cell (escaped: names are untrusted)."""
    r = point.result
    e = escape
    lines = [f"<b>{e(r.model.name)}</b> · {e(r.model.family)}", e(setting_text(r))]
    kind = device_kind(r)
    shown = set()
    for metric, value in zip(metrics, point.values, strict=True):
        lines.append(f"{e(metric.title(kind).rsplit(' (', 1)[0])}: {e(metric_value(metric, value))}")
        shown.add(metric.id)
    extra = [METRICS[m] for m in KEY_METRICS if m not in shown]
    key = [
        f"{m.title(kind).rsplit(' (', 1)[0]}: {metric_value(m, m.display(r))}"
        for m in extra
        if m.display(r) is not None
    ]
    if key:
        lines.append(e(" · ".join(key[:2])))
        if len(key) > 2:
            lines.append(e(" · ".join(key[2:])))
    lines.append(f"{e(method_text(r))} · suite {e(r.suite)}")
    if point.expected:
        lines.append(e(point.expected))
    return "<br>".join(lines)


def note_text(data: ChartData) -> str:
    """What the chart leaves out, in a line under it (escaped): failed cells counted by status,
    cells without a value counted by metric. The chart's page lists each one (report.build)."""
    parts = []
    if data.failed:
        kinds = Counter(r.status for r in data.failed)
        summary = ", ".join(
            f"{n} {status}" for status, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        cells = "cell" if len(data.failed) == 1 else "cells"
        parts.append(f"{len(data.failed)} failed {cells} ({summary})")
    if data.missing:
        labels = Counter(label for _, label in data.missing)
        parts += [f"{n} without {label.lower()}" for label, n in sorted(labels.items())]
    return escape("Not plotted: " + "; ".join(parts)) if parts else ""


# --------------------------------------------------------------------------- traces


def legend_rows(data: ChartData, titles: bool = True) -> int:
    """Rows a per-model legend takes: the models, their family titles (`titles`), and the extra
    entries (other models grey, the Pareto front, each GPU's capacity)."""
    view = data.view
    groups = len({category_value(p.result, "family") for p in data.points}) if titles else 0
    return len(data.models) + groups + int(bool(data.context)) + int(view.pareto) + len(capacities(data))


COMPACT_ROW_PX = 20  # the pitch of a compact legend's rows, layout pixels (measured: about 19)


def legend_column_px(view: View, height: int = STATIC_HEIGHT, band_px: int = 0) -> int:
    """The height a static image `height` pixels tall gives its entry legend (the plot area's),
    `band_px` of its title band taken away (report.embed.untitled); default a titled 960x540."""
    bottom = 10 if view.is_3d else 90  # a 2D plot keeps room under it for the x axis title
    return height - (title_band_px(static=True) + 36 - band_px) - bottom


def legend_rows_lost(view: View, legend_px: int | None) -> int:
    """Rows a static legend loses where its column is `legend_px` high instead of a titled
    960x540 image's (a deck picture drawn for a shorter box): the thresholds come down by that."""
    if legend_px is None:
        return 0
    return max(0, math.ceil((legend_column_px(view) - legend_px) / COMPACT_ROW_PX))


def compact_legend(data: ChartData, static: bool, lost: int = 0) -> bool:
    """A static per-model legend too long for the usual font: drawn at COMPACT_LEGEND_PX without
    family titles (the hue says the family, and a model's name mostly does too)."""
    is_3d = data.view.is_3d
    return (
        static
        and legend_rows(data) > STATIC_LEGEND_ROWS[is_3d]
        and legend_rows(data, titles=False) <= COMPACT_LEGEND_ROWS[is_3d] - lost
    )


def legend_level(data: ChartData, static: bool, lost: int = 0) -> Literal["model", "family"]:
    """One entry per model where it fits (in a static image, past STATIC_LEGEND_ROWS rows, at a
    smaller font without family titles: compact_legend), else one per colour group (model names
    stay in hover)."""
    view = data.view
    if view.color not in ("family", "model"):
        return "family"
    if view.legend != "auto":
        return view.legend
    if static:
        fits = legend_rows(data) <= STATIC_LEGEND_ROWS[view.is_3d] - lost or compact_legend(
            data, static, lost
        )
        return "model" if fits else "family"
    return "model" if len(data.models) <= HTML_LEGEND_MODELS else "family"


def marker_size(view: View, count: int, static: bool) -> float:
    """Smaller markers as cells multiply, so a 1,000-cell chart is not one blot."""
    base = (8.0 if static else 6.5) if view.is_3d else (14.0 if static else 11.0)
    shrink = 1.0 - 0.12 * max(0.0, math.log10(max(count, 1)) - 1.0)
    return round(base * max(shrink, 0.6), 1)


def _marker_symbols(points: Sequence[Point], view: View) -> list[str]:
    three_d = view.is_3d
    return [
        symbol_for(
            category_value(p.result, view.symbol) if view.symbol else "circle",
            three_d=three_d,
            hollow=p.result.method == "estimated",
        )
        for p in points
    ]


def _xyz(points: Sequence[Point], dims: int) -> dict[str, list[float | None]]:
    return {axis: [p.values[i] for p in points] for i, axis in enumerate("xyz"[:dims])}


def _empty(dims: int) -> dict[str, list[None]]:
    return {axis: [None] for axis in "xyz"[:dims]}


def _trace_type(view: View) -> str:
    return "scatter3d" if view.is_3d else "scatter"


def _scatter(
    view: View, points: Sequence[Point], metrics: Sequence[Metric], static: bool, **style: Any
) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": _trace_type(view),
        "mode": "markers",
        **_xyz(points, len(metrics)),
        "showlegend": False,  # legend entries are separate traces: see legend_entry
    }
    if static:  # a picture has no hover: leaving the text out keeps the figure small to render
        trace["hoverinfo"] = "skip"
    else:
        trace["text"] = [hover_text(p, metrics) for p in points]
        trace["hovertemplate"] = "%{text}<extra></extra>"
    trace.update(style)
    return trace


def _marker(view: View, points: Sequence[Point], color: str, size: float) -> dict[str, Any]:
    symbols = _marker_symbols(points, view)
    marker: dict[str, Any] = {"color": color, "size": size, "symbol": symbols, "opacity": 0.9}
    if not view.is_3d:
        hollow = [s.endswith("-open") for s in symbols]
        marker["line"] = {
            "width": [2.0 if h else 0.7 for h in hollow],
            "color": [color if h else "white" for h in hollow],
        }
    return marker


def _short(name: str, static: bool) -> str:
    """A legend label: whole in HTML, cut on a static image so the plot keeps its width."""
    if not static or len(name) <= MAX_STATIC_LEGEND_CHARS:
        return name
    return name[: MAX_STATIC_LEGEND_CHARS - 1] + "…"


def legend_entry(
    view: View, dims: int, name: str, group: str, color: str, title: str | None = None
) -> dict[str, Any]:
    """A legend entry without data: a plain circle in the entry's colour (a data trace's own
    swatch would show its first point's symbol). Clicking it toggles its legend group."""
    trace: dict[str, Any] = {
        "type": _trace_type(view),
        "mode": "markers",
        **_empty(dims),
        "name": name,
        "legendgroup": group,
        "marker": {"color": color, "size": 10},  # circle: plotly's default symbol
        "showlegend": True,  # no data: nothing to hover
    }
    if title is not None:
        trace["legendgrouptitle"] = {"text": title}
    return trace


def model_traces(
    data: ChartData, level: str, static: bool, split: bool = False, titles: bool = True
) -> list[dict[str, Any]]:
    """The coloured traces: per model under a family title, or per colour group; each with its
    legend entry, sharing a legend group so a click shows or hides the model (or family)."""
    view = data.view
    dims = len(data.metrics)
    size = marker_size(view, len(data.points) + len(data.context), static)
    by_group: dict[str, dict[str, list[Point]]] = {}
    for point in data.points:
        group = category_value(point.result, view.color if level == "family" else "family")
        entry = group if level == "family" else point.result.model.name
        by_group.setdefault(group, {}).setdefault(entry, []).append(point)
    traces = []
    titled: set[tuple[str, str]] = set()  # (frame, family) whose title an entry carries already
    for group in sorted(by_group, key=str.casefold):
        entries = by_group[group]
        for entry in sorted(entries, key=str.casefold):
            points = entries[entry]
            color = point_color(view, points[0].result, level)
            legend_group = f"{level}:{entry}"
            # split: an entry per frame it shows in, so a frame's legend lists its own models only
            for frame, _ in _by_frame(points, split):
                first = (frame, group) not in titled
                titled.add((frame, group))
                title = (
                    f"<b>{escape(_short(group, static))}</b>"
                    if level == "model" and first and titles
                    else None
                )
                item = legend_entry(view, dims, escape(_short(entry, static)), legend_group, color, title)
                traces.append(_in_frames(item, [frame] if frame else []))
            for frame, framed in _by_frame(points, split):
                # another tool's figures get their own trace: a heavy outline, keyed in the symbol legend
                imported = [p for p in framed if p.result.method == "imported"]
                own = [p for p in framed if p.result.method != "imported"]
                for part in (own, imported):
                    if not part:
                        continue
                    marker = _marker(view, part, color, size)
                    if part is imported:
                        marker["line"] = {"width": IMPORTED_OUTLINE_WIDTH, "color": IMPORTED_OUTLINE}
                    trace = _scatter(
                        view,
                        part,
                        data.metrics,
                        static,
                        name=escape(entry),
                        legendgroup=legend_group,
                        marker=marker,
                    )
                    traces.append(_in_frames(trace, [frame] if frame else []))
    return traces


def _by_frame(points: Sequence[Point], split: bool) -> list[tuple[str, list[Point]]]:
    """Points split by frame where the chart gets a frame selector (interactive: it shows one
    frame at a time); otherwise one group, frame '' (a static image draws every frame)."""
    if not split:
        return [("", list(points))]
    frames: dict[str, list[Point]] = {}
    for point in points:
        frames.setdefault(point.frame, []).append(point)
    return sorted(frames.items())


def _in_frames(trace: dict[str, Any], frames: Sequence[str]) -> dict[str, Any]:
    """Mark a trace as drawn in these frames (none: in every frame)."""
    if frames:
        trace["meta"] = {"frames": list(frames)}
    return trace


def context_traces(
    data: ChartData, template: Template, static: bool, split: bool = False
) -> list[dict[str, Any]]:
    """Every other model in one grey trace, under the highlighted one, with its legend entry.
    A backdrop of more than MAX_CONTEXT_POINTS cells a frame is thinned to an even sample of
    them (a 5,000-cell set would make each model page megabytes); the legend says so, and the
    axes still span every cell."""
    if not data.context:
        return []
    grey = CONTEXT_GREY[template]
    size = marker_size(data.view, len(data.points) + len(data.context), static) * 0.8
    groups = [(frame, thinned(framed)) for frame, framed in _by_frame(data.context, split)]
    shown = sum(len(framed) for _, framed in groups)
    label = (
        "Other models"
        if shown == len(data.context)
        else f"Other models ({shown:,} of {len(data.context):,} cells)"
    )
    traces = [legend_entry(data.view, len(data.metrics), label, "context", grey)]
    for frame, framed in groups:
        marker = _marker(data.view, framed, grey, size)
        marker["opacity"] = 0.5
        trace = _scatter(
            data.view, framed, data.metrics, static, name="Other models", legendgroup="context", marker=marker
        )
        traces.append(_in_frames(trace, [frame] if frame else []))
    return traces


MAX_CONTEXT_POINTS = 400  # grey cells of other models drawn per frame on a model's chart


def thinned(points: Sequence[Point], limit: int = MAX_CONTEXT_POINTS) -> list[Point]:
    """About `limit` points: those holding the least and the most value on each axis (so the
    backdrop spans what all of them span), then an even sample in display order (deterministic)."""
    if len(points) <= limit:
        return list(points)
    ordered = sorted(points, key=lambda p: p.values)
    dims = range(len(ordered[0].values))
    ends = {id(f(ordered, key=lambda p, i=i: p.values[i])): None for i in dims for f in (min, max)}
    kept = [p for p in ordered if id(p) in ends]
    step = (len(ordered) - 1) / max(1, limit - len(kept) - 1)
    sample = {round(i * step) for i in range(limit - len(kept))}
    kept += [p for n, p in enumerate(ordered) if n in sample and id(p) not in ends]
    return sorted(kept, key=lambda p: p.values)


def symbol_key_traces(data: ChartData, template: Template) -> list[dict[str, Any]]:
    """A second, horizontal legend under the title that explains the symbols in one row: one
    grey entry per symbol naming the number formats it stands for (in 3D a shape per weight bit
    width, "4 bit: int4, nf4"), and hollow for estimates. Engine and KV variants share their
    format's symbol and are named in hover, which keeps the key to one row."""
    view = data.view
    shown = data.points + data.context
    if view.symbol is None or not shown:
        return []
    values = sorted(
        {without_variants(category_value(p.result, view.symbol)) for p in shown}, key=str.casefold
    )
    by_symbol: dict[str, list[str]] = {}
    for value in values:
        by_symbol.setdefault(symbol_for(value, three_d=view.is_3d), []).append(value)
    order = list(BITS_3D) if view.is_3d else list(by_symbol)
    keys = [
        (f"{BITS_3D[symbol]}: " if view.is_3d and view.symbol == "precision" else "")
        + ", ".join(by_symbol[symbol])
        for symbol in sorted(by_symbol, key=order.index)
    ]
    keys = list(zip(keys, sorted(by_symbol, key=order.index), strict=True))
    if any(p.result.method == "estimated" for p in shown):
        keys.append(("estimated", "circle-open"))
    tools = sorted({p.result.source.tool for p in shown if p.result.method == "imported" and p.result.source})
    if tools:
        keys.append((f"imported ({', '.join(tools)})", IMPORTED_KEY))
    color = SYMBOL_KEY_COLOR[template]
    traces = []
    for label, symbol in keys:
        marker: dict[str, Any] = {"color": color, "symbol": symbol, "size": 10}
        if symbol == IMPORTED_KEY:
            marker.update(symbol="circle", line={"width": IMPORTED_OUTLINE_WIDTH, "color": IMPORTED_OUTLINE})
        elif symbol.endswith("-open") and not view.is_3d:
            marker["line"] = {"width": 2, "color": color}
        traces.append({
            "type": _trace_type(view), "mode": "markers", **_empty(len(data.metrics)),
            "name": escape(label), "legend": "legend2", "marker": marker,
            "hoverinfo": "skip", "showlegend": True,
        })  # fmt: skip
    return traces


def symbol_key_title(view: View) -> str:
    """What the symbols stand for, as the key's title ("Precision")."""
    names = {"precision": "Precision", "dtype": "Dtype", "quantization": "Quantization"}
    return names.get(view.symbol or "", (view.symbol or "").replace("_", " ").capitalize())


def pareto_front(points: Sequence[Point], metrics: Sequence[Metric]) -> list[tuple[float, float]]:
    """The cells no other cell beats on both axes (measured cells; all if none were measured),
    in x order. Uses each metric's better direction from the registry."""
    measured = [p for p in points if p.result.method == "measured"] or list(points)
    sign = [1.0 if m.better == "lower" else -1.0 for m in metrics[:2]]
    ranked = sorted(measured, key=lambda p: (sign[0] * p.values[0], sign[1] * p.values[1]))
    front, best = [], math.inf
    for p in ranked:
        if sign[1] * p.values[1] < best:
            best = sign[1] * p.values[1]
            front.append((p.values[0], p.values[1]))
    return sorted(front)


def front_traces(data: ChartData, template: Template) -> list[dict[str, Any]]:
    """The Pareto front of each frame (hardware and method: cells of different machines, and
    measurements and estimates, do not compete) as a dashed line, where the view asks for it and
    both metrics have a better direction."""
    if not data.view.pareto or any(m.better is None for m in data.metrics[:2]):
        return []
    groups: dict[str, list[Point]] = {}
    for point in data.points + data.context:
        groups.setdefault(point.frame, []).append(point)
    traces = []
    for frame, points in sorted(groups.items()):
        front = pareto_front(points, data.metrics)
        if len(front) < 2:
            continue
        trace = {
            "type": "scatter",
            "mode": "lines",
            "x": [x for x, _ in front],
            "y": [y for _, y in front],
            "name": "Pareto front" if len(groups) == 1 else escape(f"Pareto front: {frame}"),
            "legendgroup": "front",
            "line": {"color": FRONT_COLOR[template], "width": 2, "dash": "dash"},
            "hoverinfo": "skip",
        }
        traces.append(_in_frames(trace, [frame]))
    return traces


def capacities(data: ChartData) -> dict[str, tuple[str, float, list[str]]]:
    """Where a view has memory on its x axis: each plotted GPU's usable memory (report.fit's
    figure) in display units, by hardware id: (its name, the value, the frames it shows in)."""
    if not data.metrics or data.metrics[0].id != "peak_memory":
        return {}
    usable: dict[str, tuple[str, int]] = {}
    frames: dict[str, set[str]] = {}
    for point in data.points + data.context:
        hw = hardware_of(point.result)
        if hw.kind == "gpu" and hw.usable_memory_bytes is not None:
            usable.setdefault(hw.id, (hw.name, hw.usable_memory_bytes))
            frames.setdefault(hw.id, set()).add(point.frame)
    scale = data.metrics[0].scale
    return {
        hw_id: (name, limit * scale, sorted(frames[hw_id])) for hw_id, (name, limit) in sorted(usable.items())
    }


def capacity_traces(data: ChartData, template: Template) -> list[dict[str, Any]]:
    """Each plotted GPU's usable memory where the view has memory on its x axis: a dotted line
    in 2D, a translucent plane (with a dotted outline, its legend entry) in 3D; the cells left
    of it fit that GPU."""
    points = data.points + data.context
    if not points:
        return []
    unit = data.metrics[0].unit
    traces = []
    found = capacities(data)
    for hw_id, (name, x, frames) in found.items():
        # one GPU (an image of one hardware): the title names it; several: a short name each
        short = name.removeprefix("NVIDIA ").removeprefix("GeForce ")
        label = {
            "name": escape(
                f"Usable memory: {x:.3g} {unit}" if len(found) == 1 else f"{short}: {x:.3g} {unit} usable"
            ),
            "legendgroup": f"capacity:{hw_id}",
            "hovertext": escape(f"{name}: {x:.3g} {unit} usable (memory less the reserve)"),
            "hoverinfo": "text",
            "meta": {"frames": frames},
        }
        line = {"color": NOTE_COLOR[template], "width": 1.5 if not data.view.is_3d else 3, "dash": "dot"}
        ys = [p.values[1] for p in points]
        if not data.view.is_3d:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": [x, x],
                    "y": [min(ys), max(ys)],
                    "line": line,
                    **label,
                }
            )
            continue
        zs = [p.values[2] for p in points]
        y0, y1, z0, z1 = min(ys), max(ys), min(zs), max(zs)
        outline = {"type": "scatter3d", "mode": "lines", "x": [x] * 5, "y": [y0, y1, y1, y0, y0],
                   "z": [z0, z0, z1, z1, z0], "line": line, **label}  # fmt: skip
        plane = {"type": "mesh3d", "x": [x] * 4, "y": [y0, y1, y1, y0], "z": [z0, z0, z1, z1],
                 "i": [0, 0], "j": [1, 2], "k": [2, 3], "color": NOTE_COLOR[template], "opacity": 0.12,
                 "flatshading": True, "showscale": False, "showlegend": False, "hoverinfo": "skip",
                 "legendgroup": label["legendgroup"], "meta": label["meta"]}  # fmt: skip
        traces += [plane, outline]
    return traces


# --------------------------------------------------------------------------- layout


@functools.cache
def _template_json(template: Template) -> str:
    import json

    import plotly.io as pio

    dark = template in ("dark", "presentation-dark")
    base = pio.templates["plotly_dark" if dark else "plotly_white"].to_plotly_json()
    layout = base["layout"]
    layout["font"] = {**layout.get("font", {}), "family": 'Arial, "Liberation Sans", Helvetica, sans-serif'}
    if template == "presentation-dark":  # the seed talk's look: the site's dark page colour
        layout["paper_bgcolor"] = layout["plot_bgcolor"] = DARK_BACKGROUND
        for axis in ("xaxis", "yaxis", "zaxis"):
            layout.setdefault("scene", {}).setdefault(axis, {})["backgroundcolor"] = DARK_BACKGROUND
    if template.startswith("presentation"):
        # plotly's "presentation" template is a font size; these keep 18 px (36 px in the PNG) and up
        layout["font"]["size"] = 18
        layout["title"] = {**layout.get("title", {}), "font": {"size": 26}}
        layout["legend"] = {"font": {"size": 18}, "grouptitlefont": {"size": 18}}
    else:
        layout["font"]["size"] = 13
    return json.dumps(base)


def template_dict(template: Template) -> dict[str, Any]:
    """A plotly template as a plain dict: plotly_white or plotly_dark with our fonts;
    "presentation" is the light one at slide font sizes (18 px and up), "presentation-dark" the
    dark one on the site's dark page colour."""
    import json

    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; known: {', '.join(TEMPLATES)}")
    return json.loads(_template_json(template))


LOG_STEPS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0))  # coarse to fine


def log_ticks(low: float, high: float, wide: float = 2.5) -> list[float]:
    """Where to label a log axis: every decade over `wide` decades or more, 1-2-5 over fewer,
    finer within a decade, and finer still until at least two labels show; labelled in full
    (plotly's own minor labels read "2", "5")."""
    decades = math.log10(high) - math.log10(low)
    start = 0 if decades >= wide else 1 if decades >= 0.7 else 2
    first, last = math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1
    lo, hi = low / 1.1, high * 1.1  # the axis's own padding shows a little beyond the data
    ticks: list[float] = []
    for steps in LOG_STEPS[start:]:
        ticks = [m * 10.0**e for e in range(first, last + 1) for m in steps if lo <= m * 10.0**e <= hi]
        if len(ticks) >= 2:
            break
    return ticks or [low, high]


def _tick_label(value: float) -> str:
    return count(value, space=False) if value >= 1000 else f"{value:.3g}"


SCENE_PAD = 0.04  # a 3D axis's range reaches this fraction of its span past the data
# The scene's box for a view's "frame" aspect: wide along x (the bottom edge at the slide camera),
# so at 16:9 the scene fills the width left of the legend as well as the height under the title.
FRAME_ASPECT = {"x": 1.7, "y": 1.0, "z": 0.95}
# A site's chart is about square where a static image is 16:9; at the same camera the wide box
# would be cut at the sides, so an interactive scene's camera stands this much further back.
SITE_STEP_BACK = 1.08
CORNER_CLEAR = 0.1  # no label on the first tenth of a 3D axis that meets another's labels there


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round values (a 1, 2 or 5 step) for a linear axis from low to high, about `target` of them."""
    if high <= low:
        return [low]
    raw = (high - low) / target
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(high / step + 1e-9) + 1)]


def _scene_axis_ticks(layout: dict[str, Any], values: Sequence[float], log: bool, corner: bool) -> None:
    """A 3D axis's range and labels, set here rather than left to plotly: the range hugs the
    data (the scene fills its frame) and, on the two axes whose labels meet at the front corner
    (x along the bottom, z up the side), the first tenth of the axis carries no label, so "0"
    and "10" never print over each other. A single value gets a range around it and one label."""
    lo, hi = min(values), max(values)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = hi - lo or (0.5 if log else abs(hi) * 0.2 or 1.0)
    low, high = lo - SCENE_PAD * span, hi + SCENE_PAD * span
    layout["range"] = [low, high]
    clear = low + (CORNER_CLEAR * (high - low) if corner and hi > lo else 0.0)
    if "tickvals" in layout:
        ticks = layout["tickvals"]
    elif log:
        ticks = log_ticks(10.0**lo, 10.0**hi, wide=1.5)
    else:
        ticks = nice_ticks(low, high)
    position = (lambda v: math.log10(v)) if log else (lambda v: v)  # noqa: E731
    kept = [v for v in ticks if clear <= position(v) <= high] or [10.0**lo if log else lo]
    labels = dict(zip(layout.get("tickvals", []), layout.get("ticktext", []), strict=True))
    layout["tickvals"] = kept
    layout["ticktext"] = [labels.get(v) or _tick_label(v) for v in kept]


def _axis_layout(view: View, data: ChartData, index: int, static: bool) -> dict[str, Any]:
    axis = view.axes()[index]
    metric = data.metrics[index]
    log = axis.is_log(metric)
    layout: dict[str, Any] = {
        "title": {"text": escape(axis_title(metric, data.device_kinds, axis.title))},
        "type": "log" if log else "linear",
        "exponentformat": "B",  # 10k, 1M, 1B
    }
    values = [p.values[index] for p in data.points + data.context]
    distinct = sorted(set(values))
    if metric.id in SETTING_METRICS and 0 < len(distinct) <= 8:
        # a setting takes a few values: label exactly those (batch 1 2 4 8, not 1 2 5 10)
        layout["tickvals"] = distinct
        layout["ticktext"] = [f"{v:g}" if v < 100_000 else count(v, space=False) for v in distinct]
    elif log and values:
        # a 3D axis seen at an angle has less room for labels than a 2D one
        layout["tickvals"] = log_ticks(min(values), max(values), wide=1.5 if view.is_3d else 2.5)
        layout["ticktext"] = [_tick_label(v) for v in layout["tickvals"]]
    if view.is_3d:
        layout["title"]["font"] = {"size": 18 if static else 13}
        layout["tickfont"] = {"size": 16 if static else 11}
        if values:
            if index == 0:  # a GPU's capacity plane stands inside the box
                values = values + [x for _, x, _ in capacities(data).values() if x > 0]
            _scene_axis_ticks(layout, values, log, corner=index == 2)
    else:
        layout["automargin"] = True
        layout["zeroline"] = False
        if static:
            layout["title"]["font"] = {"size": 20}
            layout["tickfont"] = {"size": 18}
    return layout


def _scene(view: View, data: ChartData, static: bool) -> dict[str, Any]:
    scene: dict[str, Any] = {f"{a}axis": _axis_layout(view, data, i, static) for i, a in enumerate("xyz")}
    scene["camera"] = view.camera_layout() if static else _stepped_back(view.camera_layout(), SITE_STEP_BACK)
    if isinstance(view.aspect, dict) or view.aspect == "frame":
        scene["aspectmode"] = "manual"
        scene["aspectratio"] = dict(view.aspect) if isinstance(view.aspect, dict) else dict(FRAME_ASPECT)
    else:
        scene["aspectmode"] = view.aspect
    scene["domain"] = {"x": [0.0, 0.74 if static else 0.78], "y": [0.0, 1.0]}
    return scene


def _stepped_back(camera: dict[str, Any], factor: float) -> dict[str, Any]:
    """The camera `factor` times as far from the point it looks at."""
    eye, center = camera.get("eye"), camera.get("center") or {"x": 0.0, "y": 0.0, "z": 0.0}
    if not eye:
        return camera
    moved = {k: round(center.get(k, 0.0) + factor * (eye[k] - center.get(k, 0.0)), 6) for k in "xyz"}
    return {**camera, "eye": moved}


def _legends(
    view: View, static: bool, key_top: float, height: float, compact: bool = False
) -> dict[str, Any]:
    """The entry legend at the right (outside a 2D plot, beside a 3D scene; `compact`: a smaller
    font for a long static one) and the symbol key as one row under the title, `key_top` pixels
    from the top."""
    main = {
        "groupclick": "togglegroup",
        "itemsizing": "constant",
        "tracegroupgap": 4 if static else 6,
        "yanchor": "top",
        "y": 1.0,
        "xanchor": "left",
        "x": (0.75 if static else 0.79) if view.is_3d else 1.02,
    }
    if static:  # a size under the template's 18 px: a long name's entry fits right of the scene
        size = COMPACT_LEGEND_PX if compact else LEGEND_PX
        main["font"] = main["grouptitlefont"] = {"size": size}
        if compact:
            main["tracegroupgap"] = 0
    key = {
        "orientation": "h",
        "yref": "container",  # right under the title, however tall the plot's margins are
        "xanchor": "left",
        "x": 0.0,
        "yanchor": "top",
        "y": 1.0 - key_top / height,
        "title": {"text": f"{escape(symbol_key_title(view))}:", "font": {"size": 16 if static else 12}},
        "font": {"size": 16 if static else 12},
        "itemclick": False,
        "itemdoubleclick": False,
        "bgcolor": "rgba(0,0,0,0)",
    }
    return {"legend": main, "legend2": key}


def _note(data: ChartData, template: Template, static: bool) -> dict[str, Any] | None:
    text = note_text(data)
    if not text:
        return None
    below_axis = 0 if data.view.is_3d else (78 if static else 58)  # under the x axis title
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.0,
        "y": 0.0,
        "xanchor": "left",
        "yanchor": "top",
        "yshift": -below_axis - 4,
        "showarrow": False,
        "align": "left",
        "font": {"size": 13 if static else 12, "color": NOTE_COLOR[template]},
    }


def _title(view: View, subject: str | None, static: bool) -> dict[str, Any]:
    """The view's title; on a model's chart the model's name, with the view as the subtitle."""
    title: dict[str, Any] = {"x": 0.01, "xanchor": "left", "y": 1.0, "yanchor": "top", "yref": "container",
                             "pad": {"t": 14 if static else 10}}  # fmt: skip
    if subject is None:
        title["text"] = escape(view.title)
        return title
    name = subject if len(subject) <= MAX_TITLE_CHARS else subject[: MAX_TITLE_CHARS - 1] + "…"
    title["text"] = escape(name)
    title["subtitle"] = {"text": escape(view.title), "font": {"size": 17 if static else 13}}
    return title


def title_band_px(static: bool, subject: bool = False) -> int:
    """Pixels at the top of a figure's layout that its title (and a model's subtitle) take."""
    return (62 if static else 50) + ((24 if static else 18) if subject else 0)


def figure_layout(
    data: ChartData, template: Template, static: bool, subject: str | None, lost: int = 0
) -> dict[str, Any]:
    """Title, axes or scene, legends, note, margins and size; no figure data."""
    view = data.view
    note = _note(data, template, static)
    note_px = (note["text"].count("<br>") + 1) * (19 if static else 17) + 8 if note else 0
    has_key = view.symbol is not None and bool(data.points or data.context)
    title_px = title_band_px(static, subject is not None)
    top = title_px + (36 if has_key else 0)
    height = STATIC_HEIGHT if static else (480 if view.is_3d else 560)
    key_top = title_px - 6
    layout: dict[str, Any] = {
        "template": template_dict(template),
        "title": _title(view, subject, static),
        **_legends(view, static, key_top, height, compact_legend(data, static, lost)),
        "margin": {"l": 10 if view.is_3d else 20, "r": 10, "t": top, "b": 10 + note_px},
        "hoverlabel": {"align": "left"},
        "showlegend": True,
    }  # fmt: skip
    if not static:
        layout["height"] = height
    if view.is_3d:
        layout["scene"] = _scene(view, data, static)
    else:
        layout["xaxis"] = _axis_layout(view, data, 0, static)
        layout["yaxis"] = _axis_layout(view, data, 1, static)
        layout["margin"]["b"] = (80 if static else 60) + note_px
    annotations = [note] if note else []
    if not data.points and not data.context:
        # nothing to draw: no empty scene or axes, just say so
        layout.pop("scene", None)
        layout["xaxis"] = {"visible": False}
        layout["yaxis"] = {"visible": False}
        empty = {"text": "No cells to show", "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                 "showarrow": False, "font": {"size": 20, "color": NOTE_COLOR[template]}}  # fmt: skip
        annotations.append(empty)
    if annotations:
        layout["annotations"] = annotations
    return layout


# --------------------------------------------------------------------------- figures


def figure_spec(
    view: View,
    results: Iterable[Result],
    template: Template = "light",
    *,
    static: bool = False,
    highlight: str | None = None,
    only: str | None = None,
    data: ChartData | None = None,
    frames: bool = True,
    frame: str | None = None,
    mix: bool = False,
    legend_px: int | None = None,
) -> dict[str, Any]:
    """A view of the results as a plotly figure dict (unvalidated: fast). `static` sizes text
    and legend for a 960x540 image (`legend_px`: the height its legend column will have when
    the picture is drawn shorter, report.embed.untitled; default that of a titled 960x540); `highlight`/`only` take a model name (model pages);
    `frame` draws one frame (hardware and method, frame_of) alone; otherwise an interactive
    chart gets a selector that opens on the first frame (on every frame mixed under `mix`), and
    `frames=False` or `static` draws every frame at once without it. The dict is the caller's
    to change (inside reuse_figures, a copy of the one drawn)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; known: {', '.join(TEMPLATES)}")
    results = results if isinstance(results, (list, tuple)) else list(results)
    split = frames and not static and frame is None
    lost = legend_rows_lost(view, legend_px) if static else 0
    args = (template, static, highlight, only, split, frame, mix and split, lost)
    key = _memo_key("spec", view, results, *args)
    if key is not None and _memo is not None:
        if key not in _memo:
            spec = _figure_spec(view, results, *args, data)
            _memo[key] = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.loads(_memo[key])  # a copy: several times faster than deepcopy for plain data
    return _figure_spec(view, results, *args, data)


def _figure_spec(
    view: View,
    results: Iterable[Result],
    template: Template,
    static: bool,
    highlight: str | None,
    only: str | None,
    split: bool,
    frame: str | None,
    mix: bool,
    lost: int,
    data: ChartData | None,
) -> dict[str, Any]:
    if data is None:
        data = chart_data(view, results, highlight=highlight, only=only)
    data = frame_data(data, frame)
    data = flat_data(data) or data
    level = legend_level(data, static, lost)
    subject = highlight or only
    titles = not compact_legend(data, static, lost)
    traces = context_traces(data, template, static, split) + model_traces(data, level, static, split, titles)
    traces += front_traces(data, template)
    traces += capacity_traces(data, template)
    traces += symbol_key_traces(data, template)
    layout = figure_layout(data, template, static, subject, lost)
    if split:
        frame_selector(traces, layout, data.frames, mix=mix, axes=frame_axes(data, static))
    else:
        for trace in traces:
            trace.pop("meta", None)
    return {"data": traces, "layout": layout}


ALL_FRAMES = "all, mixed"


def frame_axes(data: ChartData, static: bool) -> dict[str, dict[str, Any]]:
    """Per choice of the frame selector (each frame, and all mixed), the axes fitted to its
    cells, as layout updates: a CPU's cells are not drawn in a corner of an 80 GiB GPU's range,
    and each frame's memory axis names its device's memory."""
    if len(data.frames) < 2:
        return {}
    view = data.view
    names = [f"scene.{a}axis" for a in "xyz"] if view.is_3d else ["xaxis", "yaxis"]

    def fitted(part: ChartData) -> dict[str, Any]:  # what differs between frames: range, ticks, title
        update: dict[str, Any] = {}
        for i, name in enumerate(names):
            axis = _axis_layout(view, part, i, static)
            update[f"{name}.title.text"] = axis["title"]["text"]
            for key in ("range", "tickvals", "ticktext"):
                update[f"{name}.{key}"] = axis.get(key)  # None: plotly's own (autorange, auto ticks)
            if "range" not in axis:
                update[f"{name}.autorange"] = True
        return update

    choices = {frame: fitted(frame_data(data, frame)) for frame in data.frames}
    choices[ALL_FRAMES] = fitted(data)
    return choices


def frame_selector(
    traces: list[dict[str, Any]],
    layout: dict[str, Any],
    frames: Sequence[str],
    *,
    mix: bool = False,
    axes: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Where cells of several frames (hardware and method) are plotted, show the first frame
    (every frame mixed under `mix`) and add a dropdown that shows another one, or all mixed;
    `axes` gives each choice its axes (ranges, ticks and titles fitted to its cells)."""
    if len(frames) < 2:
        for trace in traces:
            trace.pop("meta", None)
        return

    def visible(frame: str) -> list[bool]:
        return [frame == ALL_FRAMES or frame in t.get("meta", {}).get("frames", [frame]) for t in traces]

    choices = [*frames, ALL_FRAMES]
    start = len(frames) if mix else 0
    axes = axes or {}
    buttons = [
        {
            "label": escape(frame),
            "method": "update",
            "args": [{"visible": visible(frame)}, axes.get(frame, {})],
        }
        for frame in choices
    ]
    for trace, shown in zip(traces, visible(choices[start]), strict=True):
        trace.pop("meta", None)  # the buttons hold each frame's visibility: no need to ship it
        if not shown:
            trace["visible"] = False
    for key, value in axes.get(choices[start], {}).items():  # "scene.xaxis.range" -> layout[...][...][...]
        *owners, name = key.split(".")
        target = layout
        for owner in owners:
            target = target.setdefault(owner, {})
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    layout["updatemenus"] = [
        {"type": "dropdown", "buttons": buttons, "active": start, "x": 0.0, "xanchor": "left", "y": 1.0,
         "yanchor": "bottom", "showactive": True, "pad": {"b": 4}}
    ]  # fmt: skip


def build_figure(
    view: View | str, results: Iterable[Result], template: Template = "light", **options: Any
) -> Any:
    """A view (or a view name from VIEWS) of the results as a plotly Figure; options as for
    figure_spec. Embed it with `fig.to_html(full_html=False, include_plotlyjs=False, div_id=...)`."""
    import plotly.graph_objects as go

    if isinstance(view, str):
        view = VIEWS[view]
    return go.Figure(figure_spec(view, list(results), template, **options), skip_invalid=False)


def model_views(views: Mapping[str, View] | None = None) -> list[View]:
    """The views drawn on a model's page, in file order."""
    return [v for v in (views or VIEWS).values() if v.per_model != "none"]


def model_figure_specs(
    results: Sequence[Result],
    template: Template = "light",
    *,
    context: Sequence[Result] | None = None,
    views: Mapping[str, View] | None = None,
    static: bool = False,
) -> dict[str, dict[str, Any]]:
    """view name -> figure dict for one model's page. `results` are that model's cells (one
    model name); `context` (all results) lets "highlight" views draw the other models grey."""
    if not results:
        return {}
    name = results[0].model.name
    pool = list(context) if context is not None else list(results)
    specs = {}
    for view in model_views(views):
        if view.per_model == "highlight":
            specs[view.name] = figure_spec(view, pool, template, static=static, highlight=name)
        else:
            specs[view.name] = figure_spec(view, results, template, static=static, only=name)
    return specs


def model_figures(
    results: Sequence[Result],
    template: Template = "light",
    *,
    context: Sequence[Result] | None = None,
    views: Mapping[str, View] | None = None,
) -> dict[str, Any]:
    """view title -> plotly Figure for one model's page (see model_figure_specs)."""
    import plotly.graph_objects as go

    chosen = {v.name: v for v in model_views(views)}
    specs = model_figure_specs(results, template, context=context, views=views)
    return {chosen[name].title: go.Figure(spec) for name, spec in specs.items()}
