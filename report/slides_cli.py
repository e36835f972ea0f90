"""Make the slides: <out>/deck.pptx (16:9; the fit matrix, a slide per hardware with its
findings, per view and per model, methodology, speaker notes with the numbers) and <out>/landscape.gif (.mp4), the 3D landscape
turning once. The deck and animation steps of the report's one pipeline (report.build), with
<out> as the slides folder. Exit status: 0 done, 1 bad input (results, views, template),
2 no Chromium or a failed render (no deck written), 4 --out cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from report.cli import EXIT_OK, add_pipeline_arguments, run_pipeline, say

DEFAULT_OUT = "build/slides"
EXIT_NO_DECK = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `slides` options."""
    parser.add_argument("results", nargs="+", help="result files or folders (searched recursively)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """The deck and animation steps into `args.out`; messages go to stderr, the summary to stdout."""
    report = run_pipeline(args, steps=["deck", "animation"], slides_dir="")
    if isinstance(report, int):
        return report
    for invalid in report.skipped_inputs:
        say(f"skipped: {invalid}", err=True)
    if report.images_skipped:
        print(f"error: {report.images_skipped}", file=sys.stderr)
        return EXIT_NO_DECK
    t = report.timings_s
    if report.unchanged:
        print(f"nothing changed since the last build: {report.out}/ is up to date ({t['total_s']:.1f} s)")
        return EXIT_OK
    print(f"{report.out}/deck.pptx: {report.rendered} images rendered, {report.cached} from the cache")
    animation = report.animation
    if animation is not None:
        gif = report.out / animation.gif.name  # where it was published
        made = f"{gif}" + (f" and {gif.with_suffix('.mp4')}" if animation.mp4 else f" ({animation.mp4_note})")
        print(f"{made}: {animation.frames} frames")
    print(f"slides done in {t.get('total_s', 0.0):.1f} s")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m report slides ...` on its own."""
    parser = argparse.ArgumentParser(
        prog="python -m report slides", description=(__doc__ or "").split("\n\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
