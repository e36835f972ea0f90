"""`python -m bench`: run, validate and inspect suites. Thin wrappers over bench.suite and bench.runner."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bench import estimate, methods, runner
from bench.environment import git_commit
from bench.schema import SCHEMA_FILE, json_schema_text
from bench.suite import Plan, SuiteError, default_suite_path, plan

EXIT_OK, EXIT_FAILED_CELLS, EXIT_INVALID, EXIT_LOCKED = 0, 1, 2, 3


def _suite_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "suite",
        nargs="?",
        type=Path,
        help="suite YAML file (default: suites/gpu-reference.yaml with a GPU, else suites/cpu-small.yaml)",
    )
    parser.add_argument("--device", help="override the suite's device: cpu, cuda, cuda:N")
    parser.add_argument(
        "--skip-unavailable",
        action="store_true",
        help="cells whose engine or quantization library is not installed: skip them (run records "
        "them as skipped with the reason) instead of refusing the suite",
    )


def _refuse_unavailable(p: Plan, args: argparse.Namespace, console: Console) -> list | None:
    """None when every cell's method is installed or --skip-unavailable; else prints the one line
    naming the first such cell, its method and the install command, and returns []."""
    refused = methods.refusals(p.cells)
    for label, reason in p.dropped:
        console.print(f"  not a cell: {label}: {reason}", highlight=False, markup=False)
    if not refused:
        return None
    if not args.skip_unavailable:
        more = (
            f" (and {len(refused) - 1} more cells; --skip-unavailable skips them)" if len(refused) > 1 else ""
        )
        console.print(f"unavailable: {refused[0][1]}{more}", highlight=False, markup=False, soft_wrap=True)
        return []
    for _, line in refused:
        console.print(f"  skipping {line}", highlight=False, markup=False, soft_wrap=True)
    return refused


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Check a suite fully without running it; print the cell count."""
    path = args.suite or default_suite_path()
    try:
        p = plan(path, args.device)
    except SuiteError as exc:
        console.print(f"[red]invalid suite:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
    if _refuse_unavailable(p, args, console) == []:
        return EXIT_INVALID
    console.print(
        f"{path}: valid; suite '{p.suite.slug}' on {p.cells[0].setting.device if p.cells else args.device or p.suite.device}: "
        f"{len(p.cells)} cells from {len(p.suite.models) - len(p.skipped)} models",
        highlight=False,
    )
    for name, reason in p.skipped:
        console.print(f"  skipped {name}: {reason}", highlight=False)
    return EXIT_OK


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _efficiency(value: float | None) -> str:
    """Share of the roofline bound; above 100 % the measurement or the model is wrong: say so loudly."""
    if value is None:
        return "—"
    return f"[bold red]{value:.0%} > bound![/]" if value > 1 else f"{value:.0%}"


def print_summary(console: Console, reports: list[runner.CellReport], wall_s: float, out_dir: Path) -> None:
    table = Table(title=f"{len(reports)} cells in {wall_s:.1f} s → {out_dir}", title_justify="left")
    for column, justify in [
        ("cell", "left"),
        ("status", "left"),
        ("decode tok/s", "right"),
        ("roofline %", "right"),
        ("peak GB", "right"),
        ("error", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    styles = {"ok": "green", "oom": "yellow", "error": "red", "timeout": "red"}
    for row in runner.summary_rows(reports):
        style = styles.get(row["status"].split()[0], "")
        table.add_row(
            escape(row["cell"]),
            f"[{style}]{row['status']}[/]",
            _fmt(row["decode_tok_s"], ".1f"),
            _efficiency(row["efficiency"]),
            _fmt(row["peak_gb"], ".3f"),
            escape(row["error"]),
        )
    console.print(table)
    failures = runner.failure_counts(reports)
    if failures:
        console.print(
            "not ok: " + ", ".join(f"{n} {status}" for status, n in sorted(failures.items())), highlight=False
        )
    else:
        console.print("all cells ok", style="green")


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """Run every cell of a suite that has no result yet; write one JSON file per cell."""
    path = args.suite or default_suite_path()
    try:
        p = plan(path, args.device)
    except SuiteError as exc:
        console.print(f"[red]invalid suite:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
    for name, reason in p.skipped:
        console.print(f"skipping {name}: {reason}", highlight=False)
    refused = _refuse_unavailable(p, args, console)
    if refused == []:
        return EXIT_INVALID
    if refused:  # recorded as skipped, with the reason; never overwrites a measured result
        commit = git_commit()
        for cell, line in refused:
            path_ = runner.result_path(Path(args.out), cell)
            if runner.existing_result(path_, cell) is None:
                runner.write_atomic(path_, methods.skipped_result(cell, line, commit).to_json())
        p.cells = [c for c in p.cells if c.id not in {cell.id for cell, _ in refused}]
    console.print(
        f"suite '{p.suite.slug}' from {path}: {len(p.cells)} cells on {p.cells[0].setting.device if p.cells else '?'}",
        highlight=False,
    )
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress,
        transient=False,
    )
    with progress:
        task = progress.add_task("starting", total=len(p.cells))
        try:
            reports = runner.sweep(
                p,
                args.out,
                redo=args.redo,
                on_start=lambda cell, i, n: progress.update(task, description=escape(cell.label)),
                on_done=lambda report: progress.advance(task),
            )
        except runner.SweepLocked as exc:
            console.print(f"[red]locked:[/] {exc}", highlight=False)
            return EXIT_LOCKED
        progress.update(task, description="done")
    print_summary(console, reports, time.perf_counter() - start, Path(args.out) / p.suite.slug)
    return runner.exit_status(reports)


def cmd_schema(args: argparse.Namespace, console: Console) -> int:
    """Print the result JSON Schema, or write/check the committed copy."""
    text = json_schema_text()
    if args.write:
        SCHEMA_FILE.write_text(text)
        console.print(f"wrote {SCHEMA_FILE}")
    elif args.check:
        if not SCHEMA_FILE.is_file() or SCHEMA_FILE.read_text() != text:
            console.print(f"[red]{SCHEMA_FILE} is out of date:[/] run python -m bench schema --write")
            return 1
        console.print(f"{SCHEMA_FILE} matches the code")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure LLMs: every cell of a suite's matrix in its own process, one result JSON per cell.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a suite (resumes: cells with a result are skipped)",
        description="Run every cell of a suite in its own process and write results/<suite>/<cell>.json. "
        "Exit status: 0 all cells ok or OOM (an OOM is a finding), 1 a cell errored or timed out, "
        "2 invalid suite, 3 another sweep holds the results folder.",
    )
    _suite_arg(run)
    run.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results/)")
    run.add_argument("--redo", action="store_true", help="remeasure cells that already have a result")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check a suite without running it; print the cell count")
    _suite_arg(validate)
    validate.set_defaults(func=cmd_validate)

    est = sub.add_parser(
        "estimate",
        help="estimate a suite on GPUs it names (roofline, nothing runs); method=estimated results",
        description="Count each model on the meta device and write results/<suite>/<cell>.json with "
        "method=estimated for every cell on every hardware the suite names (hardware: [h100-sxm, ...]; "
        "ids in bench/hardware.yaml). Exit status: 0 written (an estimated OOM is a finding), 2 invalid suite.",
    )
    estimate.add_arguments(est)
    est.set_defaults(func=estimate.run_command)

    schema = sub.add_parser(
        "schema", help="print the result JSON Schema (or --write / --check bench/result.schema.json)"
    )
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the committed schema file")
    group.add_argument(
        "--check", action="store_true", help="exit 1 when the committed file differs from the code"
    )
    schema.set_defaults(func=cmd_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Logs and CI are not terminals; rich would wrap tables at 80 columns there.
    console = Console(soft_wrap=True) if sys.stdout.isatty() else Console(soft_wrap=True, width=140)
    return args.func(args, console)
