"""The fit matrix in the terminal: which model, at which precision and batch, fits which hardware.

`python -m report fit RESULTS... [--hardware ID]... [--context N] [--ttft-ms MS] [--tpot-ms MS]
[--preset NAME] [--price ID=USD]... [--json]`: RESULTS are result files or folders. One row per model, one column
per hardware in the results (or each --hardware id, in that order); each cell gives the best
setting that fits, its decode speed (measured, or an estimate's expected figure), the largest
batch at that context and a state: fits, tight, no, unknown, failed or untested (see
report/fit.py). --ttft-ms and --tpot-ms keep only settings that meet those latency targets and
name the target that binds (--preset llama3.1-8b or interactive names MLPerf-style caps); --price ID=USD (or --prices FILE) adds each cell's cost per million
output tokens. --json prints a list of objects, one per model and hardware.

Exit status: 0 done; 2 bad input (a missing path, an invalid result file, no results, a
--hardware id that is not in the results).
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK = 0
EXIT_BAD_INPUT = 2
STATE_STYLES = {
    "fits": "green",
    "tight": "yellow",
    "no": "red",
    "failed": "red",
    "unknown": "dim",
    "untested": "dim",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from report.fit import LATENCY_PRESETS

    parser.add_argument(
        "results", nargs="+", metavar="RESULTS", help="result files or folders, e.g. results/"
    )
    parser.add_argument(
        "--hardware",
        action="append",
        metavar="ID",
        help="only this hardware (repeat for more), by the id the table heads its column with, e.g. rtx-4090",
    )
    parser.add_argument(
        "--context",
        type=int,
        metavar="N",
        help="only settings with at least N tokens of context (prompt + new tokens)",
    )
    parser.add_argument(
        "--ttft-ms",
        type=float,
        metavar="MS",
        help="only settings whose time to first token (prefill latency) is at most MS milliseconds "
        "(an estimate's is the roofline's lower bound)",
    )
    parser.add_argument(
        "--tpot-ms",
        type=float,
        metavar="MS",
        help="only settings whose time per output token (one decode step; an estimate's at its expected "
        "speed) is at most MS milliseconds",
    )
    parser.add_argument(
        "--preset",
        choices=sorted(LATENCY_PRESETS),
        help="named latency targets: "
        + ", ".join(f"{name} (TTFT {t:g} ms, TPOT {p:g} ms)" for name, (t, p) in LATENCY_PRESETS.items())
        + ", after MLPerf Inference's server and interactive caps; --ttft-ms/--tpot-ms override either",
    )
    parser.add_argument(
        "--price",
        action="append",
        metavar="ID=USD",
        help="the hardware's price per hour in USD (repeat for more), e.g. rtx-4090=0.69: each cell "
        "adds the cost per million output tokens",
    )
    parser.add_argument(
        "--prices", metavar="FILE", help="a YAML file of hardware id: USD per hour (--price wins over it)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per model and hardware")


def run(args: argparse.Namespace) -> int:
    """Load, compute the matrix, print it. Returns the exit status."""
    from bench.safetext import visible
    from report.fit import LATENCY_PRESETS, Targets, fit_matrix
    from report.load import InvalidResultError, ResultsNotFoundError, load_results

    try:
        results = load_results(args.results)
    except (InvalidResultError, ResultsNotFoundError) as error:
        print(visible(f"error: {error}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    if not len(results):
        print(visible(f"error: no result files in {' '.join(args.results)}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.context is not None and args.context < 1:
        print("error: --context takes a positive number of tokens", file=sys.stderr)
        return EXIT_BAD_INPUT
    if any(t is not None and not t > 0 for t in (args.ttft_ms, args.tpot_ms)):
        print("error: --ttft-ms and --tpot-ms take a positive number of milliseconds", file=sys.stderr)
        return EXIT_BAD_INPUT
    ttft_ms, tpot_ms = LATENCY_PRESETS.get(args.preset or "", (None, None))
    targets = Targets(args.ttft_ms if args.ttft_ms is not None else ttft_ms,
                      args.tpot_ms if args.tpot_ms is not None else tpot_ms)  # fmt: skip
    try:
        prices = read_prices(args.prices, args.price or [])
    except ValueError as error:
        print(visible(f"error: {error}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        matrix = fit_matrix(
            results, context=args.context, hardware_ids=args.hardware, targets=targets or None, prices=prices
        )
    except KeyError as error:
        print(visible(f"error: {error.args[0]}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(matrix.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print_table(matrix)
    return EXIT_OK


def read_prices(path: str | None, pairs: list[str]) -> dict[str, float]:
    """Prices per hour by hardware id from a YAML file ({id: usd}) and ID=USD pairs (which win)."""
    import yaml

    raw: dict[str, object] = {}
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                data = yaml.safe_load(file)
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: want a mapping of hardware id to USD per hour")
        raw |= {str(k): v for k, v in data.items()}
    for pair in pairs:
        hw_id, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--price {pair!r}: want ID=USD, e.g. rtx-4090=0.69")
        raw[hw_id.strip()] = value
    prices = {}
    for hw_id, value in raw.items():
        try:
            price = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"price of {hw_id!r}: {value!r} is not a number") from None
        if not 0 < price < float("inf"):
            raise ValueError(f"price of {hw_id!r}: want a positive number of USD per hour")
        prices[hw_id] = price
    return prices


def print_table(matrix) -> None:
    """The matrix as a rich table; every name from the results is plain text (no markup)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from bench.safetext import visible

    table = Table(
        show_lines=True,
        title="Where each model fits" + (f" (context ≥ {matrix.context:,})" if matrix.context else ""),
    )
    table.add_column("Model", style="bold")
    for hw in matrix.hardware:
        table.add_column(Text(visible(hw.name) + "\n" + visible(hw.id)))
    for model in matrix.models:
        cells = [Text(visible(model))]
        for cell in matrix.row(model):
            text = Text(visible(cell.status()), style=STATE_STYLES.get(cell.state, ""))
            text.append(visible(f"  {cell.headline()}" if cell.shown or cell.short_bytes is not None else ""))
            detail = cell.detail()
            if detail:
                text.append("\n" + visible(detail), style="dim")
            cells.append(text)
        table.add_row(*cells)
    console = Console(highlight=False, soft_wrap=False)
    console.print(table)
    console.print(Text(matrix.rule, style="dim"))
