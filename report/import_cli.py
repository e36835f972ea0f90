"""Import another tool's benchmark files as gpuscape results (method "imported").

`python -m report import TOOL FILE_OR_FOLDER... --out results/NAME/` reads optimum-benchmark
(0.5, 0.6), vLLM (bench latency/throughput/serve), llama-bench (-o json/jsonl) or GuideLLM (0.3
benchmarks.json) files and writes one result file per measured configuration into results/NAME/.
Every file is read before anything is written; importing the same file again writes nothing.

Exit status: 0 done (also when everything was already imported); 2 bad input (unknown tool,
a file of another tool or version, a missing field): one line naming the file, nothing written.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from report.importers import SETTABLE, TOOLS

    parser.add_argument("tool", metavar="TOOL", help=f"one of: {', '.join(TOOLS)}")
    parser.add_argument(
        "paths", nargs="+", metavar="FILE_OR_FOLDER", help="the tool's files, or folders holding them"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="results folder to write, e.g. results/ob-a100/"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help=f"fill what the files do not record (never replaces a value they have); keys: {', '.join(SETTABLE)}",
    )


def run(args: argparse.Namespace) -> int:
    """Import; print what was written and what was already there. Returns the exit status."""
    from report.importers import ImportProblem, import_paths

    overrides: dict[str, str] = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            print(f"error: --set {item}: expected KEY=VALUE", file=sys.stderr)
            return EXIT_BAD_INPUT
        overrides[key.strip()] = value.strip()
    try:
        report = import_paths(args.tool, args.paths, args.out, overrides)
    except ImportProblem as problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    written, unchanged = len(report.written.written), len(report.written.unchanged)
    print(
        f"{args.tool}: {len(report.results)} configurations -> {written} new result file(s) in "
        f"{report.out_dir}/" + (f", {unchanged} already imported" if unchanged else "")
    )
    return EXIT_OK
