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
from bench.safetext import headline
from bench.schema import METRICS, Environment, ErrorInfo, Metrics, ModelInfo, Result
from bench.store import existing_result, folder_lock, result_path, save
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


# --------------------------------------------------------------------------- how a cell died


def oom_count_files() -> list[Path]:
    """Where the OOM-kill count of this process's cgroup may be read (cells share the sweep's)."""
    root = Path("/sys/fs/cgroup")
    files = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":  # cgroup v2
                files += [
                    root / path.lstrip("/") / "memory.events",
                    root / "unified" / path.lstrip("/") / "memory.events",
                ]
            elif "memory" in controllers.split(","):  # cgroup v1
                files.append(root / "memory" / path.lstrip("/") / "memory.oom_control")
    except (OSError, ValueError):
        pass
    # inside a container the cgroup's own folder is usually mounted as the root
    return files + [root / "memory.events", root / "memory" / "memory.oom_control"]


def oom_kill_count() -> int | None:
    """The cgroup's count of processes the OOM killer ended, None where unreadable."""
    for path in oom_count_files():
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            continue
    return None


def kernel_oom_message(pid: int) -> str | None:
    """The kernel's OOM-killer line for `pid` from /dev/kmsg where readable (often root only)."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    needles = (f"Killed process {pid} ", f",pid={pid},")
    try:
        while True:
            try:
                record = os.read(fd, 8192).decode(errors="replace")
            except BlockingIOError:  # end of the buffer
                return None
            except OSError:  # EPIPE: a record was overwritten while reading; go on
                continue
            if not record:
                return None
            text = record.partition(";")[2].strip()
            if any(n in text for n in needles):
                return text
    finally:
        os.close(fd)


def oom_evidence(pid: int, kills_before: int | None) -> str | None:
    """Why we believe a SIGKILL'd cell was ended by the OOM killer, or None without evidence."""
    after = oom_kill_count()
    if kills_before is not None and after is not None and after > kills_before:
        return f"the cgroup's oom_kill count rose from {kills_before} to {after} during the cell"
    message = kernel_oom_message(pid)
    return f"kernel: {message[:300]}" if message else None


def describe_death(exitcode: int | None, oom: str | None = None) -> tuple[str, ErrorInfo]:
    """The status and error of a cell process that ended without reporting.

    A SIGKILL is an OOM only with evidence (`oom`: the cgroup's OOM-kill count rose, the
    kernel's message); otherwise it is an error that names the signal (someone killed it)."""
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGKILL and oom:
            return "oom", ErrorInfo(type="Killed", message=f"cell process killed by the OOM killer ({oom})")
        if -exitcode == signal.SIGKILL:
            return "error", ErrorInfo(
                type="Killed",
                message=f"cell process killed by {sig} (no sign of the OOM killer: killed from outside)",
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
    # The cell watches the read end of this pipe, which only this process can close: when the
    # sweep dies (even by SIGKILL) the cell sees EOF and ends itself (bench.cell.watch_parent).
    lifeline_r, lifeline_w = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child_main, args=(sender, cell, commit, lifeline_r), name=f"cell-{cell.id}")
    kills_before = oom_kill_count()
    process.start()
    sender.close()
    lifeline_r.close()
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
    except BaseException:  # Ctrl-C or an error in the parent: the cell ends with the sweep
        process.kill()
        process.join()
        raise
    finally:
        receiver.close()
        lifeline_w.close()
    if payload is None:
        status, err = describe_death(process.exitcode, oom_evidence(process.pid, kills_before))
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
    """Run every cell of the plan that has no result yet (all of them with redo).

    Raises store.FolderLocked when another sweep holds `out_dir`, OSError when the folder cannot
    be used, and store.UnsavedResult when a measured result could not be written (it is kept
    elsewhere; the sweep stops there, as every later cell would be lost the same way)."""
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
                save(path, result.to_json())  # UnsavedResult (an OSError) says where it went instead
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
    """One row per cell for the end-of-sweep table, its figures through the metric registry (the
    report's definitions: peak memory is NVML's per-process peak on GPU, never host RSS there)."""
    rows = []
    for r in reports:
        rows.append(
            {
                "cell": r.cell.label,
                "status": r.result.status + (" (cached)" if r.reused else ""),
                "decode_tok_s": METRICS["decode_tokens_per_s"].value(r.result),
                "efficiency": METRICS["roofline_efficiency"].value(r.result),
                "peak_memory": METRICS["peak_memory"].display(r.result),
                "error": headline(r.result.error.message)[:80] if r.result.error else "",
            }
        )
    return rows
