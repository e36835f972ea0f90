"""The MkDocs-Material site: results -> build/docs/*.md (jinja2, autoescape) -> mkdocs build --strict.

`build_site(results, out_dir)` renders one page per model (how it works, its configuration,
its measurements, the user's notes from site/models/<slug>.md), a home page (what was
measured, the landscape, findings, links to every model) and a methodology page (the metric
registry's descriptions, protocol, environments, links to the raw JSON the site ships), writes
<out_dir>/mkdocs.yml from the repository's mkdocs.yml and builds <out_dir>/site.

Every name and config string is untrusted: templates escape it for HTML and, where Markdown
reads it, for Markdown too (the `md` filter). Hand-written pages from site/ are trusted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup, escape

from bench.schema import METRICS, SCHEMA_ID, Metric, Result, device_kind, slugify
from report.explain import Explanation, Part, explain, human_count
from report.findings import HardwareFindings, findings, hardware_name

log = logging.getLogger(__name__)


def _repo_root() -> Path:
    """The checkout holding mkdocs.yml: this package's parent (editable install) or the cwd."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "mkdocs.yml").is_file() else Path.cwd()


REPO_ROOT = _repo_root()
TEMPLATES_DIR = REPO_ROOT / "templates" / "site"
SITE_SOURCES = REPO_ROOT / "site"
MKDOCS_BASE = REPO_ROOT / "mkdocs.yml"

PLOTLY_JS = "javascripts/plotly.min.js"  # inside the docs tree; overrides/main.html loads it
RAW_DIR = "raw"
MODELS_DIR = "models"
RESERVED_SLUGS = frozenset({"index", "readme"})  # MkDocs would treat these as section indexes
MAX_TABLE_ROWS = 300  # per hardware table on a model page; the rest stay in the raw JSON
MAX_PARETO_ROWS = 12
MAX_HOME_FAILED = 100  # failed cells listed under the landscape; model pages list all of theirs
MAX_CONFIG_VALUE_CHARS = 160
# Config keys every transformers model carries whatever its architecture (PretrainedConfig's own,
# in 5.x and 4.x, and the generation defaults 4.x kept there): shown folded under the model's own.
GENERIC_CONFIG_KEYS = frozenset(
    """_name_or_path architectures chunk_size_feed_forward dtype torch_dtype id2label label2id
    is_encoder_decoder output_attentions output_hidden_states problem_type return_dict
    transformers_version use_cache pad_token_id bos_token_id eos_token_id sep_token_id
    decoder_start_token_id torchscript tie_encoder_decoder is_decoder add_cross_attention
    cross_attention_hidden_size pruned_heads finetuning_task tokenizer_class prefix
    task_specific_params tf_legacy_loss use_bfloat16 return_dict_in_generate output_scores
    max_length min_length do_sample early_stopping num_beams num_beam_groups diversity_penalty
    temperature top_k top_p typical_p repetition_penalty length_penalty no_repeat_ngram_size
    encoder_no_repeat_ngram_size bad_words_ids num_return_sequences forced_bos_token_id
    forced_eos_token_id remove_invalid_values exponential_decay_length_penalty suppress_tokens
    begin_suppress_tokens""".split()
)
# Columns of a model's measurement table, in order; a column shows only where some cell has it.
TABLE_METRICS = ("decode_tokens_per_s", "prefill_latency", "e2e_latency", "peak_memory", "joules_per_token")
CHART_SIG_DIGITS = 4
HOME_VIEW = "landscape"  # report/views.yaml
HOVER_TEXT_ONLY = "%{text}<extra></extra>"  # report.charts' hover: all of it in `text`
CONTEXT_GROUP = "context"  # the legend group of report.charts.context_traces (other models, grey)


class SiteError(RuntimeError):
    """The site could not be built; the message says why (mkdocs output included)."""


# --------------------------------------------------------------------------- escaping

# Python-Markdown's backslash escapes, minus '>' (HTML escaping turns it into &gt; anyway).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def md_escape(value: object) -> Markup:
    """Untrusted text made safe where Markdown reads it: one line, Markdown punctuation
    backslash-escaped, then HTML-escaped (in that order, so entities stay intact)."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return Markup(escape(_MD_SPECIAL.sub(r"\\\1", text)))


def format_value(value: float | None) -> str:
    """Three significant digits without exponents for table cells; '' for a missing value."""
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


# --------------------------------------------------------------------------- names and paths


def unique_slugs(names: Iterable[str], reserved: Iterable[str] = RESERVED_SLUGS) -> dict[str, str]:
    """A path-safe slug per distinct name, unique even when names collide after slugify
    ('Llama 3' and 'llama-3' -> 'llama-3' and 'llama-3-2'); stable for the same names."""
    taken = set(reserved)
    slugs: dict[str, str] = {}
    for name in sorted(set(names)):
        base = slugify(name)
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        slugs[name] = slug
    return slugs


def raw_paths(results: Sequence[Result]) -> dict[int, str]:
    """Where each result's JSON lives in the docs tree, by id(result): raw/<suite>/<cell>.json."""
    suite_slugs = unique_slugs((r.suite for r in results), reserved=())
    paths: dict[int, str] = {}
    used: set[str] = set()
    for result in sorted(results, key=lambda r: (r.suite, r.cell, r.started_at)):
        stem = f"{RAW_DIR}/{suite_slugs[result.suite]}/{result.cell}"
        path, n = f"{stem}.json", 2
        while path in used:  # the same cell twice (two copies of a results folder)
            path, n = f"{stem}-{n}.json", n + 1
        used.add(path)
        paths[id(result)] = path
    return paths


# --------------------------------------------------------------------------- page data


@dataclass(frozen=True)
class Chart:
    """A chart ready for a page: plotly's own HTML for the div and its script."""

    title: str
    html: Markup
    description: str = ""


@dataclass(frozen=True)
class Column:
    title: str
    metric: Metric


@dataclass(frozen=True)
class CellRow:
    result: Result
    raw: str  # path relative to the docs root
    values: list[str]
    reason: str | None  # failed cells: why


@dataclass(frozen=True)
class CellTable:
    """A model's cells on one machine (memory means different things on GPU and CPU)."""

    hardware: str
    kind: str
    columns: list[Column]
    rows: list[CellRow]
    hidden: int  # rows left out to keep the page light


@dataclass
class ModelPage:
    slug: str
    name: str
    family: str
    source: str
    results: list[Result]
    explanation: Explanation
    config_rows: list[tuple[str, str]]  # the architecture's own keys
    tables: list[CellTable] = field(default_factory=list)
    generic_config_rows: list[tuple[str, str]] = field(default_factory=list)  # every model's keys
    charts: list[Chart] = field(default_factory=list)
    breakdown_chart: Chart | None = None
    notes: Markup | None = None

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status != "ok"]

    @property
    def fastest(self) -> Result | None:
        """The measured cell with the highest decode throughput."""
        speed = METRICS["decode_tokens_per_s"]
        scored = [r for r in self.ok if r.method == "measured" and speed.value(r) is not None]
        return max(scored, key=lambda r: speed.value(r) or 0.0, default=None)


def setting_text(result: Result) -> str:
    """A cell's setting in one short line: dtype, quantization, batch, prompt and new tokens."""
    s = result.setting
    quant = f" {s.quantization}" if s.quantization and s.quantization != "none" else ""
    return f"{s.dtype}{quant}, batch {s.batch_size}, prompt {s.prompt_tokens}, new {s.new_tokens}"


def failure_reason(result: Result, limit: int = 300) -> str | None:
    """Why a cell failed, in one line of at most `limit` characters."""
    if result.status == "ok":
        return None
    if result.error is None:
        return result.status
    text = " ".join(f"{result.error.type}: {result.error.message}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Config rows: nested dicts as dotted keys, other values as compact JSON, long ones cut."""
    rows: list[tuple[str, str]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(flatten_config(value, prefix=f"{name}."))
            continue
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
        if len(text) > MAX_CONFIG_VALUE_CHARS:
            text = text[: MAX_CONFIG_VALUE_CHARS - 1] + "…"
        rows.append((name, text))
    return rows


def split_config(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(the architecture's own rows, the rows every transformers config carries), order kept."""
    own, generic = [], []
    for key, value in rows:
        (generic if key.split(".", 1)[0] in GENERIC_CONFIG_KEYS else own).append((key, value))
    return own, generic


def _row_key(result: Result) -> tuple[Any, ...]:
    s = result.setting
    return (
        s.dtype,
        s.quantization or "",
        s.batch_size,
        s.prompt_tokens,
        s.new_tokens,
        result.suite,
        result.cell,
    )


def cell_tables(results: Sequence[Result], raw: Mapping[int, str]) -> list[CellTable]:
    """One table per machine; failed cells first (they are few and say the most), then the rest."""
    by_hardware: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_hardware[hardware_name(result)].append(result)
    tables = []
    for hardware in sorted(by_hardware, key=lambda h: (-len(by_hardware[h]), h)):
        cells = sorted(by_hardware[hardware], key=lambda r: (r.status == "ok", _row_key(r)))
        kind = device_kind(cells[0])
        metrics = [METRICS[m] for m in TABLE_METRICS if any(METRICS[m].value(r) is not None for r in cells)]
        columns = [Column(m.title(kind), m) for m in metrics]
        shown = cells[:MAX_TABLE_ROWS]
        rows = [
            CellRow(r, raw[id(r)], [format_value(c.metric.display(r)) for c in columns], failure_reason(r))
            for r in shown
        ]
        tables.append(CellTable(hardware, kind, columns, rows, hidden=len(cells) - len(shown)))
    return tables


def group_models(results: Sequence[Result]) -> dict[str, list[Result]]:
    """Results by model display name, each list in a stable order."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in sorted(results, key=lambda r: (r.model.name, _row_key(r))):
        groups[result.model.name].append(result)
    return dict(groups)


def _representative(results: Sequence[Result]) -> Result:
    """The cell whose config and parameter counts describe the model: a successful one if any."""
    return next((r for r in results if r.status == "ok" and r.model.params), results[0])


def model_pages(results: Sequence[Result], raw: Mapping[int, str]) -> list[ModelPage]:
    """Page data for every model, including models whose every cell failed."""
    groups = group_models(results)
    slugs = unique_slugs(groups)
    pages = []
    for name, cells in groups.items():
        rep = _representative(cells)
        dtypes = sorted({r.setting.dtype for r in cells})
        own_config, generic_config = split_config(flatten_config(rep.model.config))
        pages.append(
            ModelPage(
                slug=slugs[name],
                name=name,
                family=rep.model.family,
                source=rep.model.source,
                results=cells,
                explanation=explain(rep.model.config, rep.model.params, dtypes, rep.model.source),
                config_rows=own_config,
                generic_config_rows=generic_config,
                tables=cell_tables(cells, raw),
            )
        )
    return sorted(pages, key=lambda p: p.name.lower())


# --------------------------------------------------------------------------- charts


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
    return fig


def embed(fig: Any, div_id: str, modebar: bool = True) -> Markup:
    """plotly's HTML for a page: no plotly.js (the page head loads it once), a fixed div id.
    `fig` is a plotly Figure or a figure dict (dicts skip plotly's slow validation)."""
    import plotly.io as pio

    html = pio.to_html(
        lean_figure(fig),
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


def home_charts(results: Sequence[Result], views: Mapping[str, Any] | None = None) -> list[Chart]:
    """The interactive landscape (report.charts), measured and estimated cells alike."""
    from report import charts

    view = (views or charts.VIEWS)[HOME_VIEW]
    spec = charts.figure_spec(view, list(results), "light")
    return [Chart(view.title, embed(spec, f"chart-{HOME_VIEW}"), view.description)]


def model_charts(
    page: ModelPage, context: Sequence[Result], views: Mapping[str, Any] | None = None
) -> list[Chart]:
    """The model's views from report.charts (the others grey where a view highlights)."""
    from report import charts

    chosen = {v.name: v for v in charts.model_views(views)}
    specs = charts.model_figure_specs(page.results, "light", context=context, views=views)
    return [
        Chart(chosen[name].title, embed(spec, f"chart-{page.slug}-{name}"), chosen[name].description)
        for name, spec in specs.items()
    ]


# --------------------------------------------------------------------------- hand-written pages

_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})(\s)")


def shift_headings(text: str, top_level: int) -> str:
    """Move Markdown headings (outside code fences) so the highest becomes `top_level`."""
    lines = text.splitlines()
    in_fence, levels = False, []
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _HEADING.match(line)):
            levels.append(len(m.group(1)))
    if not levels or min(levels) >= top_level:
        return text
    shift = top_level - min(levels)
    out, in_fence = [], False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _HEADING.match(line)):
            line = "#" * min(6, len(m.group(1)) + shift) + line[len(m.group(1)) :]
        out.append(line)
    return "\n".join(out) + "\n"


def hand_written(path: Path, top_level: int | None = None) -> Markup | None:
    """A page someone wrote in this repository (trusted Markdown), or None if absent."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    if top_level is not None:
        text = shift_headings(text, top_level)
    return Markup(text)


def has_title(text: str | None) -> bool:
    """Whether Markdown text starts with a level-1 heading."""
    return bool(text) and bool(re.match(r"\s*#\s", text or ""))


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Measured:
    """The home page's "what was measured"."""

    models: int
    cells: int
    ok: int
    failed: dict[str, int]
    estimated: int
    suites: list[tuple[str, int]]
    hardware: list[tuple[str, str, int]]  # name, kind, cells
    first: str
    last: str


def measured_summary(results: Sequence[Result], models: int) -> Measured:
    """Counts, machines and dates of a result set."""
    hardware = Counter((hardware_name(r), device_kind(r)) for r in results)
    dates = sorted(r.started_at[:10] for r in results)
    return Measured(
        models=models,
        cells=len(results),
        ok=sum(r.status == "ok" for r in results),
        failed=dict(sorted(Counter(r.status for r in results if r.status != "ok").items())),
        estimated=sum(r.method == "estimated" for r in results),
        suites=sorted(Counter(r.suite for r in results).items()),
        hardware=[
            (name, kind, n) for (name, kind), n in sorted(hardware.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        first=dates[0] if dates else "",
        last=dates[-1] if dates else "",
    )


@dataclass(frozen=True)
class ResultSet:
    """One suite's results for the methodology page."""

    suite: str
    results: list[Result]
    protocols: list[tuple[dict[str, Any], int]]
    environments: list[tuple[str, dict[str, Any], int]]  # hardware, fields, cells
    raw_by_model: list[tuple[str, list[tuple[str, str]]]]  # model name, [(cell, path)]


def _env_fields(result: Result) -> dict[str, Any]:
    env = result.environment.model_dump(exclude={"gpu", "cpu"})
    return {k: v for k, v in env.items() if v is not None}


def result_sets(results: Sequence[Result], raw: Mapping[int, str]) -> list[ResultSet]:
    """Protocols, environments and raw files per suite."""
    by_suite: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_suite[result.suite].append(result)
    sets = []
    for suite in sorted(by_suite):
        cells = sorted(by_suite[suite], key=lambda r: (r.model.name, _row_key(r)))
        protocols = Counter(json.dumps(r.protocol.model_dump(), sort_keys=True) for r in cells if r.protocol)
        envs = Counter(
            (hardware_name(r), json.dumps(_env_fields(r), sort_keys=True))
            for r in cells
            if r.method == "measured"
        )
        by_model: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in cells:
            by_model[r.model.name].append((r.cell, raw[id(r)]))
        sets.append(
            ResultSet(
                suite=suite,
                results=cells,
                protocols=[(json.loads(p), n) for p, n in sorted(protocols.items())],
                environments=[(hw, json.loads(e), n) for (hw, e), n in sorted(envs.items())],
                raw_by_model=sorted(by_model.items()),
            )
        )
    return sets


# --------------------------------------------------------------------------- rendering


def template_env(templates: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """Jinja2 with autoescape on for every template (they write Markdown holding HTML)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_escape, num=format_value, count=human_count, setting=setting_text)
    env.globals.update(
        metrics=METRICS, hardware_name=hardware_name, failure_reason=failure_reason, schema_id=SCHEMA_ID
    )
    return env


@dataclass
class SitePages:
    """Everything the templates need, computed once."""

    results: list[Result]
    raw: dict[int, str]
    models: list[ModelPage]
    findings: list[HardwareFindings]
    slug_of: dict[str, str]  # model name -> slug
    views: Mapping[str, Any] | None = None  # report.views.View by name; None: the built-in ones

    def link(self, result: Result) -> str:
        """Docs-relative path of the page of a result's model."""
        return f"{MODELS_DIR}/{self.slug_of[result.model.name]}.md"


def plan_site(
    results: Iterable[Result],
    site_sources: Path = SITE_SOURCES,
    charts: bool = True,
    views: Mapping[str, Any] | None = None,
) -> SitePages:
    """Work out every page's data: slugs, tables, explanations, notes and charts."""
    ordered = sorted(results, key=lambda r: (r.suite, r.cell, r.started_at))
    raw = raw_paths(ordered)
    models = model_pages(ordered, raw)
    for page in models:
        page.notes = hand_written(site_sources / MODELS_DIR / f"{page.slug}.md", top_level=3)
        if page.explanation.breakdown:
            fig = breakdown_figure(page.explanation.breakdown)
            page.breakdown_chart = Chart(
                "Parameters by part", embed(fig, f"chart-{page.slug}-params", modebar=False)
            )
        if charts:
            page.charts = model_charts(page, ordered, views)
    _warn_orphan_notes(site_sources / MODELS_DIR, {p.slug for p in models})
    return SitePages(
        results=ordered,
        raw=raw,
        models=models,
        findings=findings(ordered),
        slug_of={p.name: p.slug for p in models},
        views=views,
    )


def _warn_orphan_notes(notes_dir: Path, slugs: set[str]) -> None:
    if not notes_dir.is_dir():
        return
    for path in sorted(notes_dir.glob("*.md")):
        if path.stem not in slugs and path.stem.lower() != "readme":
            log.warning("site notes %s match no model slug (known: %s)", path, ", ".join(sorted(slugs)))


def render_docs(
    results: Iterable[Result],
    docs_dir: Path,
    *,
    site_sources: Path = SITE_SOURCES,
    templates: Path = TEMPLATES_DIR,
    charts: bool = True,
    views: Mapping[str, Any] | None = None,
    extra_pages: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the Markdown pages, the raw JSON and plotly.min.js into `docs_dir` (rendered into
    a temporary folder first, then synced). `extra_pages` maps a docs-relative name such as
    "slides.md" to Markdown another module rendered (trusted, escaped by its own template).
    Returns the page paths: home, methodology, the models, then the extra pages."""
    pages = plan_site(results, site_sources, charts=charts, views=views)
    env = template_env(templates)
    tmp = docs_dir.with_name(docs_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / MODELS_DIR).mkdir(parents=True)
    written = [
        _write_home(env, pages, tmp, site_sources, charts),
        _write_methodology(env, pages, tmp, site_sources),
    ]
    for page in pages.models:
        text = env.get_template("model.md.j2").render(page=page, site=pages)
        written.append(_write(tmp / MODELS_DIR / f"{page.slug}.md", text))
    for name, text in (extra_pages or {}).items():
        written.append(_write(tmp / _extra_page_name(name), text))
    _write_raw(pages, tmp)
    _copy_plotly(tmp / PLOTLY_JS)
    if docs_dir.exists():
        sync_tree(tmp, docs_dir)
        shutil.rmtree(tmp)
    else:
        tmp.rename(docs_dir)
    return [docs_dir / p.relative_to(tmp) for p in written]


def _extra_page_name(name: str) -> str:
    """An extra page's file name, checked: one path-safe .md name beside index.md."""
    taken = {"index.md", "methodology.md"}
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*\.md", name) or name in taken:
        raise ValueError(f"extra page name {name!r}: want a new lowercase name like 'slides.md'")
    return name


def sync_tree(source: Path, dest: Path) -> None:
    """Make `dest` a copy of `source`, touching only files that changed (so `mkdocs serve`
    rebuilds what changed and a half-rendered tree never replaces a good one)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    for path in sorted(dest.rglob("*"), reverse=True):
        rel = path.relative_to(dest)
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for rel in sorted(wanted):
        src, dst = source / rel, dest / rel
        if (
            dst.is_file()
            and dst.stat().st_size == src.stat().st_size
            and dst.read_bytes() == src.read_bytes()
        ):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _write_home(env: jinja2.Environment, pages: SitePages, docs: Path, sources: Path, charts: bool) -> Path:
    intro = hand_written(sources / "index.md")
    text = env.get_template("home.md.j2").render(
        site=pages,
        intro=intro,
        intro_has_title=has_title(intro),
        measured=measured_summary(pages.results, len(pages.models)),
        charts=home_charts(pages.results, pages.views) if charts and pages.results else [],
        failed=sorted(
            (r for r in pages.results if r.status != "ok"), key=lambda r: (r.model.name, _row_key(r))
        ),
        max_failed=MAX_HOME_FAILED,
        max_pareto=MAX_PARETO_ROWS,
    )
    return _write(docs / "index.md", text)


def _write_methodology(env: jinja2.Environment, pages: SitePages, docs: Path, sources: Path) -> Path:
    intro = hand_written(sources / "methodology.md")
    text = env.get_template("methodology.md.j2").render(
        site=pages,
        intro=intro,
        intro_has_title=has_title(intro),
        sets=result_sets(pages.results, pages.raw),
        raw_index=f"{RAW_DIR}/index.json",
    )
    return _write(docs / "methodology.md", text)


def _write_raw(pages: SitePages, docs: Path) -> None:
    """Each result as the validated contract JSON, plus an index of them all."""
    index = []
    for result in pages.results:
        path = pages.raw[id(result)]
        _write(
            docs / path, result.model_dump_json(by_alias=True, indent=2) + "\n"
        )  # the contract's form, fast
        index.append(
            {
                "path": path,
                "suite": result.suite,
                "cell": result.cell,
                "model": result.model.name,
                "status": result.status,
            }
        )
    _write(docs / RAW_DIR / "index.json", json.dumps(index, indent=1, ensure_ascii=False) + "\n")


def _copy_plotly(dest: Path) -> None:
    """plotly.min.js from the installed plotly package: shipped once, never from a CDN."""
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)


# --------------------------------------------------------------------------- mkdocs


def write_mkdocs_config(
    out_dir: Path,
    pages: Sequence[Path],
    *,
    base: Path = MKDOCS_BASE,
    docs_dir: Path | None = None,
    site_url: str | None = None,
) -> Path:
    """<out_dir>/mkdocs.yml: the repository's config with paths relative to out_dir and an
    explicit nav (page titles come from each page's escaped heading, never from YAML)."""
    config = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    docs_dir = docs_dir or out_dir / "docs"
    theme = dict(config.get("theme") or {})
    if theme.get("custom_dir"):
        theme["custom_dir"] = os.path.relpath(base.parent / theme["custom_dir"], out_dir)
    rel = [p.relative_to(docs_dir).as_posix() for p in pages]
    models = [r for r in rel if r.startswith(f"{MODELS_DIR}/")]
    extra = [r for r in rel if r not in models and r not in ("index.md", "methodology.md")]
    config.update(
        docs_dir=os.path.relpath(docs_dir, out_dir),
        site_dir="site",
        theme=theme,
        nav=["index.md", *([{"Models": models}] if models else []), *extra, "methodology.md"],
    )
    site_url = site_url or os.environ.get("SITE_URL")
    if site_url:
        config["site_url"] = site_url
    path = out_dir / "mkdocs.yml"
    header = f"# Generated by report.site from {base.name}; edit that file, not this one.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run_mkdocs(config: Path, site_dir: Path, strict: bool = True) -> float:
    """`mkdocs build` into a temporary folder, swapped in on success; returns seconds taken."""
    tmp = site_dir.with_name(site_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # Not -q: it silences the warnings that --strict counts.
    cmd = [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "-d", str(tmp)]
    if strict:
        cmd.append("--strict")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        said = [line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith("INFO")]
        raise SiteError(f"mkdocs build failed (exit {proc.returncode}):\n" + "\n".join(said))
    shutil.rmtree(site_dir, ignore_errors=True)
    tmp.rename(site_dir)
    return seconds


def build_site(
    results: Iterable[Result],
    out_dir: Path | str,
    *,
    site_sources: Path = SITE_SOURCES,
    templates: Path = TEMPLATES_DIR,
    mkdocs_base: Path = MKDOCS_BASE,
    site_url: str | None = None,
    views: Mapping[str, Any] | None = None,
    extra_pages: Mapping[str, str] | None = None,
    charts: bool = True,
    build: bool = True,
    strict: bool = True,
) -> Path:
    """Render `results` into <out_dir>/docs, write <out_dir>/mkdocs.yml and build <out_dir>/site.

    `results` are validated Result objects (report.load's ResultSet or its `.results`); failed
    and estimated cells are welcome. `views` are report.views.View objects by name (e.g.
    `load_views(user_file)`; default: the built-in ones): the home page draws "landscape",
    model pages every view with `per_model` set. `extra_pages` ("slides.md": Markdown, e.g.
    report.slides.slides_page(results)) are added to the docs and the nav. `site_url` (default: $SITE_URL, which the Pages workflow sets) only feeds
    canonical links and the 404 page, whose links MkDocs makes absolute; every other URL is
    relative. With `build=False` stop before mkdocs (for `mkdocs
    serve`); with `charts=False` leave out report.charts' figures (a quick text-only build).
    Returns the built site folder (or the docs folder without a build). Raises
    SiteError if mkdocs fails, leaving the previous site in place.
    """
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    docs = out / "docs"
    pages = render_docs(
        results,
        docs,
        site_sources=site_sources,
        templates=templates,
        charts=charts,
        views=views,
        extra_pages=extra_pages,
    )
    config = write_mkdocs_config(out, pages, base=mkdocs_base, docs_dir=docs, site_url=site_url)
    if not build:
        return docs
    seconds = run_mkdocs(config, out / "site", strict=strict)
    log.info("mkdocs built %d pages in %.1f s", len(pages), seconds)
    return out / "site"


def _stamp(*roots: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of every file under `roots`."""
    files = [
        p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()
    ]
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def serve_site(
    results: Sequence[Result],
    out_dir: Path | str,
    *,
    dev_addr: str = "127.0.0.1:8000",
    site_sources: Path = SITE_SOURCES,
    templates: Path = TEMPLATES_DIR,
    mkdocs_base: Path = MKDOCS_BASE,
    views: Mapping[str, Any] | None = None,
    charts: bool = True,
    poll_s: float = 0.5,
    stop: threading.Event | None = None,
) -> int:
    """Render the docs and run `mkdocs serve` on them at `dev_addr`; whenever site/, templates/
    or mkdocs.yml change, render again (mkdocs then rebuilds and reloads the browser). Blocks
    until mkdocs exits, Ctrl-C, or `stop` is set; returns mkdocs' exit status."""
    out = Path(out_dir).resolve()
    docs = out / "docs"
    results = list(results)

    def render() -> Path:
        pages = render_docs(
            results, docs, site_sources=site_sources, templates=templates, charts=charts, views=views
        )
        return write_mkdocs_config(out, pages, base=mkdocs_base, docs_dir=docs)

    config = render()
    cmd = [sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", dev_addr]
    proc = subprocess.Popen(cmd, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    watched = (site_sources, templates, mkdocs_base)
    stamp = _stamp(*watched)
    try:
        while proc.poll() is None and not (stop and stop.is_set()):
            time.sleep(poll_s)
            if (now := _stamp(*watched)) != stamp:
                stamp = now
                try:
                    render()
                except (jinja2.TemplateError, OSError, yaml.YAMLError) as error:
                    log.error("site not re-rendered: %s", error)
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()
    return proc.returncode


def page_weights(site_dir: Path | str) -> dict[str, int]:
    """Bytes of each built page's own HTML, heaviest first (plotly.js, the theme's assets and
    the search index are shared by every page and cached, so they are not counted)."""
    site = Path(site_dir)
    weights = {p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*.html")}
    return dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))
