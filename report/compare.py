"""Compare two result sets: ratios candidate / base with bootstrap confidence intervals.

Cells are matched by model name, setting (dtype, quantization, engine and KV cache where the
results have them, batch, prompt and new tokens) and hardware; the suite and the file names do
not matter. For each matched pair and each compared metric the ratio is statistic(candidate) /
statistic(base), where the statistic is the median of the raw repeat values each result keeps:
decode tokens/s per repeat (batch / that repeat's per-token latency) and prefill latency per
repeat. Its 95 % interval is a percentile bootstrap: both sides' values are resampled with
replacement (RESAMPLES times, a fixed seed, so a rerun prints the same interval) and the ratio of
the resampled medians is taken each time. Peak memory is one value per cell (a peak, not a
repeated timing): it has a ratio but no interval and is judged by the threshold alone.

A change is a regression or an improvement only when the ratio is beyond the threshold (worse
or better by more than that factor) AND the interval excludes 1; otherwise it is "same" (within
the threshold) or "unclear" (beyond it, but the interval includes 1). The interval covers the
spread between repeats inside each run, not a shift of a whole run (a shared machine's load
slows every repeat of a cell alike).
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.schema import METRICS, Metric, Result, peak_memory_bytes
from report.text import hardware_name

COMPARE_SCHEMA = "gpuscape.compare/1"  # another gpuscape document: load_results skips it
DEFAULT_THRESHOLD = 1.10
RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95

Verdict = Literal["regression", "improvement", "unclear", "same"]


@dataclass(frozen=True)
class Compared:
    """How one metric is compared: the registry's metric and the raw per-repeat values."""

    metric: Metric
    values: Callable[[Result], list[float] | None]  # None: the result has none


def _decode_tokens_per_s(result: Result) -> list[float] | None:
    stats = result.metrics.decode.per_token_s
    if stats is None:
        return None
    return [result.setting.batch_size / v for v in stats.values if v > 0] or None


def _prefill_latency_s(result: Result) -> list[float] | None:
    stats = result.metrics.prefill.latency_s
    return list(stats.values) if stats is not None else None


def _peak_memory(result: Result) -> list[float] | None:
    value = peak_memory_bytes(result)
    return [float(value)] if value else None


COMPARED: tuple[Compared, ...] = (
    Compared(METRICS["decode_tokens_per_s"], _decode_tokens_per_s),
    Compared(METRICS["prefill_latency"], _prefill_latency_s),
    Compared(METRICS["peak_memory"], _peak_memory),
)


# --------------------------------------------------------------------------- matching


def cell_key(result: Result) -> tuple[Any, ...]:
    """What makes two results the same cell: model, setting and hardware (not suite or file)."""
    s = result.setting
    return (
        result.model.name,
        s.dtype,
        s.quantization or "none",
        getattr(s, "engine", None) or "",
        getattr(s, "kv_cache", None) or "",
        s.batch_size,
        s.prompt_tokens,
        s.new_tokens,
        hardware_name(result),
    )


def cell_label(result: Result) -> str:
    s = result.setting
    parts = [s.dtype]
    if s.quantization and s.quantization != "none":
        parts.append(s.quantization)
    for extra in ("engine", "kv_cache"):
        value = getattr(s, extra, None)
        if value and value not in ("eager", "model"):
            parts.append(f"{extra.replace('_', ' ')} {value}")
    parts += [f"batch {s.batch_size}", f"prompt {s.prompt_tokens}", f"new {s.new_tokens}"]
    return " · ".join(str(p) for p in parts)


@dataclass(frozen=True)
class CellRef:
    """A cell as the comparison names it (also in the JSON file)."""

    model: str
    setting: str
    hardware: str
    method: str
    status: str

    @classmethod
    def of(cls, result: Result) -> CellRef:
        return cls(result.model.name, cell_label(result), hardware_name(result), result.method, result.status)


# --------------------------------------------------------------------------- statistics


def bootstrap_ratio_interval(
    base: Sequence[float], candidate: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float] | None:
    """95 % percentile-bootstrap interval of median(candidate) / median(base); None with one value
    on either side (nothing to resample)."""
    if len(base) < 2 or len(candidate) < 2:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        b = statistics.median(rng.choices(base, k=len(base)))
        c = statistics.median(rng.choices(candidate, k=len(candidate)))
        if b > 0:
            ratios.append(c / b)
    if not ratios:
        return None
    ratios.sort()
    tail = (1 - CONFIDENCE) / 2
    return _quantile(ratios, tail), _quantile(ratios, 1 - tail)


def _quantile(ordered: Sequence[float], q: float) -> float:
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def verdict(
    ratio: float, interval: tuple[float, float] | None, better: str, threshold: float, *, needs_interval: bool
) -> Verdict:
    """Regression / improvement only beyond the threshold and with an interval that excludes 1."""
    worse = ratio < 1 / threshold if better == "higher" else ratio > threshold
    better_by = ratio > threshold if better == "higher" else ratio < 1 / threshold
    if not (worse or better_by):
        return "same"
    if interval is None:
        if needs_interval:
            return "unclear"
    elif interval[0] <= 1 <= interval[1]:
        return "unclear"
    return "regression" if worse else "improvement"


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Row:
    """One metric of one matched cell."""

    model: str
    setting: str
    hardware: str
    metric: str  # metric id
    label: str  # metric title with unit
    better: str
    base: float  # the side's statistic, in display units
    candidate: float
    ratio: float  # candidate / base
    low: float | None  # 95 % interval of the ratio
    high: float | None
    n_base: int
    n_candidate: int
    verdict: Verdict

    @property
    def worseness(self) -> float:
        """How much worse the candidate is (> 1 worse), to sort worst first."""
        return 1 / self.ratio if self.better == "higher" else self.ratio


@dataclass
class Comparison:
    base: str
    candidate: str
    threshold: float
    rows: list[Row] = field(default_factory=list)
    only_base: list[CellRef] = field(default_factory=list)
    only_candidate: list[CellRef] = field(default_factory=list)
    failed: list[tuple[str, CellRef]] = field(default_factory=list)  # (side, cell) failed or estimated
    duplicates: list[tuple[str, CellRef]] = field(default_factory=list)  # same cell twice on one side

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "regression"]

    @property
    def improvements(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "improvement"]

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in ("regression", "improvement", "unclear", "same")}
        for row in self.rows:
            out[row.verdict] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": COMPARE_SCHEMA,
            "base": self.base,
            "candidate": self.candidate,
            "threshold": self.threshold,
            "method": {
                "statistic": "median of the raw repeat values",
                "interval": f"{CONFIDENCE:.0%} percentile bootstrap of the ratio of medians",
                "resamples": RESAMPLES,
                "seed": SEED,
                "memory": "one value per cell: ratio only, judged by the threshold alone",
            },
            "counts": self.counts(),
            "rows": [asdict(r) for r in self.rows],
            "only_base": [asdict(c) for c in self.only_base],
            "only_candidate": [asdict(c) for c in self.only_candidate],
            "failed": [{"side": side, **asdict(c)} for side, c in self.failed],
            "duplicates": [{"side": side, **asdict(c)} for side, c in self.duplicates],
        }


def _index(results: Iterable[Result], side: str, comparison: Comparison) -> dict[tuple[Any, ...], Result]:
    cells: dict[tuple[Any, ...], Result] = {}
    for result in results:
        if result.status != "ok" or result.method == "estimated":  # estimates have no repeats to compare
            comparison.failed.append((side, CellRef.of(result)))
            continue
        key = cell_key(result)
        if key in cells:
            comparison.duplicates.append((side, CellRef.of(result)))
            continue
        cells[key] = result
    return cells


def compare(
    base: Iterable[Result],
    candidate: Iterable[Result],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    base_name: str = "base",
    candidate_name: str = "candidate",
) -> Comparison:
    """Match cells and compare each metric; rows sorted worst first (regressions at the top)."""
    if not threshold > 1:
        raise ValueError(f"threshold {threshold}: must be above 1 (1.10 means 10 %)")
    comparison = Comparison(base_name, candidate_name, threshold)
    base_cells = _index(base, "base", comparison)
    cand_cells = _index(candidate, "candidate", comparison)
    comparison.only_base = [CellRef.of(r) for k, r in base_cells.items() if k not in cand_cells]
    comparison.only_candidate = [CellRef.of(r) for k, r in cand_cells.items() if k not in base_cells]
    for key, b in base_cells.items():
        c = cand_cells.get(key)
        if c is None:
            continue
        ref = CellRef.of(b)
        for compared in COMPARED:
            row = _row(ref, compared, b, c, threshold)
            if row is not None:
                comparison.rows.append(row)
    order = {"regression": 0, "unclear": 1, "same": 2, "improvement": 3}
    comparison.rows.sort(key=lambda r: (order[r.verdict], -r.worseness, r.model, r.setting, r.metric))
    return comparison


def _row(ref: CellRef, compared: Compared, base: Result, candidate: Result, threshold: float) -> Row | None:
    b, c = compared.values(base), compared.values(candidate)
    if not b or not c:
        return None
    b_stat, c_stat = statistics.median(b), statistics.median(c)
    if b_stat <= 0:
        return None
    ratio = c_stat / b_stat
    metric = compared.metric
    timed = metric.id != "peak_memory"
    interval = bootstrap_ratio_interval(b, c) if timed else None
    kind = "cpu" if base.setting.device.startswith("cpu") else "gpu"
    return Row(
        model=ref.model,
        setting=ref.setting,
        hardware=ref.hardware,
        metric=metric.id,
        label=metric.title(kind),
        better=metric.better or "higher",
        base=b_stat * metric.scale,
        candidate=c_stat * metric.scale,
        ratio=ratio,
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
        n_base=len(b),
        n_candidate=len(c),
        verdict=verdict(ratio, interval, metric.better or "higher", threshold, needs_interval=timed),
    )


# --------------------------------------------------------------------------- outputs


def _num(value: float) -> str:
    return f"{value:.4g}"


def format_table(comparison: Comparison) -> str:
    """The terminal table, worst first, then the unmatched and failed cells."""
    header = ("model", "setting", "hardware", "metric", "base", "candidate", "ratio", "95% CI", "verdict")
    lines = [header]
    for r in comparison.rows:
        interval = (
            f"[{r.low:.3f}, {r.high:.3f}]" if r.low is not None and r.high is not None else "n/a (one value)"
        )
        lines.append(
            (
                r.model,
                r.setting,
                r.hardware,
                r.label,
                _num(r.base),
                _num(r.candidate),
                f"{r.ratio:.3f}",
                interval,
                r.verdict,
            )
        )
    widths = [min(48, max(len(_safe(row[i])) for row in lines)) for i in range(len(header))]
    out = [
        "  ".join(_safe(cell)[:w].ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in lines
    ]
    counts = comparison.counts()
    out.append("")
    out.append(
        f"{counts['regression']} regression(s), {counts['improvement']} improvement(s), {counts['unclear']} unclear, "
        f"{counts['same']} within {comparison.threshold:g}x (threshold {comparison.threshold:g}, "
        f"{CONFIDENCE:.0%} bootstrap interval of the median ratio, seed {SEED})"
    )
    for title, cells in (
        (f"only in {comparison.base}", comparison.only_base),
        (f"only in {comparison.candidate}", comparison.only_candidate),
    ):
        if cells:
            out.append(f"{title}: {len(cells)} cell(s)")
            out += [f"  {_safe(c.model)} · {_safe(c.setting)} · {_safe(c.hardware)}" for c in cells]
    for side, c in comparison.failed:
        why = c.status if c.status != "ok" else c.method
        out.append(f"not compared ({side}: {why}): {_safe(c.model)} · {_safe(c.setting)}")
    for side, c in comparison.duplicates:
        out.append(f"ignored ({side}: the same cell twice): {_safe(c.model)} · {_safe(c.setting)}")
    return "\n".join(out)


def _safe(text: str) -> str:
    """Untrusted names print as one line without control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def write_json(comparison: Comparison, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "compare.json"
    path.write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    return path


_COLOURS = {"regression": "#d62728", "improvement": "#2ca02c", "unclear": "#ff7f0e", "same": "#7f7f7f"}


def figure(comparison: Comparison):  # -> plotly.graph_objects.Figure
    """Ratios with their intervals per model and setting, one panel per metric, log x axis."""
    from html import escape

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    metric_ids = [c.metric.id for c in COMPARED if any(r.metric == c.metric.id for r in comparison.rows)]
    titles = [next(r.label for r in comparison.rows if r.metric == m) for m in metric_ids] or [
        "(no matched cells)"
    ]
    # one panel per metric, stacked: the cell labels are long, so each panel gets the full width
    fig = make_subplots(rows=max(1, len(metric_ids)), cols=1, subplot_titles=titles, vertical_spacing=0.12)
    seen: set[str] = set()
    labels = sorted({f"{r.model} · {r.setting}" for r in comparison.rows})
    for row, metric_id in enumerate(metric_ids, start=1):
        for verdict_name in ("regression", "unclear", "same", "improvement"):
            rows = [r for r in comparison.rows if r.metric == metric_id and r.verdict == verdict_name]
            if not rows:
                continue
            plus = [(r.high - r.ratio) if r.high is not None else 0 for r in rows]
            minus = [(r.ratio - r.low) if r.low is not None else 0 for r in rows]
            fig.add_trace(
                go.Scatter(
                    x=[r.ratio for r in rows],
                    y=[escape(f"{r.model} · {r.setting}") for r in rows],
                    mode="markers",
                    marker={"color": _COLOURS[verdict_name], "size": 9},
                    error_x={"type": "data", "array": plus, "arrayminus": minus, "visible": True},
                    name=verdict_name,
                    legendgroup=verdict_name,
                    showlegend=verdict_name not in seen,
                    hovertext=[
                        escape(f"{r.model} · {r.setting} · {r.hardware}: {r.ratio:.3f}")
                        + (f" [{r.low:.3f}, {r.high:.3f}]" if r.low is not None else "")
                        for r in rows
                    ],
                    hoverinfo="text",
                ),
                row=row,
                col=1,
            )
            seen.add(verdict_name)
        # the band within the threshold: changes inside it are "same" whatever their interval
        fig.add_vrect(
            x0=1 / comparison.threshold,
            x1=comparison.threshold,
            fillcolor="#888",
            opacity=0.12,
            line_width=0,
            layer="below",
            row=row,
            col=1,
        )
        fig.add_vline(x=1, line_dash="dot", line_color="#444", row=row, col=1)
        fig.update_xaxes(type="log", row=row, col=1)
    if metric_ids:
        fig.update_xaxes(title_text="candidate / base (log)", row=len(metric_ids), col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=[escape(label) for label in labels])
    panels = max(1, len(metric_ids))
    fig.update_layout(
        height=120 + panels * (70 + 26 * max(1, len(labels))),
        margin={"l": 20, "r": 20, "t": 90, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        title={"text": "candidate / base per cell, with 95 % intervals", "font": {"size": 14}},
    )
    return fig


COMPARE_PAGE = "compare.md"  # the site's page name (report.build's site step, --compare)


def compare_page(comparison: Comparison, fig: Any = None, templates: Path | None = None) -> str:
    """The Compare page with its chart (`fig`, default: figure(comparison)), embedded as every
    chart of the site is (report.embed: no plotly.js, the page head loads it once; a fixed div
    id, so a rebuild gives the same page; the data kept exact)."""
    from report.embed import embed

    chart = embed(fig if fig is not None else figure(comparison), "chart-compare", lean=False)
    return render_page(comparison, chart, templates)


def render_page(comparison: Comparison, chart_html: str = "", templates: Path | None = None) -> str:
    """The site's Compare page (Markdown with HTML) from compare.md.j2 (report/defaults/templates/site/,
    or templates/site/ in the working folder)."""
    from markupsafe import Markup

    from report.site import template_env

    env = template_env(templates)
    return env.get_template("compare.md.j2").render(
        comparison=comparison,
        counts=comparison.counts(),
        chart_html=Markup(chart_html),  # plotly's own to_html; every name in it was escaped
        confidence=CONFIDENCE,
        resamples=RESAMPLES,
        seed=SEED,
    )
