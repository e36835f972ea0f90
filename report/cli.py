"""`python -m report`: the report's command line.

`python -m report RESULTS... --out build/` runs the default command, `build`: the one pipeline
(report.build) with every step, or those `--steps` names. Other commands
live in their own modules, listed in COMMANDS: `python -m report slides ...` runs
report.slides_cli, `python -m report serve ...` the first of report.serve_cli / report.serve
that exists. Such a module defines `add_arguments(parser)` and `run(args) -> int` (its
docstring's first paragraph is its help); adding a command is one line in COMMANDS. A first
argument that names a command runs it; anything else is the build command's arguments (to
build a results folder that happens to be called `slides`, write `python -m report build slides`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from report.animate import DEFAULT_FRAMES
from report.export import DEFAULT_TABS

if TYPE_CHECKING:
    from report.build import BuildReport

# command -> modules that may implement it, first found wins
COMMANDS: dict[str, tuple[str, ...]] = {
    "build": ("report.cli",),
    "slides": ("report.slides_cli",),
    "serve": ("report.serve_cli", "report.serve"),
    "import": ("report.import_cli",),
    "compare": ("report.compare_cli",),
    "fit": ("report.fit_cli",),
}
DEFAULT_COMMAND = "build"

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, a failed render: nothing was written
EXIT_IMAGES_SKIPPED = 3  # HTML written, static images not (no Chromium)
EXIT_STORAGE = 4  # --out cannot be written (full disk, read-only, not a folder), as in bench


def say(text: object, err: bool = False) -> None:
    """Print a line that may hold names from result files: control characters shown escaped."""
    from bench.safetext import visible

    print(visible(str(text)), file=sys.stderr if err else sys.stdout)


# --------------------------------------------------------------------------- the build command


def frames_count(text: str) -> int:
    """--frames: 0 (no animation) or at least 2."""
    value = int(text)
    if value != 0 and value < 2:
        raise argparse.ArgumentTypeError("--frames takes 0 (no animation) or at least 2")
    return value


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every pipeline command shares (build, slides): input, views, deck, cache."""
    parser.add_argument(
        "--views",
        metavar="FILE",
        help="a YAML file of extra views (or replacements, by name) on top of the built-in ones "
        "in report/views.yaml; see that file for the keys",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave out result files that fail validation and list them, instead of stopping at the "
        "first one",
    )
    parser.add_argument("--title", help="the deck's title (default: gpuscape results)")
    parser.add_argument(
        "--template",
        metavar="PPTX",
        help="a .pptx whose slide layouts and theme the deck uses (its slides are dropped)",
    )
    parser.add_argument(
        "--frames",
        type=frames_count,
        default=DEFAULT_FRAMES,
        help=f"frames in one turn of the landscape animation (default {DEFAULT_FRAMES}; 0: no animation)",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="where rendered images are kept by content, so a rebuild renders only what changed "
        "(default: OUT/.cache)",
    )
    parser.add_argument("--no-cache", action="store_true", help="render every image afresh and keep none")
    parser.add_argument(
        "--mix",
        action="store_true",
        help="draw the cells of every hardware, measured and estimated, in one static image (and "
        "open the interactive charts on all of them); default: one image per hardware, "
        "charts/hardware/<hardware>/<view>.png, measured and estimated apart",
    )


def check_template(path: str | None) -> str | None:
    """Why a --template cannot be used, or None."""
    import zipfile
    from pathlib import Path

    if path is None:
        return None
    if not Path(path).is_file():
        return f"{path}: no such template file"
    if not zipfile.is_zipfile(path):
        return f"{path}: not a .pptx file (a PowerPoint template is a zip package)"
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The build command's options."""
    from report.build import DEFAULT_FORMATS, FORMATS, STEPS

    parser.add_argument(
        "results",
        nargs="*",
        metavar="RESULTS",
        help="result files or folders (searched recursively for *.json), e.g. results/ or "
        "results/cpu-small results/gpu-reference",
    )
    parser.add_argument(
        "--out",
        default="build",
        metavar="DIR",
        help="where to write (default: build/). charts/ is replaced as a whole once everything "
        "has rendered, so a failed run leaves the previous charts as they were",
    )
    parser.add_argument(
        "--formats",
        default=",".join(DEFAULT_FORMATS),
        metavar="LIST",
        help=f"comma-separated outputs, any of {', '.join(FORMATS)} (default: all). png is "
        "1920x1080 (a 960x540 layout at scale 2); svg and pdf embed 3D scenes as pictures",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        metavar="LIST",
        help=f"comma-separated steps of the pipeline, any of {', '.join(STEPS)} (default: all): "
        "charts into OUT/charts, the MkDocs site into OUT/docs and OUT/site, the deck and the "
        "turning landscape into OUT/slides",
    )
    parser.add_argument(
        "--compare",
        action="append",
        metavar="BASE",
        help="base results (folder or file; repeat for more) to compare these results against: "
        "the site gets a Compare page, as `python -m report compare BASE RESULTS` prints it",
    )
    parser.add_argument(
        "--view",
        action="append",
        dest="view_names",
        metavar="NAME",
        help="draw only this view (repeat for more; default: every view)",
    )
    parser.add_argument(
        "--theme",
        choices=("light", "dark"),
        default="light",
        help="colours of the charts, the static images and the deck: dark puts them on the "
        "site's dark page colour with light text",
    )
    parser.add_argument(
        "--tabs",
        type=int,
        default=DEFAULT_TABS,
        metavar="N",
        help=f"browser tabs rendering images side by side (default: {DEFAULT_TABS})",
    )
    parser.add_argument(
        "--fast-3d",
        action="store_true",
        help="draw 3D scenes without antialiasing: rougher edges, about a third less time per 3D "
        "image on a machine without a GPU",
    )
    parser.add_argument(
        "--no-site",
        action="store_true",
        help="charts only (the same as --steps charts): no site, no deck, no animation",
    )
    parser.add_argument(
        "--list-metrics", action="store_true", help="print the metric ids a view can use and exit"
    )
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the pipeline; print what was written, skipped and why. Returns the exit status."""
    from report.build import STEPS

    if args.list_metrics:
        return _list_metrics()
    steps = ["charts"] if args.no_site else [s.strip() for s in args.steps.split(",") if s.strip()]
    report = run_pipeline(args, steps=None if steps == list(STEPS) else steps)
    if isinstance(report, int):
        return report
    _print_report(report)
    if report.images_skipped:
        print(f"error: {report.images_skipped}", file=sys.stderr)
        return EXIT_IMAGES_SKIPPED
    return EXIT_OK


def run_pipeline(args: argparse.Namespace, **options: Any) -> BuildReport | int:
    """report.build.build with the shared options in `args` (and `options`); after printing
    the one-line error, the exit status where the input is bad (EXIT_ERROR) or --out cannot
    be written (EXIT_STORAGE)."""
    from report.build import build
    from report.export import ExportError
    from report.load import InvalidResultError, ResultsNotFoundError
    from report.site import SiteError
    from report.views import ViewError

    if not args.results:
        print("error: give at least one results file or folder (python -m report --help)", file=sys.stderr)
        return EXIT_ERROR
    problem = check_template(args.template)
    if problem:
        say(f"error: {problem}", err=True)
        return EXIT_ERROR
    try:
        return build(
            args.results,
            args.out,
            formats=getattr(args, "formats", "png").split(","),
            views_file=args.views,
            view_names=getattr(args, "view_names", None),
            skip_invalid=args.skip_invalid,
            theme=getattr(args, "theme", "light"),
            tabs=max(1, getattr(args, "tabs", DEFAULT_TABS)),
            antialias=not getattr(args, "fast_3d", False),
            title=args.title,
            template=args.template,
            frames=args.frames,
            cache=not args.no_cache,
            cache_dir=args.cache,
            compare=getattr(args, "compare", None),
            mix=args.mix,
            **options,
        )
    except (InvalidResultError, ResultsNotFoundError, ViewError, ExportError, SiteError, ValueError) as error:
        say(f"error: {error}", err=True)
        return EXIT_ERROR
    except OSError as error:  # the output folder: one line naming the path and the cause
        from bench.store import describe_os_error

        say(f"error: cannot write {error.filename or args.out}: {describe_os_error(error)}", err=True)
        return EXIT_STORAGE


def _print_report(report: BuildReport) -> None:
    if report.unchanged:
        say(
            f"nothing changed since the last build: {report.out}/ is up to date ({report.timings_s['total_s']:.1f} s)"
        )
        return
    for invalid in report.skipped_inputs:
        say(f"skipped: {invalid}", err=True)
    for duplicate in report.duplicates:
        say(f"skipped: {duplicate}: the same cell as an earlier file", err=True)
    for note in report.notes:
        say(f"note: {note}", err=True)
    files = len(report.written)
    say(
        f"{report.results} results -> {files} files in {report.out}/ "
        f"({report.rendered} images rendered, {report.cached} from the cache; "
        f"{report.timings_s.get('total_s', 0.0):.1f} s)"
    )
    if report.skipped_inputs:
        print(f"{len(report.skipped_inputs)} invalid result file(s) skipped (listed above)", file=sys.stderr)


def _list_metrics() -> int:
    from bench.schema import METRICS

    for metric in METRICS.values():
        scale = "log" if metric.log else "linear"
        print(f"{metric.id:22} {metric.title():38} {scale}")
    return EXIT_OK


# --------------------------------------------------------------------------- dispatch


def _load_command(name: str) -> ModuleType | None:
    """The module behind a command, or None where none is installed (yet)."""
    for candidate in COMMANDS[name]:
        try:
            module = importlib.import_module(candidate)
        except ModuleNotFoundError as error:
            if error.name == candidate:
                continue
            raise
        if hasattr(module, "add_arguments") and hasattr(module, "run"):
            return module
    return None


def _parser(name: str, module: ModuleType) -> argparse.ArgumentParser:
    doc = (module.__doc__ or "").strip()
    parser = argparse.ArgumentParser(
        prog=f"python -m report {name}" if name != DEFAULT_COMMAND else "python -m report",
        description=doc.split("\n\n")[0] if name != DEFAULT_COMMAND else BUILD_DESCRIPTION,
        epilog=_epilog() if name == DEFAULT_COMMAND else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    return parser


BUILD_DESCRIPTION = textwrap.dedent(
    """\
    Render gpuscape result files in one pass: the results are loaded and validated once, one
    summary is computed, then the steps run and every image is drawn in one browser:
      charts     build/charts/<view>.html (interactive, self-contained), .png/.svg/.pdf
                 (slide-ready), charts/models/<model>/<view>.html and .png
      site       the MkDocs site: build/docs, build/mkdocs.yml, build/site (mkdocs --strict)
      deck       build/slides/deck.pptx (16:9, speaker notes), reusing the chart images
      animation  build/slides/landscape.gif (.mp4): the 3D landscape turning once
    Images are kept in build/.cache by content: a rebuild renders only what changed.

    Exit status: 0 done; 1 bad input or a failed render (nothing written); 3 HTML and the site
    written but no static images, deck or animation, because Chromium was not found; 4 --out
    cannot be written (full disk, read-only, not a folder)."""
)


def _epilog() -> str:
    others = [name for name in COMMANDS if name != DEFAULT_COMMAND]
    available = [name for name in others if _load_command(name) is not None]
    line = f"other commands: {', '.join(available)} (python -m report COMMAND --help)" if available else ""
    return line


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; the first argument picks it when it names one, else `build`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv[0] if argv and argv[0] in COMMANDS else DEFAULT_COMMAND
    if argv and argv[0] == name:
        argv = argv[1:]
    module = _load_command(name)
    if module is None:
        print(f"error: the '{name}' command is not part of this installation yet", file=sys.stderr)
        return EXIT_ERROR
    args = _parser(name, module).parse_args(argv)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
