"""Cells as cluster jobs through submitit: Slurm job arrays, or submitit's local executor.

The parent (`bench run --executor slurm|local`) validates the suite, submits the cells that have no
result as one job array (each job: one cell, or `cells_per_job` consecutive cells of one model),
keeps the job ids in `<out>/<suite>/.jobs/`, and waits by counting result files and job states.
A job runs the fork server's own cell code (bench.runner.run_cell: each cell in its own process,
its timeout, its crash recorded) and writes the result through bench.store.write_atomic. Jobs take
no lock: each writes only its own cells' files, and a cell is never in two live jobs at once, since
the parent (holding the results-folder lock) submits only cells whose last job has ended.

A job that ends without a cell's result (time limit, preemption, node failure, host OOM, scancel)
leaves a result with status timeout/oom/error and the job's final state as the reason: written by
the waiting parent, or by `bench status` when no parent holds the folder. `--redo-failed` submits
those cells again.

Imports no torch in the parent: the job process imports it when its first cell starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time
import typing
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench import __version__, runner, store
from bench.environment import git_commit, node_name, slurm_job_id
from bench.schema import Environment, ErrorInfo, Result
from bench.suite import Cell, ClusterSettings, Plan

JOBS_DIR = ".jobs"  # under <out>/<suite>/; a hidden folder, so report.load never reads it
LOGS_DIR = "logs"  # submitit's pickles, sbatch scripts and job logs, under JOBS_DIR

# Slurm's job states (sacct), as submitit reports them. A job in neither set is treated as active.
ENDED_STATES = {
    "COMPLETED": "error",  # ended normally, yet without this cell's result
    "FAILED": "error",
    "CANCELLED": "error",
    "PREEMPTED": "error",
    "NODE_FAIL": "error",
    "BOOT_FAIL": "error",
    "REVOKED": "error",
    "TIMEOUT": "timeout",
    "DEADLINE": "timeout",
    "OUT_OF_MEMORY": "oom",
}
PENDING_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESV_DEL_HOLD"}


class ClusterError(RuntimeError):
    """The cluster cannot be used as asked (no Slurm here, submitit missing, bad options); one line."""


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class ClusterOptions:
    """The suite's `cluster:` block with the command line's options laid over it."""

    executor: str = "fork"
    slurm_partition: str | None = None
    slurm_gpus_per_node: int | None = None
    slurm_time_min: int | None = None
    slurm_account: str | None = None
    slurm_array_parallelism: int | None = None
    slurm_setup: tuple[str, ...] = ()
    cells_per_job: int = 1


def resolve_options(suite_block: ClusterSettings | None, overrides: dict[str, Any]) -> ClusterOptions:
    """The suite's block, then each command-line value that was given (not None) on top."""
    base = (suite_block or ClusterSettings()).model_dump()
    base.update({k: v for k, v in overrides.items() if v is not None and k in base})
    base["slurm_setup"] = tuple(base["slurm_setup"])
    return ClusterOptions(**base)


def job_time_min(options: ClusterOptions, cells: list[Cell]) -> int:
    """The job's time limit: as given, else the largest group's cell timeouts plus 5 minutes."""
    if options.slurm_time_min:
        return options.slurm_time_min
    longest = max((c.protocol.timeout_s for c in cells), default=600.0)
    return math.ceil(options.cells_per_job * longest / 60) + 5


def group_cells(cells: Iterable[Cell], cells_per_job: int) -> list[list[Cell]]:
    """Consecutive cells of one model, at most `cells_per_job` a group (one job each)."""
    groups: list[list[Cell]] = []
    for cell in cells:
        last = groups[-1] if groups else None
        if last and len(last) < cells_per_job and last[0].model.name == cell.model.name:
            last.append(cell)
        else:
            groups.append([cell])
    return groups


# --------------------------------------------------------------------------- the job


def run_job(plan: Plan, out_dir: str, commit: str | None) -> dict[str, str]:
    """A cluster job: run each cell of `plan` as the fork server does, write each result.

    Runs in the job's process (on a compute node); returns {cell id: status}. Takes no lock."""
    server_s = runner.start_cell_server(plan)
    print(
        f"gpuscape: cell server ready in {server_s:.1f} s (torch and transformers imported once)", flush=True
    )
    statuses: dict[str, str] = {}
    node, job_id = node_name(), slurm_job_id()
    for cell in plan.cells:
        print(f"gpuscape: cell {cell.id} started: {cell.label}", flush=True)
        started_at = _now()
        start = time.perf_counter()
        payload = runner.run_cell(cell, commit)
        result = runner.assemble(cell, payload, started_at, time.perf_counter() - start, commit)
        # a cell that died reports no environment; the job's own fills in where it ran
        env = result.environment.model_copy(
            update={
                "node": result.environment.node or node,
                "slurm_job_id": result.environment.slurm_job_id or job_id,
            }
        )
        result = result.model_copy(update={"environment": env})
        store.write_atomic(store.result_path(out_dir, cell), result.to_json())
        statuses[cell.id] = result.status
        print(f"gpuscape: cell {cell.id} {result.status} in {time.perf_counter() - start:.1f} s", flush=True)
    return statuses


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the job registry


def cell_record(cell: Cell) -> dict[str, Any]:
    """A cell as JSON (every init field of the dataclass), enough to write its result later."""
    record: dict[str, Any] = {"id": cell.id, "label": cell.label}
    for f in dataclasses.fields(cell):
        if f.init:
            value = getattr(cell, f.name)
            record[f.name] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return record


def cell_from_record(record: dict[str, Any]) -> Cell | None:
    """The cell a record describes, or None when today's code gives it another id (it changed)."""
    hints = typing.get_type_hints(Cell)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(Cell):
        if not f.init or f.name not in record:
            continue
        kind = hints[f.name]
        value = record[f.name]
        kwargs[f.name] = (
            kind.model_validate(value) if isinstance(kind, type) and issubclass(kind, BaseModel) else value
        )
    try:
        cell = Cell(**kwargs)
    except (TypeError, ValueError):
        return None
    return cell if cell.id == record["id"] else None


@dataclass
class JobEntry:
    """One job of a submission: its id and its cells (as records), with what was there before it."""

    job_id: str
    cells: list[dict[str, Any]]
    mtimes_ns: dict[str, int | None]  # each cell's result file at submission (None: no file)


@dataclass
class Submission:
    """One `bench run` submission: an array of jobs, kept as `<suite>/.jobs/<id>.json`."""

    id: str
    executor: str
    submitted_at: str
    jobs: list[JobEntry] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Submission:
        data = json.loads(text)
        return cls(
            id=str(data["id"]),
            executor=str(data["executor"]),
            submitted_at=str(data["submitted_at"]),
            jobs=[JobEntry(**job) for job in data["jobs"]],
        )


def jobs_dir(suite_dir: Path) -> Path:
    return Path(suite_dir) / JOBS_DIR


def save_submission(suite_dir: Path, submission: Submission) -> Path:
    path = jobs_dir(suite_dir) / f"{submission.id}.json"
    store.write_atomic(path, submission.to_json())
    return path


def load_submissions(suite_dir: Path) -> list[Submission]:
    """Every submission recorded for a suite folder, oldest first (unreadable files are skipped)."""
    found = []
    for path in jobs_dir(suite_dir).glob("*.json"):
        try:
            found.append(Submission.from_json(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda s: (s.submitted_at, s.id))


@dataclass
class Tracked:
    """A cell's latest job: the submission, the job and the record of the cell in it."""

    submission: Submission
    job: JobEntry
    record: dict[str, Any]

    @property
    def cell_id(self) -> str:
        return str(self.record["id"])

    @property
    def key(self) -> tuple[str, str]:
        """(executor, job id): job ids of two executors may coincide."""
        return (self.submission.executor, self.job.job_id)


def latest_jobs(suite_dir: Path) -> dict[str, Tracked]:
    """cell id -> the last job submitted for it."""
    latest: dict[str, Tracked] = {}
    for submission in load_submissions(suite_dir):
        for job in submission.jobs:
            for record in job.cells:
                latest[str(record["id"])] = Tracked(submission, job, record)
    return latest


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def wrote_since(suite_dir: Path, tracked: Tracked) -> bool:
    """Whether the cell's result file changed after its job was submitted (the job wrote it)."""
    now = _mtime_ns(Path(suite_dir) / f"{tracked.cell_id}.json")
    return now is not None and now != tracked.job.mtimes_ns.get(tracked.cell_id)


# --------------------------------------------------------------------------- job states


def _submitit():
    try:
        import submitit
    except ImportError:
        raise ClusterError(
            "submitit is not installed: pip install 'gpuscape[cluster]' (or pip install submitit)"
        ) from None
    return submitit


class StateReader:
    """Job states, Slurm's vocabulary for both executors: PENDING, RUNNING, COMPLETED, FAILED, ...

    Slurm: one sacct call for all jobs through submitit's shared watcher. Local: the process this
    parent started, else the job's pid and submitit's result pickle."""

    def __init__(self, suite_dir: Path) -> None:
        self.folder = jobs_dir(suite_dir) / LOGS_DIR
        self.processes: dict[str, Any] = {}  # local job id -> Popen, for jobs this parent started

    def states(self, executor: str, job_ids: Iterable[str]) -> dict[str, str]:
        job_ids = list(dict.fromkeys(job_ids))
        if not job_ids:
            return {}
        if executor == "slurm":
            return self._slurm_states(job_ids)
        return {job_id: self._local_state(job_id) for job_id in job_ids}

    def states_of(self, tracked: Iterable[Tracked]) -> dict[tuple[str, str], str]:
        """(executor, job id) -> state for the jobs of these cells, one query per executor."""
        by_executor: dict[str, list[str]] = {}
        for t in tracked:
            by_executor.setdefault(t.submission.executor, []).append(t.job.job_id)
        return {
            (executor, job_id): state
            for executor, ids in by_executor.items()
            for job_id, state in self.states(executor, ids).items()
        }

    def _slurm_states(self, job_ids: list[str]) -> dict[str, str]:
        from submitit.slurm.slurm import SlurmJob

        jobs = [SlurmJob(self.folder, job_id) for job_id in job_ids]  # registers each with the watcher
        SlurmJob.watcher.update()  # one sacct call for all of them
        return {job.job_id: SlurmJob.watcher.get_state(job.job_id, mode="cache").upper() for job in jobs}

    def _local_state(self, job_id: str) -> str:
        process = self.processes.get(job_id)
        if process is not None:
            code = process.poll()
            if code is None:
                return "RUNNING"
            if code < 0:
                return f"CANCELLED by {signal.Signals(-code).name}"
            return self._outcome(job_id) if code == 0 else "FAILED"
        if job_id.isdigit() and store.LockOwner(int(job_id)).alive():  # a job another parent started
            return "RUNNING"
        return self._outcome(job_id)

    def _outcome(self, job_id: str) -> str:
        from submitit.core.utils import JobPaths

        pickle = JobPaths(self.folder, job_id, 0).result_pickle
        if not pickle.exists():
            return "FAILED"  # ended without submitit's own record: killed
        try:
            import pickle as pickle_module

            with pickle.open("rb") as fh:
                outcome = pickle_module.load(fh)[0]
        except Exception:
            return "FAILED"
        return "COMPLETED" if outcome == "success" else "FAILED"


def base_state(state: str) -> str:
    """'CANCELLED by 1234' -> 'CANCELLED'."""
    return state.split()[0].upper() if state.strip() else "UNKNOWN"


def is_ended(state: str) -> bool:
    return base_state(state) in ENDED_STATES


def phase(state: str) -> str:
    """pending, running or ended, for the progress line and `bench status`."""
    if is_ended(state):
        return "ended"
    return "pending" if base_state(state) in PENDING_STATES else "running"


# --------------------------------------------------------------------------- recording ended jobs


def record_ended(
    suite_dir: Path, tracked: Tracked, state: str, executor: str, commit: str | None
) -> Result | None:
    """Write the result of a cell whose job ended without writing it: status from the job's final
    state (timeout, oom, error), the state as the reason. None when the cell cannot be rebuilt."""
    cell = cell_from_record(tracked.record)
    if cell is None:
        return None
    status = ENDED_STATES.get(base_state(state), "error")
    where = "Slurm job" if executor == "slurm" else "local job"
    error = ErrorInfo(
        type=f"Job{base_state(state).title().replace('_', '')}",
        message=f"{where} {tracked.job.job_id} ended in state {state} before the cell wrote its result",
    )
    env = Environment(
        gpuscape=__version__,
        git_commit=commit,
        slurm_job_id=tracked.job.job_id if executor == "slurm" else None,
    )
    payload = {"status": status, "error": error.model_dump(), "environment": env.model_dump(mode="json")}
    result = runner.assemble(cell, payload, tracked.submission.submitted_at, 0.0, commit)
    store.write_atomic(Path(suite_dir) / f"{cell.id}.json", result.to_json())
    return result


# --------------------------------------------------------------------------- submitting


def make_executor(options: ClusterOptions, folder: Path, cells: list[Cell], name: str):
    """A submitit executor for the options: Slurm's with the sbatch parameters, or the local one."""
    submitit = _submitit()
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=options.executor)
    except (RuntimeError, ValueError) as exc:
        raise ClusterError(f"--executor {options.executor}: {exc}".splitlines()[0]) from None
    params: dict[str, Any] = {"timeout_min": job_time_min(options, cells), "name": name}
    if options.executor == "slurm":
        params.update(
            slurm_partition=options.slurm_partition,
            gpus_per_node=options.slurm_gpus_per_node,
            slurm_account=options.slurm_account,
            slurm_array_parallelism=options.slurm_array_parallelism,
            slurm_setup=list(options.slurm_setup) or None,
        )
    else:
        params.update(local_gpus(options, cells))
        if options.slurm_setup:
            params["local_setup"] = list(options.slurm_setup)
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return executor


def local_gpus(options: ClusterOptions, cells: list[Cell]) -> dict[str, Any]:
    """submitit's local jobs see only the GPUs they ask for (it sets CUDA_VISIBLE_DEVICES): as many
    as the cells' devices need (cuda:N needs N+1), and the ones this process was given."""
    needed = options.slurm_gpus_per_node
    if needed is None:
        indices = [
            int(c.setting.device.partition(":")[2] or 0) for c in cells if c.setting.device.startswith("cuda")
        ]
        needed = max(indices) + 1 if indices else 0
    params: dict[str, Any] = {"gpus_per_node": needed}
    given = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if needed and given and all(part.strip().isdigit() for part in given.split(",")):
        params["local_visible_gpus"] = [int(part) for part in given.split(",")]
    return params


def _entry(job_id: str, group: list[Cell], out_dir: Path) -> JobEntry:
    return JobEntry(
        job_id=job_id,
        cells=[cell_record(c) for c in group],
        mtimes_ns={c.id: _mtime_ns(store.result_path(out_dir, c)) for c in group},
    )


@dataclass
class Progress:
    """What the parent reports while it waits."""

    done: int
    total: int
    phases: Counter[str]


@dataclass
class ClusterRun:
    """The outcome of `bench run --executor slurm|local`."""

    submitted: list[str]  # job ids this run submitted
    reports: list[runner.CellReport]  # every cell of the plan with a result (after waiting)
    waited: bool
    in_flight: int  # cells whose jobs were still pending/running when this run returned


def cluster_sweep(
    plan: Plan,
    out_dir: Path,
    options: ClusterOptions,
    *,
    redo: bool = False,
    redo_failed: bool = False,
    wait: bool = True,
    poll_s: float | None = None,
    on_submit: Callable[[list[str], int], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ClusterRun:
    """Submit every cell of the plan that needs a job and (unless `wait` is False) wait for all.

    A cell needs a job when it has no result (any result with redo; a failed one with redo_failed)
    and its last job, if any, has ended. Holds the results-folder lock while submitting and
    waiting, like the fork server's sweep; the jobs themselves take no lock."""
    if options.executor not in ("local", "slurm"):
        raise ClusterError(f"executor {options.executor!r} is not a cluster executor")
    if options.executor == "local" and not wait:
        raise ClusterError("--no-wait needs a scheduler (--executor slurm): this process runs the local jobs")
    _submitit()
    out_dir = Path(out_dir)
    suite_dir = out_dir / plan.suite.slug
    poll_s = poll_s if poll_s is not None else (1.0 if options.executor == "local" else 15.0)
    commit = git_commit()
    reader = StateReader(suite_dir)
    with store.folder_lock(out_dir):
        in_flight, to_submit = _triage(plan, out_dir, suite_dir, reader, redo, redo_failed, commit)
        groups = group_cells(to_submit, options.cells_per_job)
        executor = (
            make_executor(options, reader.folder, to_submit, f"gpuscape-{plan.suite.slug}")
            if groups
            else None
        )
        submitted: list[str] = []
        if executor is not None and options.executor == "slurm":
            submission = _submit_array(executor, plan, groups, out_dir, commit)
            save_submission(suite_dir, submission)
            submitted = [job.job_id for job in submission.jobs]
            in_flight.update(
                {r["id"]: Tracked(submission, job, r) for job in submission.jobs for r in job.cells}
            )
        if on_submit:
            on_submit(submitted, len(to_submit))
        if not wait:
            return ClusterRun(submitted, [], waited=False, in_flight=len(in_flight))
        fresh = {c.id for c in to_submit} | set(in_flight)
        queue = groups if options.executor == "local" else []
        submitted += _wait(
            plan, out_dir, suite_dir, options, executor, reader, in_flight, queue, commit, poll_s, on_progress
        )
    reports = []
    for cell in plan.cells:
        path = store.result_path(out_dir, cell)
        result = store.existing_result(path, cell)
        if result is not None:
            reports.append(runner.CellReport(cell, result, reused=cell.id not in fresh, path=path))
    return ClusterRun(submitted, reports, waited=True, in_flight=0)


def _triage(
    plan: Plan,
    out_dir: Path,
    suite_dir: Path,
    reader: StateReader,
    redo: bool,
    redo_failed: bool,
    commit: str | None,
) -> tuple[dict[str, Tracked], list[Cell]]:
    """(cells whose last job is still pending/running, cells to submit now).

    Cells whose last job ended without a result get their failure recorded first."""
    latest = latest_jobs(suite_dir)
    open_jobs = {cell.id: latest[cell.id] for cell in plan.cells if cell.id in latest}
    open_jobs = {cid: t for cid, t in open_jobs.items() if not wrote_since(suite_dir, t)}
    states = reader.states_of(open_jobs.values())
    in_flight: dict[str, Tracked] = {}
    for cid, t in open_jobs.items():
        state = states.get(t.key, "UNKNOWN")
        if is_ended(state):
            record_ended(suite_dir, t, state, t.submission.executor, commit)
        else:
            in_flight[cid] = t
    to_submit = []
    for cell in plan.cells:
        if cell.id in in_flight:
            continue  # never twice while its job is pending or running
        earlier = store.existing_result(store.result_path(out_dir, cell), cell)
        if redo or earlier is None or (redo_failed and earlier.status != "ok"):
            to_submit.append(cell)
    return in_flight, to_submit


def _sub_plan(plan: Plan, group: list[Cell]) -> Plan:
    return Plan(suite=plan.suite, path=plan.path, cells=group, skipped=[])


def _submit_array(
    executor, plan: Plan, groups: list[list[Cell]], out_dir: Path, commit: str | None
) -> Submission:
    """All groups as one Slurm job array."""
    jobs = []
    try:
        with executor.batch():
            for group in groups:
                jobs.append(executor.submit(run_job, _sub_plan(plan, group), str(out_dir.resolve()), commit))
    except Exception as exc:  # sbatch refused (bad partition, account ...): say it in one line
        message = str(exc).strip().splitlines()
        raise ClusterError(f"sbatch failed: {message[-1] if message else type(exc).__name__}") from None
    entries = [_entry(job.job_id, group, out_dir) for job, group in zip(jobs, groups, strict=True)]
    return Submission(id=jobs[0].job_id.split("_")[0], executor="slurm", submitted_at=_now(), jobs=entries)


def _wait(
    plan: Plan,
    out_dir: Path,
    suite_dir: Path,
    options: ClusterOptions,
    executor,
    reader: StateReader,
    in_flight: dict[str, Tracked],
    queue: list[list[Cell]],
    commit: str | None,
    poll_s: float,
    on_progress: Callable[[Progress], None] | None,
) -> list[str]:
    """Wait until every tracked cell has a result; start queued local jobs as others end.

    Returns the ids of the local jobs it started (Slurm's were submitted before)."""
    started: list[str] = []
    parallel = options.slurm_array_parallelism or 1
    total = len(in_flight) + sum(len(g) for g in queue)
    done_before = 0
    local_submission: Submission | None = None
    while True:
        states = reader.states_of(in_flight.values())
        phases: Counter[str] = Counter()
        for cid, t in list(in_flight.items()):
            if wrote_since(suite_dir, t):
                del in_flight[cid]
                done_before += 1
                continue
            state = states.get(t.key, "UNKNOWN")
            if is_ended(state):
                # a job writes each result before it ends; read the folder once more, then record
                if not wrote_since(suite_dir, t):
                    record_ended(suite_dir, t, state, t.submission.executor, commit)
                del in_flight[cid]
                done_before += 1
            else:
                phases[phase(state)] += 1
        running_jobs = {t.job.job_id for t in in_flight.values()}
        while queue and len(running_jobs) < parallel:
            group = queue.pop(0)
            job = executor.submit(run_job, _sub_plan(plan, group), str(out_dir.resolve()), commit)
            reader.processes[job.job_id] = job._process
            if local_submission is None:
                local_submission = Submission(id=f"local-{job.job_id}", executor="local", submitted_at=_now())
            entry = _entry(job.job_id, group, out_dir)
            local_submission.jobs.append(entry)
            save_submission(suite_dir, local_submission)
            started.append(job.job_id)
            running_jobs.add(job.job_id)
            for record in entry.cells:
                in_flight[record["id"]] = Tracked(local_submission, entry, record)
                phases["running"] += 1
        if on_progress:
            on_progress(Progress(done=done_before, total=total, phases=phases))
        if not in_flight and not queue:
            return started
        time.sleep(poll_s)


# --------------------------------------------------------------------------- bench status


@dataclass
class CellStatus:
    """One cell of a results folder as `bench status` shows it."""

    cell: str
    model: str
    phase: str  # done | failed | pending | running
    status: str | None  # the result's status (ok, error, ...) where there is a result
    job_id: str | None
    job_state: str | None
    reason: str = ""


def folder_status(suite_dir: Path, *, record: bool = True) -> list[CellStatus]:
    """Every cell a suite's results folder knows (from result files and job records).

    With `record`, cells whose job ended without a result get their failure result written, unless
    a sweep holds the folder's lock (that sweep records them itself)."""
    suite_dir = Path(suite_dir)
    latest = latest_jobs(suite_dir)
    reader = StateReader(suite_dir)
    states = reader.states_of(t for t in latest.values() if not wrote_since(suite_dir, t))
    ended = {cid: t for cid, t in latest.items() if is_ended(states.get(t.key, ""))}
    if record and ended:
        try:
            with store.folder_lock(suite_dir.parent):
                commit = git_commit()
                for t in ended.values():
                    if not wrote_since(suite_dir, t):
                        record_ended(suite_dir, t, states[t.key], t.submission.executor, commit)
        except store.FolderLocked:
            pass
    rows: list[CellStatus] = []
    seen: set[str] = set()
    for path in sorted(suite_dir.glob("*.json")):
        try:
            result = Result.model_validate_json(path.read_text())
        except (OSError, ValueError):
            continue
        t = latest.get(result.cell)
        if t is not None and not wrote_since(suite_dir, t) and not is_ended(states.get(t.key, "")):
            continue  # an older result; the cell's new job is still on its way (listed below)
        seen.add(result.cell)
        rows.append(
            CellStatus(
                cell=result.cell,
                model=result.model.name,
                phase="done" if result.status == "ok" else "failed",
                status=result.status,
                job_id=t.job.job_id if t else result.environment.slurm_job_id,
                job_state=states.get(t.key) if t else None,
                reason=result.error.message.splitlines()[0] if result.error else "",
            )
        )
    for cid, t in latest.items():
        if cid in seen:
            continue
        state = states.get(t.key, "UNKNOWN")
        rows.append(
            CellStatus(
                cell=cid,
                model=str(t.record.get("model", {}).get("name", "?")),
                phase="failed" if is_ended(state) else phase(state),
                status=None,
                job_id=t.job.job_id,
                job_state=state,
                reason="ended without a result (a running sweep records it)" if is_ended(state) else "",
            )
        )
    return rows


def suite_dirs(folder: Path) -> list[Path]:
    """The suite folders under `folder`: itself when it holds results or jobs, else its subfolders."""
    folder = Path(folder)
    if any(folder.glob("*.json")) or jobs_dir(folder).is_dir():
        return [folder]
    return (
        sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if folder.is_dir()
        else []
    )
