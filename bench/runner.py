"""The sweep: one process per cell, atomic result files, resumable, one sweep per folder at a time.

The parent runs no model: it validates the suite (transformers' config classes), starts cells
and writes files. Cells start from a fork server that imported torch and transformers once
(bench.cell), so each cell is a fresh process without paying for the imports again; the parent
blocks on the cell's pipe (no spinning) until it reports or times out.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import __version__
from bench.environment import cpu_info, git_commit
from bench.roofline import annotate
from bench.schema import Environment, ErrorInfo, Metrics, ModelInfo, Result
from bench.store import existing_result, folder_lock, result_path, write_atomic
from bench.suite import Cell, Plan


@dataclass
class CellReport:
    cell: Cell
    result: Result
    reused: bool  # an earlier sweep measured it; not run again
    path: Path


# --------------------------------------------------------------------------- one cell


def preload_modules(plan: Plan | None) -> list[str]:
    """Modules the fork server imports once: torch, transformers, and the modeling code of the
    suite's architectures (importing transformers' modeling machinery costs ~1.5 s a process)."""
    modules = ["bench.quiet", "bench.cell", "transformers.modeling_utils"]
    if plan is None:
        return modules
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    for model in {cell.model.arch for cell in plan.cells if cell.model.arch}:
        name = model_type_to_module_name(model)
        modules.append(f"transformers.models.{name}.modeling_{name}")
    if any(cell.model.gguf_file for cell in plan.cells):
        modules += ["gguf", "transformers.integrations.ggml", "transformers.modeling_gguf_pytorch_utils"]
    return modules


_server_started_with: tuple[dict[str, str], tuple[str, ...]] | None = None


def _context(plan: Plan | None = None) -> multiprocessing.context.BaseContext:
    """A fork-server context whose server preloads what this plan needs."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload_modules(plan))
    return ctx


def start_cell_server(plan: Plan | None = None) -> float:
    """Start the fork server before the first cell, so no cell's duration includes it; returns
    the seconds it took (0 when one is running already).

    A server started under another environment or preload list is restarted: libraries read
    settings such as HF_HUB_OFFLINE when imported, so cells would inherit stale ones."""
    from multiprocessing import forkserver

    global _server_started_with
    _context(plan)
    wanted = (dict(os.environ), tuple(preload_modules(plan)))
    server = forkserver._forkserver
    if _server_started_with not in (None, wanted) and hasattr(server, "_stop"):
        server._stop()
    start = time.perf_counter()
    forkserver.ensure_running()
    # ensure_running returns before the server has imported its preload list; a no-op child
    # waits for that, so the first cell's duration holds only its own work.
    probe = _context(plan).Process(target=_noop, name="cell-server-ready")
    probe.start()
    probe.join()
    _server_started_with = wanted
    return time.perf_counter() - start


def _noop() -> None:
    pass


def _describe_death(exitcode: int | None) -> tuple[str, ErrorInfo]:
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGKILL:
            return "oom", ErrorInfo(
                type="Killed", message=f"cell process killed by {sig} (the kernel's OOM killer, most likely)"
            )
        return "error", ErrorInfo(type="Crashed", message=f"cell process died from {sig}")
    return "error", ErrorInfo(
        type="Crashed", message=f"cell process exited with status {exitcode} without a result"
    )


def run_cell(
    cell: Cell, commit: str | None, ctx: multiprocessing.context.BaseContext | None = None
) -> dict[str, Any]:
    """Run one cell in its own process; returns the child's payload or a recorded failure."""
    from bench.cell import child_main  # resolved in the fork server, where it is preloaded

    ctx = ctx or _context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child_main, args=(sender, cell, commit), name=f"cell-{cell.id}")
    process.start()
    sender.close()
    payload: dict[str, Any] | None = None
    try:
        # poll() blocks in select(): the parent sleeps while the cell has both cores.
        if receiver.poll(cell.protocol.timeout_s):
            try:
                payload = receiver.recv()
            except EOFError:  # the child died before it could report
                payload = None
        else:
            process.kill()
            process.join()
            return {
                "status": "timeout",
                "error": ErrorInfo(
                    type="Timeout", message=f"cell exceeded timeout_s={cell.protocol.timeout_s:g}"
                ).model_dump(),
            }
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    finally:
        receiver.close()
    if payload is None:
        status, err = _describe_death(process.exitcode)
        return {"status": status, "error": err.model_dump()}
    return payload


def assemble(
    cell: Cell, payload: dict[str, Any], started_at: str, duration_s: float, commit: str | None
) -> Result:
    """The result file for a cell from what its process reported (or what its death told)."""
    reported = payload.get("model") or {}
    model = ModelInfo(
        name=cell.model.name,
        slug=cell.model.slug,
        family=cell.model.display_family,
        source=cell.model.source,
        config=reported.get("config") or {},
        params=reported.get("params"),
        weight_bytes=reported.get("weight_bytes"),
    )
    env = payload.get("environment") or Environment(
        gpuscape=__version__, git_commit=commit, cpu=cpu_info(), host=os.uname().nodename
    ).model_dump(mode="json")
    result = Result(
        cell=cell.id,
        suite=cell.suite,
        status=payload["status"],
        error=payload.get("error"),
        method="measured",
        model=model,
        setting=cell.setting,
        protocol=cell.protocol,
        metrics=Metrics.model_validate(payload.get("metrics") or {}),
        environment=env,
        started_at=started_at,
        duration_s=duration_s,
    )
    return annotate(result)  # roofline bound and efficiency for the device it ran on (bench.roofline)


# --------------------------------------------------------------------------- the sweep


def sweep(
    plan: Plan,
    out_dir: Path,
    *,
    redo: bool = False,
    on_start: Callable[[Cell, int, int], None] | None = None,
    on_done: Callable[[CellReport], None] | None = None,
) -> list[CellReport]:
    """Run every cell of the plan that has no result yet (all of them with redo)."""
    out_dir = Path(out_dir)
    reports: list[CellReport] = []
    commit = git_commit()
    ctx = _context(plan)
    with folder_lock(out_dir):
        start_cell_server(plan)
        for index, cell in enumerate(plan.cells):
            path = result_path(out_dir, cell)
            if on_start:
                on_start(cell, index, len(plan.cells))
            earlier = None if redo else existing_result(path, cell)
            if earlier is not None:
                report = CellReport(cell, earlier, reused=True, path=path)
            else:
                started_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                start = time.perf_counter()
                payload = run_cell(cell, commit, ctx)
                result = assemble(cell, payload, started_at, time.perf_counter() - start, commit)
                write_atomic(path, result.to_json())
                report = CellReport(cell, result, reused=False, path=path)
            reports.append(report)
            if on_done:
                on_done(report)
    return reports


def exit_status(reports: list[CellReport]) -> int:
    """0 when every cell is ok or a recorded OOM (a finding), 1 when any errored or timed out."""
    return 1 if any(r.result.status in ("error", "timeout") for r in reports) else 0


def failure_counts(reports: list[CellReport]) -> Counter[str]:
    return Counter(r.result.status for r in reports if r.result.status != "ok")


def summary_rows(reports: list[CellReport]) -> list[dict[str, Any]]:
    """One row per cell for the end-of-sweep table."""
    rows = []
    for r in reports:
        m = r.result.metrics
        peak = m.memory.peak_process_bytes or m.memory.peak_reserved_bytes or m.memory.peak_rss_bytes
        rows.append(
            {
                "cell": r.cell.label,
                "status": r.result.status + (" (cached)" if r.reused else ""),
                "decode_tok_s": m.decode.tokens_per_s,
                "efficiency": m.roofline.efficiency,
                "peak_gb": peak / 1e9 if peak else None,
                "error": (r.result.error.message.splitlines()[0][:80] if r.result.error else ""),
            }
        )
    return rows
