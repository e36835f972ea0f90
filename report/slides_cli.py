"""Make the slides: <out>/deck.pptx (16:9; a slide per view and per model, findings,
methodology, speaker notes with the numbers) and <out>/landscape.gif (.mp4), the 3D landscape
turning once. Exit status: 0 done, 1 bad input (results, views, template), 2 no Chromium or a
failed render (no deck written).

A thin wrapper over report.slides.build_slides; report.cli dispatches `python -m report
slides` here (add_arguments, run), and `main(argv)` runs it alone.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from report.animate import DEFAULT_FRAMES

if TYPE_CHECKING:
    from report.slides import SlidesBuild

DEFAULT_OUT = Path("build/slides")


def _frames(text: str) -> int:
    value = int(text)
    if value != 0 and value < 2:
        raise argparse.ArgumentTypeError("--frames takes 0 (no animation) or at least 2")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `slides` options, for this module's own parser or the report CLI's subparser."""
    parser.add_argument(
        "results", nargs="+", type=Path, help="result files or folders (searched recursively)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.add_argument("--title", help="the title slide's title (default: gpuscape results)")
    parser.add_argument(
        "--template",
        type=Path,
        help="a .pptx whose slide layouts and theme the deck uses (its slides are dropped)",
    )
    parser.add_argument(
        "--frames",
        type=_frames,
        default=DEFAULT_FRAMES,
        help=f"frames in one turn of the landscape animation (default {DEFAULT_FRAMES}; 0: no animation)",
    )
    parser.add_argument(
        "--views", type=Path, help="a YAML file of views added to (or replacing) the built-in ones"
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave out result files that do not validate, and list them",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m report slides",
        description="Make a 16:9 PowerPoint deck of the charts (deck.pptx, with speaker notes) and a GIF/MP4 "
        "of the 3D landscape turning once, from result files.",
    )
    add_arguments(parser)
    return parser


def _check_template(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        return f"{path}: no such template file"
    if not zipfile.is_zipfile(path):
        return f"{path}: not a .pptx file (a PowerPoint template is a zip package)"
    return None


def run(args: argparse.Namespace) -> int:
    """Build the slides as `args` say; messages go to stderr, the summary to stdout."""
    from report.animate import AnimationError
    from report.export import BrowserNotFoundError, ExportError
    from report.load import InvalidResultError, ResultsNotFoundError, load_results
    from report.slides import build_slides
    from report.views import ViewError, load_views

    problem = _check_template(args.template)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    try:
        loaded = load_results(args.results, skip_invalid=args.skip_invalid)
        views = load_views(args.views) if args.views else None
    except (InvalidResultError, ResultsNotFoundError, ViewError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for invalid in loaded.skipped:
        print(f"skipped: {invalid}", file=sys.stderr)
    if not loaded.results:
        print("error: no results found under " + ", ".join(map(str, args.results)), file=sys.stderr)
        return 1
    try:
        built = build_slides(
            loaded.results,
            args.out,
            title=args.title,
            template=args.template,
            frames=args.frames,
            views=views,
        )
    except (BrowserNotFoundError, ExportError, AnimationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _summary(built)
    return 0


def _summary(built: SlidesBuild) -> None:
    t = built.timings
    print(f"{built.deck}: {built.slides} slides, {len(built.images)} images ({t['images_s']:.1f} s)")
    animation = built.animation
    if animation is not None:
        made = f"{animation.gif}" + (f" and {animation.mp4}" if animation.mp4 else f" ({animation.mp4_note})")
        print(
            f"{made}: {animation.frames} frames at {animation.size[0]}x{animation.size[1]}, "
            f"rendered in {animation.render_s:.1f} s"
        )
    print(f"slides done in {t['total_s']:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
