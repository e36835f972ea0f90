"""The MkDocs-Material site: results -> build/docs/*.md (jinja2, autoescape) -> mkdocs build --strict.

`build_site(results, out_dir)` renders one page per model (how it works, its configuration,
its measurements, the user's notes from site/models/<slug>.md), a home page (what was
measured, the landscape, findings, links to every model) and a methodology page (the metric
registry's descriptions, protocol, environments, links to the raw JSON the site ships), writes
<out_dir>/mkdocs.yml from the base mkdocs.yml (the working folder's, else the packaged one)
and builds <out_dir>/site.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup, escape

from bench.schema import METRICS, SCHEMA_ID, Result
from report.embed import PLOTLY_JS, breakdown_figure, embed, plotly_js_path, short_hover, untitled
from report.findings import HardwareFindings
from report.summary import DEFAULT_TITLE, RAW_DIR, ModelSummary, Summary, summarize
from report.text import count, failure_reason, hardware_name, method_text, number, setting_text, size_bytes

log = logging.getLogger(__name__)

# The site's sources ship inside the package (report/defaults/); a templates/, site/ or mkdocs.yml
# in the working folder overrides them, so a project keeps its own intro and notes.
DEFAULTS = Path(__file__).with_name("defaults")


# the packaged defaults
TEMPLATES_DIR = DEFAULTS / "templates" / "site"
SITE_SOURCES = DEFAULTS / "site"
MKDOCS_BASE = DEFAULTS / "mkdocs.yml"


def local_or_default(name: str, where: Path | None = None) -> Path:
    """`name` in the working folder (or `where`) if it exists there, else the packaged default."""
    local = (where or Path.cwd()) / name
    return local if local.exists() else DEFAULTS / name


def resolve_templates(templates: Path | None = None) -> Path:
    """The site templates: `templates` if given, else ./templates/site, else the packaged ones
    (a template missing from a project's folder still comes from the package)."""
    return Path(templates) if templates is not None else local_or_default("templates") / "site"


def resolve_sources(sources: Path | None = None) -> Path:
    """The hand-written pages (intro, methodology, model notes): `sources`, ./site or the package's."""
    return Path(sources) if sources is not None else local_or_default("site")


def resolve_mkdocs_base(base: Path | None = None) -> Path:
    """The MkDocs config the generated one starts from: `base`, ./mkdocs.yml or the package's."""
    return Path(base) if base is not None else local_or_default("mkdocs.yml")


PLOTLY_JS_DOCS_PATH = f"javascripts/{PLOTLY_JS}"  # inside the docs tree; overrides/main.html loads it
MODELS_DIR = "models"
MAX_PARETO_ROWS = 12
MAX_HOME_FAILED = 100  # failed cells listed under the landscape; model pages list all of theirs
HOME_VIEW = "landscape"  # report/views.yaml
SLIDES_TEMPLATE = "slides.md.j2"  # the site's slide view of the deck's charts
SLIDES_PAGE = "slides.md"
CHARTS_DIR = "charts"  # docs/charts/: a page per view and an index linking them
CHARTS_TEMPLATE = "charts.md.j2"


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


# --------------------------------------------------------------------------- page data


@dataclass(frozen=True)
class Chart:
    """A chart ready for a page: plotly's own HTML for the div and its script."""

    title: str
    html: Markup
    description: str = ""


@dataclass
class ModelPage(ModelSummary):
    """A model's summary with what its page adds: charts, the parameter bar chart, the notes
    someone wrote for it."""

    charts: list[Chart] = field(default_factory=list)
    breakdown_chart: Chart | None = None
    notes: Markup | None = None


# --------------------------------------------------------------------------- charts


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


def view_charts(results: Sequence[Result], views: Mapping[str, Any] | None = None) -> list[tuple[str, Chart]]:
    """Every view, 2D and 3D, as (view name, interactive chart) for the Charts pages."""
    from report import charts

    chosen = views if views is not None else charts.VIEWS
    out = []
    for name, view in chosen.items():
        spec = charts.figure_spec(view, list(results), "light")
        out.append((name, Chart(view.title, embed(spec, f"chart-view-{name}"), view.description)))
    return out


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


def split_title(text: Markup | None, default: str) -> tuple[Markup, Markup | None]:
    """(the level-1 heading a hand-written page starts with, or `default`; the rest), so a page
    can put its own first section between the title and the hand-written text."""
    if not text or not has_title(text):
        return Markup(escape(default)), text
    title, _, rest = str(text).lstrip().partition("\n")
    return Markup(title), Markup(rest.lstrip("\n")) if rest.strip() else None


# --------------------------------------------------------------------------- rendering


def template_env(templates: Path | None = None) -> jinja2.Environment:
    """Jinja2 with autoescape on for every template (they write Markdown holding HTML)."""
    # the given folder first, then the packaged templates: a project overrides one page's template
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dict.fromkeys([resolve_templates(templates), TEMPLATES_DIR]))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_escape, num=number, count=count, setting=_setting, gib=size_bytes)
    env.globals.update(
        metrics=METRICS,
        hardware_name=hardware_name,
        failure_reason=failure_reason,
        method_text=method_text,
        schema_id=SCHEMA_ID,
    )
    return env


def _setting(result: Result) -> str:
    return setting_text(result, device=False)  # pages name the hardware beside it


@dataclass
class SitePages:
    """Everything the templates need, computed once."""

    results: list[Result]
    raw: dict[int, str]
    models: list[ModelPage]
    findings: list[HardwareFindings]
    slug_of: dict[str, str]  # model name -> slug
    summary: Summary
    views: Mapping[str, Any] | None = None  # report.views.View by name; None: the built-in ones

    def link(self, result: Result) -> str:
        """Docs-relative path of the page of a result's model."""
        return f"{MODELS_DIR}/{self.slug_of[result.model.name]}.md"


def plan_site(
    results: Iterable[Result],
    site_sources: Path | None = None,
    charts: bool = True,
    views: Mapping[str, Any] | None = None,
    summary: Summary | None = None,
) -> SitePages:
    """Every page's data: report.summary's Summary (computed here unless given) plus what pages
    add: notes, charts."""
    site_sources = resolve_sources(site_sources)
    summary = summary if summary is not None else summarize(results)
    ordered = summary.results
    models = [ModelPage(**vars(m)) for m in summary.models]
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
        raw=summary.raw,
        models=models,
        findings=summary.findings,
        slug_of=summary.slug_of,
        views=views,
        summary=summary,
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
    site_sources: Path | None = None,
    templates: Path | None = None,
    charts: bool = True,
    views: Mapping[str, Any] | None = None,
    extra_pages: Mapping[str, str] | None = None,
    summary: Summary | None = None,
) -> list[Path]:
    """Write the Markdown pages, the raw JSON and plotly.min.js into `docs_dir` (rendered into
    a temporary folder first, then synced). `extra_pages` maps a docs-relative name such as
    "slides.md" to Markdown another module rendered (trusted, escaped by its own template).
    Returns the page paths: home, methodology, the models, then the extra pages."""
    site_sources = resolve_sources(site_sources)
    pages = plan_site(results, site_sources, charts=charts, views=views, summary=summary)
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
    if charts and pages.results:
        frames = [g.frame for g in pages.summary.findings]
        written += _write_charts(env, view_charts(pages.results, views), tmp, frames)
    for name, text in (extra_pages or {}).items():
        written.append(_write(tmp / _extra_page_name(name), text))
    _write_raw(pages, tmp)
    _copy_plotly(tmp / PLOTLY_JS_DOCS_PATH)
    if docs_dir.exists():
        sync_tree(tmp, docs_dir)
        shutil.rmtree(tmp)
    else:
        tmp.rename(docs_dir)
    return [docs_dir / p.relative_to(tmp) for p in written]


def _write_charts(
    env: jinja2.Environment, charts: Sequence[tuple[str, Chart]], docs: Path, frames: Sequence[str] = ()
) -> list[Path]:
    """charts/index.md linking every view (and naming the hardware each chart's selector
    offers), and charts/<view>.md with the view's chart."""
    (docs / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
    template = env.get_template(CHARTS_TEMPLATE)
    index = template.render(charts=charts, chart=None, frames=frames)
    written = [_write(docs / CHARTS_DIR / "index.md", index)]
    for name, chart in charts:
        written.append(_write(docs / CHARTS_DIR / f"{name}.md", template.render(charts=charts, chart=chart)))
    return written


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
    title, intro = split_title(hand_written(sources / "index.md"), "# gpuscape results")
    text = env.get_template("home.md.j2").render(
        site=pages,
        title=title,
        intro=intro,
        measured=pages.summary.measured,
        charts=home_charts(pages.results, pages.views) if charts and pages.results else [],
        failed=pages.summary.failed,
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
        sets=pages.summary.suites,
        raw_index=f"{RAW_DIR}/index.json",
    )
    return _write(docs / "methodology.md", text)


MAX_PUBLISHED_CONFIG_BYTES = 256 * 1024  # a model config is a few kB; beyond this it is summarized


def published_json(result: Result) -> str:
    """A result as the site publishes it: the validated contract JSON, except a model config
    above MAX_PUBLISHED_CONFIG_BYTES, which is replaced by a note of its size and keys (the
    original file keeps it), so one huge result cannot weigh down the site."""
    text = result.model_dump_json(by_alias=True, indent=2) + "\n"  # the contract's form, fast
    if len(text) <= MAX_PUBLISHED_CONFIG_BYTES:
        return text  # the whole result is smaller than the cap, so its config is too: no second dump
    config = result.model.config
    size = len(json.dumps(config, ensure_ascii=False))
    if size <= MAX_PUBLISHED_CONFIG_BYTES:
        return text
    note = {
        "_omitted": f"a config of {size:,} bytes is not published (over {MAX_PUBLISHED_CONFIG_BYTES:,}); "
        "the original result file holds it",
        "_keys": sorted(config)[:50],
    }
    trimmed = result.model_copy(update={"model": result.model.model_copy(update={"config": note})})
    return trimmed.model_dump_json(by_alias=True, indent=2) + "\n"


def _write_raw(pages: SitePages, docs: Path) -> None:
    """Each result as the validated contract JSON, plus an index of them all."""
    index = []
    for result in pages.results:
        path = pages.raw[id(result)]
        _write(docs / path, published_json(result))
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
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js_path(), dest)


# --------------------------------------------------------------------------- the slide view


def slide_charts(
    results: Sequence[Result], views: Mapping[str, Any] | None = None, summary: Summary | None = None
) -> list[Chart]:
    """The deck's charts as interactive charts that fill their slide, in the deck's order: a
    panel of the landscape per hardware (its findings under it, where `summary` is given), then
    the deck's views, each on its first hardware as charts/<view>.png (never measured and
    estimated cells in one frame)."""

    from report import charts
    from report import views as report_views

    chosen = views if views is not None else report_views.VIEWS
    results = list(results)

    def chart(view: Any, frame: str | None, title: str, key: str, description: str = "") -> Chart:
        spec = charts.figure_spec(view, results, "light", frame=frame)
        spec = short_hover(untitled(spec, charts.title_band_px(static=False)))
        spec["layout"].pop("height", None)  # the slide's box sets the size
        spec["layout"]["autosize"] = True
        return Chart(title, embed(spec, f"slide-{key}"), description)

    out = []
    panel = chosen.get("landscape")
    if panel is not None and summary is not None:
        groups = {g.frame: g for g in summary.findings}
        for n, frame in enumerate(
            charts.chart_data(panel, results).frames[: report_views.DECK_HARDWARE], start=1
        ):
            group = groups.get(frame)
            lines = " · ".join(lead + line for lead, line in group.headlines()) if group else ""
            out.append(chart(panel, frame, frame, f"hardware-{n}", lines))
    for view in report_views.deck_views(chosen):
        if out and view is panel:
            continue  # the landscape is on the hardware panels already, each hardware on its own
        data = charts.chart_data(view, results)
        out.append(chart(view, charts.static_frames(data)[0], view.title, view.name))
    return out


def slides_page(
    results: Sequence[Result],
    *,
    title: str = DEFAULT_TITLE,
    charts: Sequence[Chart] | None = None,
    views: Mapping[str, Any] | None = None,
    templates: Path | None = None,
    summary: Summary | None = None,
) -> str:
    """The Markdown of the site's slide view (write it as docs/slides.md): a title screen, the
    fit matrix, then one chart per screen in the deck's order (slide_charts); arrow keys move, F goes full screen. `charts` default to
    `slide_charts(results, views)`; every name is escaped by the template."""
    summary = summary if summary is not None else summarize(results)
    subtitle, _ = summary.measured.lines(title)
    shown = list(charts) if charts is not None else slide_charts(summary.results, views, summary)
    env = template_env(templates)
    return env.get_template(SLIDES_TEMPLATE).render(
        title=title, subtitle=subtitle, charts=shown, fit=summary.fit, slug_of=summary.slug_of
    )


# --------------------------------------------------------------------------- mkdocs


def write_mkdocs_config(
    out_dir: Path,
    pages: Sequence[Path],
    *,
    base: Path | None = None,
    docs_dir: Path | None = None,
    site_url: str | None = None,
) -> Path:
    """<out_dir>/mkdocs.yml: the repository's config with paths relative to out_dir and an
    explicit nav (page titles come from each page's escaped heading, never from YAML)."""
    base = resolve_mkdocs_base(base)
    config = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    docs_dir = docs_dir or out_dir / "docs"
    theme = dict(config.get("theme") or {})
    if theme.get("custom_dir"):
        custom = base.parent / theme["custom_dir"]
        if not custom.is_dir():  # a project's own mkdocs.yml may lean on the packaged theme overrides
            custom = DEFAULTS / "overrides"
        theme["custom_dir"] = os.path.relpath(custom, out_dir)
    rel = [p.relative_to(docs_dir).as_posix() for p in pages]
    models = [r for r in rel if r.startswith(f"{MODELS_DIR}/")]
    views = [r for r in rel if r.startswith(f"{CHARTS_DIR}/")]
    extra = [r for r in rel if r not in models + views and r not in ("index.md", "methodology.md")]
    config.update(
        docs_dir=os.path.relpath(docs_dir, out_dir),
        site_dir="site",
        theme=theme,
        nav=[
            "index.md",
            *([{"Charts": views}] if views else []),
            *([{"Models": models}] if models else []),
            *extra,
            "methodology.md",
        ],
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
    site_sources: Path | None = None,
    templates: Path | None = None,
    mkdocs_base: Path | None = None,
    site_url: str | None = None,
    views: Mapping[str, Any] | None = None,
    extra_pages: Mapping[str, str] | None = None,
    charts: bool = True,
    build: bool = True,
    strict: bool = True,
    summary: Summary | None = None,
) -> Path:
    """Render `results` into <out_dir>/docs, write <out_dir>/mkdocs.yml and build <out_dir>/site.

    `results` are validated Result objects (report.load's ResultSet or its `.results`); failed
    and estimated cells are welcome. `views` are report.views.View objects by name (e.g.
    `load_views(user_file)`; default: the built-in ones): the home page draws "landscape",
    model pages every view with `per_model` set. `extra_pages` ("slides.md": Markdown, e.g.
    slides_page(results)) are added to the docs and the nav. `summary` is report.summary's
    Summary of `results` where the caller has it already. `site_url` (default: $SITE_URL, which the Pages workflow sets) only feeds
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
        summary=summary,
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
    site_sources: Path | None = None,
    templates: Path | None = None,
    mkdocs_base: Path | None = None,
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
    summary = summarize(results)
    site_sources = resolve_sources(site_sources)
    templates = resolve_templates(templates)
    mkdocs_base = resolve_mkdocs_base(mkdocs_base)

    def render() -> Path:
        pages = render_docs(
            summary.results,
            docs,
            site_sources=site_sources,
            templates=templates,
            charts=charts,
            views=views,
            summary=summary,
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
