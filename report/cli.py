"""`python -m report`: the report's command line.

`python -m report RESULTS... --out build/` runs the default command, `build`. Other commands
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

from report.export import DEFAULT_TABS

# command -> modules that may implement it, first found wins
COMMANDS: dict[str, tuple[str, ...]] = {
    "build": ("report.cli",),
    "slides": ("report.slides_cli",),
    "serve": ("report.serve_cli", "report.serve"),
    "import": ("report.import_cli",),
    "compare": ("report.compare_cli",),
}
DEFAULT_COMMAND = "build"

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, a failed render: nothing was written
EXIT_IMAGES_SKIPPED = 3  # HTML written, static images not (no Chromium)


# --------------------------------------------------------------------------- the build command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The build command's options."""
    from report.build import DEFAULT_FORMATS, FORMATS

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
        "--views",
        metavar="FILE",
        help="a YAML file of extra views (or replacements, by name) on top of the built-in ones "
        "in report/views.yaml; see that file for the keys",
    )
    parser.add_argument(
        "--view",
        action="append",
        dest="view_names",
        metavar="NAME",
        help="draw only this view (repeat for more; default: every view)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave out result files that fail validation and list them, instead of stopping at the "
        "first one",
    )
    parser.add_argument(
        "--theme",
        choices=("light", "dark"),
        default="light",
        help="colours of the interactive HTML charts (static images always use the light "
        "presentation template)",
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
        help="charts only: skip the MkDocs site (docs/, mkdocs.yml and the built site/)",
    )
    parser.add_argument(
        "--list-metrics", action="store_true", help="print the metric ids a view can use and exit"
    )


def run(args: argparse.Namespace) -> int:
    """Build the charts; print what was written, skipped and why. Returns the exit status."""
    from report.build import build, write_charts
    from report.export import ExportError
    from report.load import InvalidResultError, ResultsNotFoundError
    from report.site import SiteError
    from report.views import ViewError

    if args.list_metrics:
        return _list_metrics()
    if not args.results:
        print("error: give at least one results file or folder (python -m report --help)", file=sys.stderr)
        return EXIT_ERROR
    try:
        report = build(
            args.results,
            args.out,
            formats=args.formats.split(","),
            views_file=args.views,
            view_names=args.view_names,
            skip_invalid=args.skip_invalid,
            theme=args.theme,
            tabs=max(1, args.tabs),
            antialias=not args.fast_3d,
            steps=[write_charts] if args.no_site else None,
        )
    except (InvalidResultError, ResultsNotFoundError, ViewError, ExportError, SiteError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    for invalid in report.skipped_inputs:
        print(f"skipped: {invalid}", file=sys.stderr)
    for duplicate in report.duplicates:
        print(f"skipped: {duplicate}: the same cell as an earlier file", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    files = len(report.written)
    print(
        f"{report.results} results -> {files} files in {report.out}/ "
        f"({report.timings_s.get('total_s', 0.0):.1f} s)"
    )
    if report.skipped_inputs:
        print(f"{len(report.skipped_inputs)} invalid result file(s) skipped (listed above)", file=sys.stderr)
    if report.images_skipped:
        print(f"error: {report.images_skipped}", file=sys.stderr)
        return EXIT_IMAGES_SKIPPED
    return EXIT_OK


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
    Render gpuscape result files into charts: build/charts/<view>.html (interactive,
    self-contained, works offline), <view>.png/.svg/.pdf (slide-ready, one browser for the
    whole batch), and charts/models/<model>/<view>.html and .png for the model pages.

    Exit status: 0 done; 1 bad input or a failed render (nothing written); 3 HTML written but
    no static images, because Chromium was not found."""
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
