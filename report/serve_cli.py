"""Serve the site on localhost with live reload: re-rendered when site/, templates/ or mkdocs.yml change."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", nargs="+", metavar="RESULTS", help="result files or folders, e.g. results/"
    )
    parser.add_argument(
        "--out", default="build", metavar="DIR", help="where docs/ and mkdocs.yml go (default: build/)"
    )
    parser.add_argument(
        "--addr", default="127.0.0.1:8000", help="address to serve on (default: 127.0.0.1:8000)"
    )
    parser.add_argument(
        "--skip-invalid", action="store_true", help="leave out result files that fail validation"
    )


def run(args: argparse.Namespace) -> int:
    """Load the results and hand them to report.site.serve_site until interrupted."""
    import sys

    from report.load import InvalidResultError, ResultsNotFoundError, load_results
    from report.site import serve_site

    try:
        results = load_results(args.results, skip_invalid=args.skip_invalid)
    except (InvalidResultError, ResultsNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return serve_site(list(results), args.out, dev_addr=args.addr)
