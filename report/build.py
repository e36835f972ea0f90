"""`build(paths, out)`: results in, charts out, nothing half-written.

Everything is written into a temporary folder next to `out`; only when every step and every
image has succeeded does each top-level entry (charts/, and whatever later steps add) replace
its old copy in `out`. Steps are plain functions over a BuildContext, so the site (and anything
after it) adds itself by appending to STEPS or passing `steps=`. Image jobs that steps queue are
exported at the end in one batch, with one browser.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.schema import Result, slugify
from report.charts import (
    ChartData,
    Template,
    chart_data,
    failure_text,
    figure_spec,
    model_views,
    setting_text,
)
from report.export import (
    DEFAULT_TABS,
    IMAGE_FORMATS,
    BrowserNotFoundError,
    ImageJob,
    export_images,
)
from report.load import Invalid, ResultSet, load_results
from report.views import View, load_views

FORMATS = ("html", *IMAGE_FORMATS)
DEFAULT_FORMATS = FORMATS
MODEL_IMAGE_FORMATS = ("png",)  # model pages embed the HTML; one PNG each is enough for slides
CHARTS_DIR = "charts"
PLOTLY_JS = "plotly.min.js"  # shared by the per-model pages (the view pages inline their own)

PAGE_COLORS = {
    "light": {"text": "#2a3f5f", "background": "#ffffff", "rule": "#e5e8ef", "muted": "#667"},
    "dark": {"text": "#f2f5fa", "background": "#111111", "rule": "#333", "muted": "#aab"},
}


@dataclass
class BuildContext:
    """What a build step reads (results, views, options) and where it writes (`staging`)."""

    results: ResultSet
    views: Mapping[str, View]
    staging: Path  # the temporary build root; moved into place entry by entry at the end
    formats: frozenset[str]
    theme: Template = "light"
    images: list[ImageJob] = field(default_factory=list)  # exported after the last step
    notes: list[str] = field(default_factory=list)  # one-line remarks for the user

    def path(self, *parts: str) -> Path:
        """A path inside the staging folder that cannot leave it (parts are checked)."""
        target = self.staging.joinpath(*parts).resolve()
        if not target.is_relative_to(self.staging.resolve()):
            raise ValueError(f"refusing to write outside the build folder: {'/'.join(parts)}")
        return target


@dataclass
class BuildReport:
    """What `build` wrote (paths relative to `out`) and what it left out, and why."""

    out: Path
    written: list[Path] = field(default_factory=list)
    results: int = 0
    skipped_inputs: list[Invalid] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    images_skipped: str | None = None  # why no static images were made (no Chromium)
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)


Step = Callable[[BuildContext], None]


def build(
    paths: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str] = "build",
    *,
    formats: Iterable[str] = DEFAULT_FORMATS,
    views_file: str | os.PathLike[str] | None = None,
    view_names: Sequence[str] | None = None,
    skip_invalid: bool = False,
    theme: Template = "light",
    tabs: int = DEFAULT_TABS,
    antialias: bool = True,
    steps: Sequence[Step] | None = None,
) -> BuildReport:
    """Render the results under `paths` into `out` (charts/ by default; `steps` replaces the
    list of steps). `view_names` limits the views drawn (default: all, built-in plus
    `views_file`). Raises on bad input before writing anything; if no Chromium is found the
    HTML is still written and `images_skipped` says why the images are missing."""
    chosen = _formats(formats)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    views = _select(load_views(views_file), view_names)
    results = load_results(paths, skip_invalid=skip_invalid)
    timings["load_s"] = time.perf_counter() - started
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gpuscape-build-", dir=out_dir))
    report = BuildReport(
        out=out_dir, results=len(results), skipped_inputs=results.skipped, duplicates=results.duplicates
    )
    try:
        context = BuildContext(results, views, staging, chosen, theme)
        for step in STEPS if steps is None else steps:
            began = time.perf_counter()
            step(context)
            timings[f"{getattr(step, '__name__', 'step')}_s"] = time.perf_counter() - began
        began = time.perf_counter()
        report.images_skipped = _export(context, tabs, antialias)
        timings["images_s"] = time.perf_counter() - began
        report.notes = results.notes + context.notes
        report.written = _publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    timings["total_s"] = time.perf_counter() - started
    report.timings_s = timings
    return report


def _select(views: dict[str, View], names: Sequence[str] | None) -> dict[str, View]:
    if not names:
        return views
    unknown = [n for n in names if n not in views]
    if unknown:
        raise ValueError(f"unknown view(s) {', '.join(unknown)}; known: {', '.join(views)}")
    return {n: views[n] for n in views if n in set(names)}


def _formats(formats: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(f.strip().lower() for f in formats if f.strip())
    unknown = chosen - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(sorted(unknown))}; known: {', '.join(FORMATS)}")
    if not chosen:
        raise ValueError(f"no formats given; known: {', '.join(FORMATS)}")
    return chosen


def _export(context: BuildContext, tabs: int, antialias: bool) -> str | None:
    if not context.images:
        return None
    try:
        export_images(context.images, tabs=tabs, antialias=antialias)
    except BrowserNotFoundError as error:
        return str(error)
    return None


def _publish(staging: Path, out: Path) -> list[Path]:
    """Move each top-level entry of the staging folder into `out`, replacing the old one, so a
    reader sees either the old charts/ or the new one, never a mix. Returns what was written."""
    written = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    for entry in sorted(staging.iterdir()):
        target = out / entry.name
        old = out / f".{entry.name}.old-{os.getpid()}"
        if target.exists() or target.is_symlink():
            os.replace(target, old)
        os.replace(entry, target)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        elif old.exists() or old.is_symlink():
            old.unlink()
    return written


# --------------------------------------------------------------------------- the charts step


def write_charts(context: BuildContext) -> None:
    """charts/<view>.html (self-contained) and .png/.svg/.pdf for every view; and for the model
    pages charts/models/<slug>/<view>.html (sharing charts/plotly.min.js) and .png."""
    results = list(context.results)
    charts = context.path(CHARTS_DIR)
    charts.mkdir(parents=True)
    image_formats = sorted(context.formats & set(IMAGE_FORMATS))
    for view in context.views.values():
        data = chart_data(view, results)
        if "html" in context.formats:
            spec = figure_spec(view, results, context.theme, data=data)
            _write_page(context, charts / f"{view.name}.html", view, spec, data, inline_plotly=True)
        if image_formats:
            static = figure_spec(view, results, "presentation", static=True, data=data)
            outputs = {fmt: charts / f"{view.name}.{fmt}" for fmt in image_formats}
            context.images.append(ImageJob(static, outputs))
    _write_model_charts(context, results, charts)


def _write_model_charts(context: BuildContext, results: list[Result], charts: Path) -> None:
    views = model_views(context.views)
    if not views:
        return
    from report.site import unique_slugs  # the site's page slugs, so chart folders match its pages

    by_model: dict[str, list[Result]] = {}
    for result in results:
        by_model.setdefault(result.model.name, []).append(result)
    slugs = unique_slugs(by_model)
    write_html = "html" in context.formats
    png = "png" in context.formats
    if write_html:
        _copy_plotly(charts / PLOTLY_JS)
    for name, cells in by_model.items():
        folder = context.path(CHARTS_DIR, "models", slugify(slugs[name]))
        folder.mkdir(parents=True)
        for view in views:
            pool = results if view.per_model == "highlight" else cells
            mode = {"highlight": name} if view.per_model == "highlight" else {"only": name}
            data = chart_data(view, pool, **mode)
            if write_html:
                spec = figure_spec(view, pool, context.theme, data=data, **mode)
                _write_page(context, folder / f"{view.name}.html", view, spec, data, inline_plotly=False,
                            subject=name, plotly_src=f"../../{PLOTLY_JS}")  # fmt: skip
            if png:
                static = figure_spec(view, pool, "presentation", static=True, data=data, **mode)
                context.images.append(ImageJob(static, {"png": folder / f"{view.name}.png"}))


def _copy_plotly(target: Path) -> None:
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / PLOTLY_JS, target)


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("assets")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_html(spec: Mapping[str, Any], div_id: str) -> str:
    """plotly's HTML for a figure: a div with a fixed id (deterministic output) and its script,
    without plotly.js (the page loads it once)."""
    import plotly.io as pio

    return pio.to_html(
        dict(spec),
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        validate=False,
        config={"displaylogo": False, "responsive": True},
    )


def _write_page(
    context: BuildContext,
    path: Path,
    view: View,
    spec: Mapping[str, Any],
    data: ChartData,
    *,
    inline_plotly: bool,
    subject: str | None = None,
    plotly_src: str = "",
) -> None:
    from markupsafe import Markup

    template = _environment().get_template("chart_page.html.j2")
    title = f"{subject}: {view.title}" if subject else view.title
    models = len({p.result.model.name for p in data.points})
    summary = f"{len(data.points)} cells of {models} model{'s' if models != 1 else ''} plotted"
    text = template.render(
        title=title,
        description=view.description,
        # plotly's own output (its JSON escapes <, > and /) and plotly.js itself: trusted
        chart=Markup(figure_html(spec, f"chart-{view.name}")),
        plotly_js_inline=Markup(_plotly_js()) if inline_plotly else "",
        plotly_js_src=plotly_src,
        failed=[_failed_row(r) for r in data.failed],
        missing=[{"model": r.model.name, "setting": setting_text(r), "metric": m} for r, m in data.missing],
        summary=summary,
        colors=PAGE_COLORS["dark" if context.theme == "dark" else "light"],
    )
    path.write_text(text, encoding="utf-8")


def _failed_row(result: Result) -> dict[str, str]:
    error = result.error
    message = f"{error.type}: {error.message}" if error else ""
    return {
        "model": result.model.name,
        "setting": setting_text(result),
        "status": result.status,
        "message": message[:500],
        "line": failure_text(result),
    }


# --------------------------------------------------------------------------- the site step


def write_site(context: BuildContext) -> None:
    """The MkDocs site (report.site): docs/ from templates/ and site/, mkdocs.yml, and the
    site/ that `mkdocs build --strict` makes, with the slide view as one of its pages."""
    from report.site import HOME_VIEW, build_site
    from report.slides import SLIDES_PAGE, slides_page

    if HOME_VIEW not in context.views:
        context.notes.append(
            f"site skipped: its home page draws the {HOME_VIEW!r} view, which --view left out"
        )
        return
    results = list(context.results)
    pages = {SLIDES_PAGE: slides_page(results, views=context.views)} if results else None
    build_site(results, context.staging, views=context.views, extra_pages=pages)
    context.notes.append("site: docs/ and mkdocs.yml rendered, site/ built with mkdocs --strict")


STEPS: list[Step] = [write_charts, write_site]
