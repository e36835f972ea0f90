"""The report's one pipeline: `build(paths, out)` loads and validates the results once, computes
one summary (report.summary), runs the chosen steps (charts, site, deck, animation), then renders
every image the steps queued (charts, model charts, deck pictures, animation frames) in one
browser session (report.export) and lets the steps finish with what was rendered.

Nothing is half-written: everything goes into a temporary folder next to `out`; only when every
step and every image has succeeded does each top-level entry (charts/, docs/, site/, slides/ ...)
replace its old copy in `out`. Images, the deck, the animation and the built site are kept in
<out>/.cache by the content that makes them (report.cache), so a rebuild with nothing changed
renders nothing and a changed value re-renders only the images it touches.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.schema import Result, slugify
from report import animate
from report.cache import CACHE_DIR, Cache, digest, file_digest, tree_digest
from report.charts import (
    ChartData,
    Template,
    chart_data,
    figure_spec,
    frame_data,
    legend_column_px,
    model_views,
    reuse_figures,
    static_frames,
    title_band_px,
)
from report.compare import Comparison
from report.embed import PLOTLY_JS, embed, plotly_js_path, plotly_js_text, untitled
from report.export import (
    DEFAULT_TABS,
    HEIGHT,
    IMAGE_FORMATS,
    SCALE,
    WIDTH,
    BrowserNotFoundError,
    ExportError,
    ExportStats,
    ImageJob,
    TurnJob,
    export_images,
    renderer_version,
)
from report.load import Invalid, ResultSet, load_results
from report.summary import DEFAULT_TITLE, Summary, summarize, unique_slugs
from report.text import failure_line, setting_text
from report.views import DECK_HARDWARE, View, deck_views, load_views

FORMATS = ("html", *IMAGE_FORMATS)
DEFAULT_FORMATS = FORMATS
CHARTS_DIR = "charts"
SLIDES_DIR = "slides"
STATIC_TEMPLATE: Template = "presentation"  # report.charts' template for every static image
STATIC_TEMPLATE_DARK: Template = "presentation-dark"  # ...under --theme dark (and a dark deck)
ANIMATED_VIEW = "landscape"  # the view the animation turns
DECK_IMAGES_DIR = "images"  # the deck's own pictures, where no chart image serves

PAGE_COLORS = {
    "light": {"text": "#2a3f5f", "background": "#ffffff", "rule": "#e5e8ef", "muted": "#667"},
    "dark": {"text": "#f2f5fa", "background": "#111111", "rule": "#333", "muted": "#aab"},
}


@dataclass
class BuildContext:
    """What a build step reads (results, summary, views, options) and where it writes (`staging`)."""

    results: ResultSet
    summary: Summary
    views: Mapping[str, View]
    staging: Path  # the temporary build root; moved into place entry by entry at the end
    formats: frozenset[str]
    theme: Template = "light"
    cache: Cache = field(default_factory=lambda: Cache(None))
    antialias: bool = True
    title: str = DEFAULT_TITLE
    template: Path | None = None  # the deck's .pptx template
    frames: int = animate.DEFAULT_FRAMES
    slides_dir: str = SLIDES_DIR  # "" puts the deck at the top of `out` (python -m report slides)
    images: list[ImageJob] = field(default_factory=list)  # rendered after the last step
    turns: list[TurnJob] = field(default_factory=list)
    finish: list[Callable[[ExportStats], None]] = field(default_factory=list)  # after rendering
    notes: list[str] = field(default_factory=list)  # one-line remarks for the user
    queued: dict[str, Path] = field(default_factory=dict)  # image key -> where it will be
    out: Path = Path("build")
    keep: dict[str, str] = field(default_factory=dict)  # published entries left as they are, by key
    published: dict[str, str] = field(default_factory=dict)  # keys of the entries this build publishes
    cached_images: int = 0
    animation: animate.Animation | None = None
    comparison: Comparison | None = None  # --compare BASE: the site's Compare page
    mix: bool = False  # --mix: static images draw every frame (hardware and method) in one picture
    copies: list[tuple[Path, Path]] = field(default_factory=list)  # (rendered, also here) after rendering
    drawn: dict[Path, list[Result]] = field(default_factory=dict)  # image path -> the results it draws

    @property
    def static_template(self) -> Template:
        """report.charts' template for the static images: dark ones under --theme dark."""
        return STATIC_TEMPLATE_DARK if self.theme == "dark" else STATIC_TEMPLATE

    def path(self, *parts: str) -> Path:
        """A path inside the staging folder that cannot leave it (parts are checked)."""
        target = self.staging.joinpath(*[p for p in parts if p]).resolve()
        if not target.is_relative_to(self.staging.resolve()):
            raise ValueError(f"refusing to write outside the build folder: {'/'.join(parts)}")
        return target

    @property
    def results_list(self) -> list[Result]:
        """The results in load order: every figure of a build is drawn from this one list, so
        the same view gives the same spec (and the same cached image) in every step."""
        return self.results.results

    def image_key(self, figure: Mapping[str, Any], fmt: str, width: int, height: int, scale: float) -> str:
        return digest("image", figure, fmt, width, height, scale, self.antialias, _renderer())

    def write_text(self, path: Path, text: str) -> None:
        """Write a file, linked from the cache where the same text was written before (a chart
        page inlines plotly.js: 4.6 MB a page that needs no second copy on disk)."""
        data = text.encode("utf-8")
        key = hashlib.sha256(data).hexdigest()
        if self.cache.fetch(key, path.suffix, path):
            return
        path.write_bytes(data)
        self.cache.store(key, path.suffix, path)

    def add_image(
        self,
        figure: Mapping[str, Any],
        outputs: Mapping[str, Path],
        size: tuple[int, int] | None = None,
        drawn: ChartData | None = None,
    ) -> dict[str, Path]:
        """Queue a figure for the browser (at `size` layout pixels, default 960x540), unless this
        build already queued the same picture (then its path is returned, and copied to the path
        asked for after rendering) or the cache holds it (then it is placed now). `drawn`: the
        cells it draws, named by an export error. Returns format -> the path that will hold
        the picture."""
        job = ImageJob(figure, outputs, *(size or ()))
        if drawn is not None:
            cells = [p.result for p in drawn.points + drawn.context]
            self.drawn.update({path: cells for path in outputs.values()})
        placed: dict[str, Path] = {}
        render: dict[str, Path] = {}
        for fmt, path in outputs.items():
            key = self.image_key(figure, fmt, job.width, job.height, job.scale)
            if key in self.queued:
                placed[fmt] = self.queued[key]
                if path != placed[fmt]:  # the same picture wanted in a second place: a copy
                    self.copies.append((placed[fmt], path))
            elif self.cache.fetch(key, f".{fmt}", path):
                self.queued[key] = placed[fmt] = path
                self.cached_images += 1
            else:
                self.queued[key] = placed[fmt] = render[fmt] = path
        if render:
            self.images.append(ImageJob(figure, render, job.width, job.height, job.scale))
        return placed


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
    rendered: int = 0  # images the browser drew this time
    cached: int = 0  # images placed from the cache
    animation: animate.Animation | None = None
    unchanged: bool = False  # the inputs were those of the last build: nothing was done


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
    steps: Sequence[str | Step] | None = None,
    title: str | None = None,
    template: str | os.PathLike[str] | None = None,
    frames: int | None = None,
    slides_dir: str = SLIDES_DIR,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    compare: Sequence[str | os.PathLike[str]] | None = None,
    mix: bool = False,
) -> BuildReport:
    """Render the results under `paths` into `out`: `steps` (names from STEPS, or step
    functions; default: all of them, in order). `view_names` limits the views drawn (default:
    all, built-in plus `views_file`). Raises on bad input before writing anything; if no Chromium
    is found the HTML is still written and `images_skipped` says why the images are missing
    (and the deck and the animation are left out, with a note). `slides_dir` is where the deck
    and the animation go inside `out`; `cache_dir` where rendered files are kept (default
    <out>/.cache; `cache=False`: render everything, keep nothing). `compare` names the base
    results of a comparison (report.compare): the site gains a Compare page judging `paths`
    against them."""
    chosen = _formats(formats)
    step_list = _steps(steps)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    paths = list(paths)
    out_dir = Path(out)
    store = Cache((Path(cache_dir) if cache_dir else out_dir / CACHE_DIR) if cache else None)
    base_paths = list(compare or [])
    options = (sorted(chosen), [getattr(s, "__name__", s) for s in step_list], view_names, theme, antialias,
               title, frames, slides_dir, skip_invalid, [str(p) for p in base_paths], mix)  # fmt: skip
    inputs = _inputs_key([*paths, *base_paths], views_file, template, options)
    if store.published(BUILD_ENTRY) == inputs and all(
        (out_dir / e).exists() for e in _published_entries(store)
    ):
        # the same inputs, options and code as the build that made what is in `out`: nothing to do
        timings["total_s"] = time.perf_counter() - started
        return BuildReport(out=out_dir, unchanged=True, timings_s=timings)
    views = _select(load_views(views_file), view_names)
    results = load_results(paths, skip_invalid=skip_invalid)
    comparison = _comparison(base_paths, results, skip_invalid) if base_paths else None
    timings["load_s"] = time.perf_counter() - started
    began = time.perf_counter()
    summary = summarize(results)
    timings["summary_s"] = time.perf_counter() - began
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gpuscape-build-", dir=out_dir)).resolve()
    report = BuildReport(
        out=out_dir, results=len(results), skipped_inputs=results.skipped, duplicates=results.duplicates
    )
    try:
        context = BuildContext(
            results,
            summary,
            views,
            staging,
            chosen,
            theme,
            cache=store,
            antialias=antialias,
            title=title or DEFAULT_TITLE,
            template=Path(template) if template else None,
            frames=animate.DEFAULT_FRAMES if frames is None else frames,
            slides_dir=slides_dir,
            out=out_dir,
            comparison=comparison,
            mix=mix,
        )
        with reuse_figures():  # a view the charts, the site and the deck all draw is drawn once
            for step in step_list:
                began = time.perf_counter()
                step(context)
                timings[f"{getattr(step, '__name__', 'step')}_s"] = time.perf_counter() - began
        began = time.perf_counter()
        stats, report.images_skipped = _render(context, tabs, antialias)
        _place_copies(context)
        timings["images_s"] = time.perf_counter() - began
        report.rendered, report.cached = stats.figures, context.cached_images
        began = time.perf_counter()
        for finish in context.finish:
            finish(stats)
        timings["finish_s"] = time.perf_counter() - began
        report.notes = results.notes + context.notes
        report.animation = context.animation
        report.written = _publish(staging, out_dir)
        entries = sorted({p.parts[0] for p in report.written} | set(context.keep))
        built = {BUILD_ENTRY: inputs if not report.images_skipped else "", ENTRIES: ",".join(entries)}
        context.cache.mark_published({**context.keep, **context.published, **built})
        if steps is None:
            context.cache.prune()  # a full build: drop what no current output uses
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    timings["total_s"] = time.perf_counter() - started
    report.timings_s = timings
    return report


@functools.lru_cache(maxsize=1)
def _renderer() -> str:
    return renderer_version()


BUILD_ENTRY, ENTRIES = "build", "build-entries"  # the last whole build's inputs key, its outputs


def _inputs_key(
    paths: Sequence[str | os.PathLike[str]],
    views_file: str | os.PathLike[str] | None,
    template: str | os.PathLike[str] | None,
    options: Any,
) -> str:
    """Everything a build reads: the result files (names and bytes), the views, the deck's
    template, the site's sources (the working folder's or the packaged ones), the code of
    bench and report, the renderer, the options and the environment the site reads."""
    from report.load import ResultsNotFoundError, result_files
    from report.site import resolve_mkdocs_base, resolve_sources, resolve_templates

    try:
        files = result_files(paths)
    except ResultsNotFoundError:
        return ""  # the real load says what is missing
    code = [p for package in ("bench", "report") for p in sorted(Path(__file__).parent.parent.joinpath(package).rglob("*")) if p.is_file() and p.suffix in (".py", ".yaml", ".yml", ".j2", ".js", ".html", ".md", ".css", ".json")]  # fmt: skip
    extra = [Path(p) for p in (views_file, template) if p]
    trees = [resolve_templates(), resolve_sources()]
    return digest(
        "build",
        [str(p) for p in files],
        file_digest(files),
        file_digest([*extra, resolve_mkdocs_base()]),
        [tree_digest(t) if t.is_dir() else "" for t in trees],
        file_digest(code),
        _renderer(),
        os.environ.get("SITE_URL", ""),
        options,
    )


def _comparison(
    base_paths: Sequence[str | os.PathLike[str]], results: ResultSet, skip_invalid: bool
) -> Comparison:
    """The candidate (this build's results) judged against the base results (report.compare)."""
    from report.compare import compare

    base = load_results(base_paths, skip_invalid=skip_invalid)
    if not len(base):
        raise ValueError(f"--compare {', '.join(map(str, base_paths))}: no result files")
    names = ", ".join(str(p) for p in base_paths)
    return compare(base, results, base_name=f"base ({names})", candidate_name="candidate (this report)")


def _published_entries(cache: Cache) -> list[str]:
    return [e for e in (cache.published(ENTRIES) or "").split(",") if e]


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


def _steps(steps: Sequence[str | Step] | None) -> list[Step]:
    if steps is None:
        return list(STEPS.values())
    chosen = []
    for step in steps:
        if callable(step):
            chosen.append(step)
        elif step.strip() in STEPS:
            chosen.append(STEPS[step.strip()])
        else:
            raise ValueError(f"unknown step {step!r}; known: {', '.join(STEPS)}")
    return chosen


def _render(context: BuildContext, tabs: int, antialias: bool) -> tuple[ExportStats, str | None]:
    """Every queued image and turn in one browser; then each new image goes into the cache.
    Without a Chromium: no images (the steps' finishers then leave out what needs them) and
    the reason."""
    if not context.images and not context.turns:
        return ExportStats(), None
    try:
        stats = export_images(context.images, turns=context.turns, tabs=tabs, antialias=antialias)
    except BrowserNotFoundError as error:
        return ExportStats(), str(error)
    except ExportError as error:  # name where the image would have gone, not the staging folder
        raise ExportError(_export_message(context, str(error))) from None
    for job in context.images:
        for fmt, path in job.outputs.items():
            key = context.image_key(job.figure, fmt, job.width, job.height, job.scale)
            context.cache.store(key, f".{fmt}", path)
    return stats, None


def _export_message(context: BuildContext, message: str, named: int = 3) -> str:
    """An export error naming the image under --out (not the staging folder, already gone)
    and the result files the image draws, so the input behind it can be found."""
    drawn = next((cells for path, cells in context.drawn.items() if str(path) in message), [])
    text = message.replace(str(context.staging), str(context.out))
    files = sorted({str(f) for r in drawn if (f := context.results.source(r)) is not None})
    if files:
        more = f" and {len(files) - named} more" if len(files) > named else ""
        text += f" (the image draws {len(files)} result file{'s' if len(files) != 1 else ''}: {', '.join(files[:named])}{more})"
    return text


def _place_copies(context: BuildContext) -> None:
    """Where a step asked for a picture another step had queued: a copy of the one drawn (or
    fetched from the cache); none where it was not made (no Chromium)."""
    for source, target in context.copies:
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


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
    """charts/<view>.html (self-contained, with a hardware selector) and .png/.svg/.pdf for every
    view. Cells of different hardware (or measured and estimated ones) never share a static
    image: charts/<view>.png draws the frame the interactive chart opens on, and where there are
    several, charts/hardware/<frame>/<view>.png draws each (`--mix`: one image of them all). For
    the model pages charts/models/<slug>/<view>.html (sharing charts/plotly.min.js) and .png."""
    results = context.results_list
    charts = context.path(CHARTS_DIR)
    charts.mkdir(parents=True)
    image_formats = sorted(context.formats & set(IMAGE_FORMATS))
    for view in context.views.values():
        data = chart_data(view, results)
        if "html" in context.formats:
            spec = figure_spec(view, results, context.theme, data=data, mix=context.mix)
            _write_page(context, charts / f"{view.name}.html", view, spec, data, inline_plotly=True)
        if not image_formats:
            continue
        frames = static_frames(data, context.mix)
        slugs = unique_slugs(f for f in frames if f is not None)
        for n, frame in enumerate(frames):
            static = figure_spec(view, results, context.static_template, static=True, data=data, frame=frame)
            places = [charts] if n == 0 else []
            if frame is not None:
                places.append(context.path(CHARTS_DIR, HARDWARE_DIR, slugs[frame]))
            shown = frame_data(data, frame)
            for place in places:
                place.mkdir(parents=True, exist_ok=True)
                context.add_image(
                    static, {fmt: place / f"{view.name}.{fmt}" for fmt in image_formats}, drawn=shown
                )
    _write_model_charts(context, results, charts)


HARDWARE_DIR = "hardware"  # charts/hardware/<frame slug>/: a view's static images of one hardware


def _write_model_charts(context: BuildContext, results: list[Result], charts: Path) -> None:
    views = model_views(context.views)
    if not views:
        return
    slugs = context.summary.slug_of  # the site's page slugs, so chart folders match its pages
    write_html = "html" in context.formats
    png = "png" in context.formats
    if write_html:
        shutil.copyfile(plotly_js_path(), charts / PLOTLY_JS)
    for model in context.summary.models:
        name, cells = model.name, [r for r in results if r.model.name == model.name]
        folder = context.path(CHARTS_DIR, "models", slugify(slugs[name]))
        folder.mkdir(parents=True)
        for view in views:
            pool, mode = _model_pool(view, name, results, cells)
            data = chart_data(view, pool, **mode)
            if write_html:
                spec = figure_spec(view, pool, context.theme, data=data, **mode)
                _write_page(context, folder / f"{view.name}.html", view, spec, data, inline_plotly=False,
                            subject=name, plotly_src=f"../../{PLOTLY_JS}")  # fmt: skip
            if png:  # the frame the interactive chart opens on: this model's own hardware first
                frame = static_frames(data, context.mix)[0]
                static = figure_spec(
                    view, pool, context.static_template, static=True, data=data, frame=frame, **mode
                )
                context.add_image(static, {"png": folder / f"{view.name}.png"}, drawn=frame_data(data, frame))


def _model_pool(
    view: View, name: str, results: list[Result], cells: list[Result]
) -> tuple[list[Result], dict[str, str]]:
    """The cells a model's chart draws (all of them, the model's highlighted, or its own only)."""
    if view.per_model == "highlight":
        return results, {"highlight": name}
    return cells, {"only": name}


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("assets")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def figure_html(spec: Mapping[str, Any], div_id: str) -> str:
    """plotly's HTML for a figure: a div with a fixed id (deterministic output) and its script,
    without plotly.js (the page loads it once); the data exactly as given."""
    return str(embed(dict(spec), div_id, lean=False))


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
        plotly_js_inline=Markup(plotly_js_text()) if inline_plotly else "",
        plotly_js_src=plotly_src,
        failed=[_failed_row(r) for r in data.failed],
        missing=[{"model": r.model.name, "setting": setting_text(r), "metric": m} for r, m in data.missing],
        summary=summary,
        colors=PAGE_COLORS["dark" if context.theme == "dark" else "light"],
    )
    context.write_text(path, text)


def _failed_row(result: Result) -> dict[str, str]:
    error = result.error
    message = f"{error.type}: {error.message}" if error else ""
    return {
        "model": result.model.name,
        "setting": setting_text(result),
        "status": result.status,
        "message": message[:500],
        "line": failure_line(result),
    }


# --------------------------------------------------------------------------- the site step


def write_site(context: BuildContext) -> None:
    """The MkDocs site (report.site): docs/ from the templates and hand-written pages, mkdocs.yml,
    and the site/ that `mkdocs build --strict` makes, with the slide view as one of its pages.
    The built site is kept by a hash of its sources, so an unchanged site is not built again."""
    from report.site import HOME_VIEW, SLIDES_PAGE, build_site, run_mkdocs, slides_page

    if HOME_VIEW not in context.views:
        context.notes.append(
            f"site skipped: its home page draws the {HOME_VIEW!r} view, which --view left out"
        )
        return
    summary = context.summary
    pages = (
        {SLIDES_PAGE: slides_page(summary.results, views=context.views, summary=summary)}
        if summary.results
        else {}
    )
    if context.comparison is not None:
        from report.compare import COMPARE_PAGE, compare_page

        pages[COMPARE_PAGE] = compare_page(context.comparison)
    docs = build_site(
        summary.results,
        context.staging,
        views=context.views,
        extra_pages=pages or None,
        summary=summary,
        build=False,
    )
    config = context.staging / "mkdocs.yml"
    key = digest("site", tree_digest(docs), config.read_text(encoding="utf-8"), _theme_digest(config))
    site = context.staging / "site"
    if context.cache.published("site") == key and (context.out / "site").is_dir():
        context.keep["site"] = key  # the published site/ is this one: leave it as it is
        context.notes.append("site: docs/ and mkdocs.yml rendered; site/ unchanged since the last build")
        return
    context.keep.pop("site", None)
    context.published["site"] = key
    if context.cache.fetch_tree("site", key, site):
        context.notes.append("site: docs/ and mkdocs.yml rendered; site/ unchanged since the last build")
        return
    run_mkdocs(config, site, strict=True)
    context.cache.store_tree("site", key, site)
    context.notes.append("site: docs/ and mkdocs.yml rendered, site/ built with mkdocs --strict")


def _theme_digest(config: Path) -> str:
    """The theme overrides a generated mkdocs.yml points at (they shape every built page)."""
    import yaml

    theme = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("theme") or {}
    custom = theme.get("custom_dir")
    folder = (config.parent / custom).resolve() if custom else None
    return tree_digest(folder) if folder is not None and folder.is_dir() else ""


# --------------------------------------------------------------------------- the deck step


def write_deck(context: BuildContext) -> None:
    """slides/deck.pptx: after the title and the fit matrix, a slide per hardware (its panel of
    the landscape and its findings), the deck's views and each model's first chart; pictures
    rendered for the box they fill on the slide (no title band: the slide's title names them),
    each view and panel one hardware (as charts/<view>.png); speaker notes throughout."""
    from report import slides

    results = context.results_list
    folder = context.path(context.slides_dir)
    chosen = deck_views(context.views)
    pictures: dict[str, slides.Picture] = {}

    def picture(key: str, spec: dict[str, Any], size: tuple[int, int], crop: float = 0.0) -> None:
        width, height = size
        path = context.add_image(spec, {"png": folder / DECK_IMAGES_DIR / f"{slugify(key)}.png"}, size)
        pictures[key] = slides.Picture(path["png"], crop, (width * SCALE, height * SCALE))

    chart_size = slides.chart_image_px(0)
    band = title_band_px(static=True) - 8  # the title's band, less room for the symbol key's top
    for view in chosen:
        data = chart_data(view, results)
        frame = static_frames(data, context.mix)[0]
        spec = figure_spec(view, results, context.static_template, static=True, data=data, frame=frame,
                           legend_px=legend_column_px(view, chart_size[1], band))  # fmt: skip
        picture(view.name, untitled(spec, band, chart_size[1]), chart_size)
    hardware: list[str] = []
    panel = context.views.get(ANIMATED_VIEW)
    if panel is not None:
        data = chart_data(panel, results)
        hardware = data.frames
        panel_size = slides.chart_image_px(slides.STRIP_LINES)
        legend_px = legend_column_px(panel, panel_size[1], band)  # the shorter picture's legend column
        for frame in hardware[:DECK_HARDWARE]:
            spec = figure_spec(panel, results, context.static_template, static=True, data=data, frame=frame,
                               legend_px=legend_px)  # fmt: skip
            picture(f"hardware:{frame}", untitled(spec, band, panel_size[1]), panel_size)
    first = next(iter(model_views(context.views)), None)
    if first is not None:
        model_band = title_band_px(static=True, subject=True) - 10
        for model in context.summary.models:
            if not model.ok:
                continue
            cells = [r for r in results if r.model.name == model.name]
            pool, mode = _model_pool(first, model.name, results, cells)
            data = chart_data(first, pool, **mode)
            frame = static_frames(data, context.mix)[0]
            spec = figure_spec(
                first, pool, context.static_template, static=True, data=data, frame=frame, **mode
            )
            picture(f"model-{model.slug}", spec, (WIDTH, HEIGHT), model_band / HEIGHT)
    infos = [slides.view_info(v, results) for v in chosen]

    def finish(stats: ExportStats) -> None:
        if not all(p.path.is_file() for p in pictures.values()):
            context.notes.append("deck skipped: its pictures were not rendered (no Chromium)")
            return
        deck = slides.plan_deck(
            results, title=context.title, views=infos, images=pictures, summary=context.summary,
            hardware=hardware if panel is not None else None,
        )  # fmt: skip
        target = folder / slides.DECK_NAME
        key = _deck_key(context, deck)
        if context.cache.fetch(key, ".pptx", target):
            return
        slides.write_deck(deck, target, template=context.template, dark=context.theme == "dark")
        context.cache.store(key, ".pptx", target)

    context.finish.append(finish)


def _deck_key(context: BuildContext, deck: Any) -> str:
    """The deck's content (its text, and the bytes of every picture) and its template."""
    pictures = sorted(
        {s.image.path for s in [*deck.hardware, *deck.views, *deck.models] if s.image is not None}
    )
    plan = str(dataclasses.asdict(deck)).replace(str(context.staging), "")  # where it is built varies
    template = file_digest([context.template]) if context.template else ""
    return digest("deck", plan, file_digest(pictures), template)


# --------------------------------------------------------------------------- the animation step


def write_animation(context: BuildContext) -> None:
    """slides/landscape.gif (.mp4): the landscape turning once (report.animate), its frames
    captured in the build's one browser session; kept by content like the images."""
    view = context.views.get(ANIMATED_VIEW)
    ok = any(r.status == "ok" for r in context.results_list)
    if not context.frames or view is None or not view.is_3d or not ok:
        return
    data = chart_data(view, context.results_list)
    frame = static_frames(data, context.mix)[0]  # the first hardware, as charts/landscape.png
    spec = figure_spec(
        view, context.results_list, context.static_template, static=True, data=data, frame=frame
    )  # titled: a GIF stands alone
    if "scene" not in spec["layout"]:
        return  # cells on one line or at one point are drawn flat (report.charts.flat_data): nothing turns
    cameras = animate.figure_cameras(spec, context.frames)
    folder = context.path(context.slides_dir)
    key = digest("turn", spec, cameras, animate.TURN_S, animate.GIF_FRAMES, _renderer())
    ffmpeg = animate.find_ffmpeg() is not None
    gif, mp4 = folder / f"{ANIMATED_VIEW}.gif", folder / f"{ANIMATED_VIEW}.mp4"
    if context.cache.has(key, ".gif") and (not ffmpeg or context.cache.has(key, ".mp4")):
        context.cache.fetch(key, ".gif", gif)
        if ffmpeg:
            context.cache.fetch(key, ".mp4", mp4)
        context.animation = animate.Animation(
            gif, mp4 if ffmpeg else None, None, context.frames, (1920, 1080), 0.0, 0.0, 0.0
        )
        return
    context.turns.append(TurnJob(ANIMATED_VIEW, animate.turn_figure(spec), cameras))

    def finish(stats: ExportStats) -> None:
        if ANIMATED_VIEW not in stats.frames:
            context.notes.append("animation skipped: its frames were not rendered (no Chromium)")
            return
        frames = animate.check_frames(stats.frames[ANIMATED_VIEW], (1920, 1080))
        made = animate.assemble(
            frames, folder, ANIMATED_VIEW, render_s=stats.render_s, colors=animate.figure_colors(spec)
        )
        context.cache.store(key, ".gif", made.gif)
        if made.mp4 is not None:
            context.cache.store(key, ".mp4", made.mp4)
        context.animation = made

    context.finish.append(finish)


STEPS: dict[str, Step] = {
    "charts": write_charts,
    "site": write_site,
    "deck": write_deck,
    "animation": write_animation,
}
