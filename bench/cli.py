"""`python -m bench`: run, validate, estimate and inspect suites.

Each command is a thin wrapper over a function a test can call (bench.suite.plan, bench.runner.sweep,
bench.estimate.estimate, bench.schema.json_schema_text); this module only parses and prints."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bench import cluster, estimate, methods, runner, store
from bench.environment import git_commit
from bench.safetext import markup_safe
from bench.schema import METRICS, SCHEMA_FILE, json_schema_text
from bench.suite import MAX_CELLS, Plan, SuiteError, default_suite_path, plan

EXIT_OK, EXIT_FAILED_CELLS, EXIT_INVALID, EXIT_LOCKED = 0, 1, 2, 3
EXIT_STORAGE = 4  # the results folder cannot be written (full, read-only, not a folder)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as a shell reports it
EXIT_STATUSES = (
    "Exit status: 0 every cell ok or a recorded OOM (an OOM is a finding); 1 a cell errored, crashed "
    "or timed out; 2 invalid suite; 3 another sweep holds the results folder; 4 the results folder "
    "cannot be written (full disk, read-only, not a folder; a result measured is kept beside it or "
    "printed on stderr); 130 interrupted (Ctrl-C; the running cell is stopped, results written so far kept)."
)


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
    _max_cells_arg(parser)


def _max_cells_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-cells",
        type=int,
        default=MAX_CELLS,
        metavar="N",
        help=f"refuse a suite of more than N cells, counted before any is built (default: {MAX_CELLS:,})",
    )


def _invalid(console: Console, exc: SuiteError) -> int:
    console.print(f"[red]invalid suite:[/] {markup_safe(exc)}", highlight=False, soft_wrap=True)
    return EXIT_INVALID


def _storage_error(console: Console, exc: OSError) -> int:
    """One line naming the path and the cause; a result that could not be written is shown where it went."""
    if isinstance(exc, store.UnsavedResult):
        if exc.kept is None:
            sys.stderr.write(exc.text)
        console.print(f"[red]not saved:[/] {markup_safe(exc)}; the sweep stopped", highlight=False)
    else:
        where = exc.filename if exc.filename is not None else "results folder"
        console.print(
            f"[red]cannot write results:[/] {markup_safe(where)}: {markup_safe(store.describe_os_error(exc))}",
            highlight=False,
        )
    return EXIT_STORAGE


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
        p = plan(path, args.device, args.max_cells)
    except SuiteError as exc:
        return _invalid(console, exc)
    if _refuse_unavailable(p, args, console) == []:
        return EXIT_INVALID
    device = p.cells[0].setting.device if p.cells else args.device or p.suite.device
    console.print(
        f"{markup_safe(path)}: valid; suite '{markup_safe(p.suite.slug)}' on {markup_safe(device)}: "
        f"{len(p.cells)} cells from {len(p.suite.models) - len(p.skipped)} models",
        highlight=False,
    )
    for name, reason in p.skipped:
        console.print(f"  skipped {markup_safe(name)}: {markup_safe(reason)}", highlight=False)
    return EXIT_OK


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _efficiency(value: float | None) -> str:
    """Share of the roofline bound; above 100 % the measurement or the model is wrong: say so loudly."""
    if value is None:
        return "—"
    return f"[bold red]{value:.0%} > bound![/]" if value > 1 else f"{value:.0%}"


def print_summary(console: Console, reports: list[runner.CellReport], wall_s: float, out_dir: Path) -> None:
    table = Table(
        title=f"{len(reports)} cells in {wall_s:.1f} s → {markup_safe(out_dir)}", title_justify="left"
    )
    for column, justify in [
        ("cell", "left"),
        ("status", "left"),
        ("decode tok/s", "right"),
        ("roofline %", "right"),
        (f"peak {METRICS['peak_memory'].unit}", "right"),
        ("error", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    styles = {"ok": "green", "oom": "yellow", "error": "red", "timeout": "red"}
    for row in runner.summary_rows(reports):
        style = styles.get(row["status"].split()[0], "")
        table.add_row(
            markup_safe(row["cell"]),
            f"[{style}]{row['status']}[/]",
            _fmt(row["decode_tok_s"], ".1f"),
            _efficiency(row["efficiency"]),
            _fmt(row["peak_memory"], ".3f"),
            markup_safe(row["error"]),
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
        p = plan(path, args.device, args.max_cells)
    except SuiteError as exc:
        return _invalid(console, exc)
    for name, reason in p.skipped:
        console.print(f"skipping {markup_safe(name)}: {markup_safe(reason)}", highlight=False)
    refused = _refuse_unavailable(p, args, console)
    if refused == []:
        return EXIT_INVALID
    if refused:  # recorded as skipped, with the reason; never overwrites a measured result
        commit = git_commit()
        try:
            with store.folder_lock(Path(args.out)):  # as the sweep: no write beside another sweep's
                for cell, line in refused:
                    path_ = store.result_path(Path(args.out), cell)
                    if store.existing_result(path_, cell) is None:
                        store.save(path_, methods.skipped_result(cell, line, commit).to_json())
        except store.FolderLocked as exc:
            console.print(f"[red]locked:[/] {markup_safe(exc)}", highlight=False)
            return EXIT_LOCKED
        except OSError as exc:
            return _storage_error(console, exc)
        p.cells = [c for c in p.cells if c.id not in {cell.id for cell, _ in refused}]
    device = p.cells[0].setting.device if p.cells else "?"
    console.print(
        f"suite '{markup_safe(p.suite.slug)}' from {markup_safe(path)}: {len(p.cells)} cells on {markup_safe(device)}",
        highlight=False,
    )
    options = cluster.resolve_options(p.suite.cluster, vars(args))
    if options.executor != "fork":
        return cmd_run_cluster(args, console, p, options)
    if args.redo_failed:
        console.print(
            "[red]--redo-failed[/] is for --executor local|slurm; the fork server redoes with --redo"
        )
        return EXIT_INVALID
    start = time.perf_counter()
    progress = progress_bar(console, args.no_progress)
    with progress:
        task = progress.add_task("starting", total=len(p.cells))
        try:
            reports = runner.sweep(
                p,
                args.out,
                redo=args.redo,
                on_start=lambda cell, i, n: progress.update(task, description=markup_safe(cell.label)),
                on_done=lambda report: progress.advance(task),
            )
        except store.FolderLocked as exc:
            console.print(f"[red]locked:[/] {markup_safe(exc)}", highlight=False)
            return EXIT_LOCKED
        except OSError as exc:  # the results folder: full, read-only, not a folder
            progress.stop()
            return _storage_error(console, exc)
        progress.update(task, description="done")
    print_summary(console, reports, time.perf_counter() - start, Path(args.out) / p.suite.slug)
    return runner.exit_status(reports)


def progress_bar(console: Console, disable: bool) -> Progress:
    """The sweep's progress bar: what runs now, cells done of all, elapsed and ETA."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
        transient=False,
    )


def cmd_run_cluster(
    args: argparse.Namespace, console: Console, p: Plan, options: cluster.ClusterOptions
) -> int:
    """Run a suite's cells as submitit jobs (bench.cluster.cluster_sweep): wait, or print the job ids."""
    suite_dir = Path(args.out) / p.suite.slug
    start = time.perf_counter()
    progress = progress_bar(console, args.no_progress or args.no_wait)
    task = progress.add_task("submitting", total=len(p.cells))

    def submitted(job_ids: list[str], cells: int) -> None:
        what = f"{cells} cells as {len(job_ids)} {options.executor} jobs"
        if options.executor == "local" and cells:
            what = f"{cells} cells as local jobs (at most {options.slurm_array_parallelism or 1} at a time)"
        if not cells:
            console.print("nothing to submit: every cell has a result or a job on its way", highlight=False)
            return
        console.print(f"submitted {what}" + (f": {' '.join(job_ids)}" if job_ids else ""), highlight=False)

    def waiting(state: cluster.Progress) -> None:
        phases = ", ".join(f"{n} {name}" for name, n in sorted(state.phases.items())) or "done"
        progress.update(task, total=state.total, completed=state.done, description=phases)

    try:
        with progress:
            run = cluster.cluster_sweep(
                p,
                args.out,
                options,
                redo=args.redo,
                redo_failed=args.redo_failed,
                wait=not args.no_wait,
                on_submit=submitted,
                on_progress=waiting,
            )
    except store.FolderLocked as exc:
        console.print(f"[red]locked:[/] {markup_safe(str(exc))}", highlight=False)
        return EXIT_LOCKED
    except cluster.ClusterError as exc:
        console.print(f"[red]cannot submit:[/] {markup_safe(str(exc))}", highlight=False)
        return EXIT_INVALID
    except KeyboardInterrupt:
        console.print(f"stopped waiting; the jobs go on: python -m bench status {suite_dir}", highlight=False)
        return 130
    if not run.waited:
        console.print(
            f"{run.in_flight} cells pending or running; follow: python -m bench status {suite_dir}",
            highlight=False,
        )
        return EXIT_OK
    print_summary(console, run.reports, time.perf_counter() - start, suite_dir)
    return runner.exit_status(run.reports)


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """Cells of a results folder: done, failed, pending, running, with their jobs (bench.cluster)."""
    folders = cluster.suite_dirs(args.folder)
    if not folders:
        console.print(f"[red]{markup_safe(str(args.folder))}:[/] no results or jobs here", highlight=False)
        return EXIT_INVALID
    styles = {"done": "green", "failed": "red", "pending": "yellow", "running": "cyan"}
    for folder in folders:
        rows = cluster.folder_status(folder, record=not args.no_record)
        table = Table(title=f"{folder}", title_justify="left")
        for column in ("cell", "model", "phase", "result", "job", "job state", "reason"):
            table.add_column(column)
        order = {"running": 0, "pending": 1, "failed": 2, "done": 3}
        for row in sorted(rows, key=lambda r: (order.get(r.phase, 4), r.model, r.cell)):
            table.add_row(
                row.cell,
                markup_safe(row.model),
                f"[{styles.get(row.phase, '')}]{row.phase}[/]",
                row.status or "—",
                row.job_id or "—",
                markup_safe(row.job_state or "—"),
                markup_safe(row.reason[:100]),
            )
        console.print(table)
        counts = {
            name: sum(r.phase == name for r in rows) for name in ("done", "failed", "pending", "running")
        }
        console.print(", ".join(f"{n} {name}" for name, n in counts.items()), highlight=False)
    return EXIT_OK


def _cluster_args(run: argparse.ArgumentParser) -> None:
    """`bench run`'s executor options; each may also sit in the suite's `cluster:` block (these win)."""
    group = run.add_argument_group("executors (bench.cluster; also a suite's cluster: block)")
    group.add_argument(
        "--executor",
        choices=("fork", "local", "slurm"),
        help="fork: this machine's fork server (default); local: submitit jobs as local processes; "
        "slurm: a Slurm job array through submitit",
    )
    group.add_argument("--slurm-partition", dest="slurm_partition", metavar="NAME", help="Slurm partition")
    group.add_argument(
        "--slurm-gpus-per-node", dest="slurm_gpus_per_node", type=_count(0), metavar="N", help="GPUs per job"
    )
    group.add_argument(
        "--slurm-time",
        dest="slurm_time_min",
        type=_count(1),
        metavar="MINUTES",
        help="time limit per job (default: its cells' timeouts + 5 minutes)",
    )
    group.add_argument(
        "--slurm-account", dest="slurm_account", metavar="NAME", help="Slurm account to charge"
    )
    group.add_argument(
        "--slurm-array-parallelism",
        dest="slurm_array_parallelism",
        type=_count(1),
        metavar="N",
        help="jobs running at once (local: default 1, so cells do not share this machine)",
    )
    group.add_argument(
        "--cells-per-job", type=_count(1), metavar="N", help="consecutive cells of one model per job"
    )
    group.add_argument("--no-wait", action="store_true", help="submit, print the job ids and exit 0 (slurm)")
    group.add_argument(
        "--redo-failed",
        action="store_true",
        help="submit again the cells whose result is not ok (local, slurm)",
    )


def _count(least: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


def cmd_estimate(args: argparse.Namespace, console: Console) -> int:
    """Estimate a suite on the GPUs it names (bench.estimate.estimate); print the totals per hardware."""
    start = time.perf_counter()
    try:
        written = estimate.estimate(args.suite, args.out, args.max_cells)
    except SuiteError as exc:
        return _invalid(console, exc)
    except store.FolderLocked as exc:
        console.print(f"[red]locked:[/] {markup_safe(exc)}", highlight=False)
        return EXIT_LOCKED
    except OSError as exc:
        return _storage_error(console, exc)
    if args.table:
        console.print(estimate_table(written))
    for hw_id in dict.fromkeys(w.hardware.id for w in written):
        mine = [w for w in written if w.hardware.id == hw_id]
        ooms = sum(w.result.status == "oom" for w in mine)
        console.print(
            f"{markup_safe(hw_id)}: {len(mine)} cells estimated, {ooms} do not fit ({sum(w.changed for w in mine)} files written)",
            highlight=False,
        )
    folder = written[0].path.parent if written else args.out
    console.print(
        f"{len(written)} estimates in {time.perf_counter() - start:.1f} s -> {markup_safe(folder)}",
        highlight=False,
    )
    return EXIT_OK


def estimate_table(written: list[estimate.Written]) -> Table:
    """Every estimated cell, one row each (`estimate --table`)."""
    table = Table(title="estimated (roofline) cells", title_justify="left")
    for column in (
        "hardware",
        "model",
        "quant",
        "batch",
        "prompt",
        "decode tok/s",
        "bound by",
        "memory GB",
        "status",
    ):
        table.add_column(
            column, justify="left" if column in ("hardware", "model", "quant", "status") else "right"
        )
    for w in written:
        s, m = w.result.setting, w.result.metrics
        tps = m.decode.tokens_per_s
        table.add_row(
            markup_safe(w.hardware.id),
            markup_safe(w.result.model.name),
            markup_safe(s.quantization or "none"),
            str(s.batch_size),
            str(s.prompt_tokens),
            "—" if tps is None else f"{tps:,.0f}",
            markup_safe(m.roofline.limit or "—"),
            f"{(m.memory.estimated_bytes or 0) / 1e9:.1f}",
            "fits" if w.result.status == "ok" else "OOM (est.)",
        )
    return table


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
        + EXIT_STATUSES,
    )
    _suite_arg(run)
    run.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results/)")
    run.add_argument("--redo", action="store_true", help="remeasure cells that already have a result")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    _cluster_args(run)
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status",
        help="done / pending / running / failed cells of a results folder, with their jobs",
        description="List the cells of results/<suite> (or of every suite under results/): done, failed, "
        "pending, running, with job ids and states. A job that ended without its cell's result gets "
        "that failure written (status timeout/oom/error, the job state as the reason) unless a sweep "
        "holds the folder. Exit status: 0, or 2 when the folder holds no results or jobs.",
    )
    status.add_argument("folder", type=Path, help="a suite's results folder (results/SUITE) or results/")
    status.add_argument("--no-record", action="store_true", help="only look: write no failure results")
    status.set_defaults(func=cmd_status)

    validate = sub.add_parser(
        "validate",
        help="check a suite without running it; print the cell count",
        description="Check a suite fully (every model's config is built, no weights) without running it. "
        "Exit status: 0 valid, 2 invalid.",
    )
    _suite_arg(validate)
    validate.set_defaults(func=cmd_validate)

    est = sub.add_parser(
        "estimate",
        help="estimate a suite on GPUs it names (roofline, nothing runs); method=estimated results",
        description="Count each model on the meta device and write results/<suite>/<cell>.json with "
        "method=estimated for every cell on every hardware the suite names (hardware: [h100-sxm, ...]; "
        "ids in bench/hardware.yaml). Exit status: 0 written (an estimated OOM is a finding), 2 invalid suite, "
        "3 another sweep holds the results folder, 4 the results folder cannot be written.",
    )
    est.add_argument("suite", type=Path, help="estimate suite YAML: a suite with hardware: [ids]")
    est.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results/)")
    est.add_argument("--table", action="store_true", help="print every cell, not only the totals")
    _max_cells_arg(est)
    est.set_defaults(func=cmd_estimate)

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
    try:
        return args.func(args, console)
    except KeyboardInterrupt:  # one line, not a traceback; the running cell was stopped (bench.runner)
        console.print(
            "[red]interrupted:[/] the running cell was stopped; results written so far are kept (rerun to resume)",
            highlight=False,
        )
        return EXIT_INTERRUPTED
