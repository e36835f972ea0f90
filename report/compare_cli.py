"""Compare two result sets: ratios candidate / base with 95 % bootstrap intervals, worst first.

`python -m report compare BASE CANDIDATE [--threshold 1.10] [--fail-on-regression] [--out DIR]`:
BASE and CANDIDATE are results folders or result files (several joined by commas). Cells are matched by model, setting and
hardware; decode tokens/s, prefill latency and peak memory are compared (see report/compare.py).
With --out, DIR/compare.json, DIR/compare.md (the Compare page) and DIR/compare.html (the chart).

Exit status: 0 done; 1 with --fail-on-regression when any regression was found; 2 bad input
(a missing path, an invalid result file, no results, a threshold not above 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from report.compare import DEFAULT_THRESHOLD

    parser.add_argument("base", metavar="BASE", help="the reference results: a folder or a result file")
    parser.add_argument(
        "candidate", metavar="CANDIDATE", help="the results to judge: a folder or a result file"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"a change counts only beyond this factor (default {DEFAULT_THRESHOLD}: 10 %%)",
    )
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when any regression is found (CI)"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="also write compare.json, compare.md and compare.html here"
    )


def run(args: argparse.Namespace) -> int:
    """Compare, print the table; write the files with --out. Returns the exit status."""
    from report.compare import compare, compare_page, figure, format_table, write_json
    from report.load import InvalidResultError, ResultsNotFoundError, load_results

    sides = []
    for path in (args.base, args.candidate):
        try:
            results = load_results([part for part in path.split(",") if part])
        except (InvalidResultError, ResultsNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if not len(results):
            print(f"error: {path}: no result files", file=sys.stderr)
            return EXIT_BAD_INPUT
        sides.append(results)
    try:
        comparison = compare(
            sides[0], sides[1], threshold=args.threshold, base_name=args.base, candidate_name=args.candidate
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(format_table(comparison))
    if args.out:
        out = Path(args.out)
        json_path = write_json(comparison, out)
        fig = figure(comparison)
        (out / "compare.md").write_text(compare_page(comparison, fig))
        fig.write_html(out / "compare.html", include_plotlyjs=True)
        print(f"wrote {json_path}, {out / 'compare.md'}, {out / 'compare.html'}")
    if args.fail_on_regression and comparison.regressions:
        return EXIT_REGRESSION
    return EXIT_OK
