"""bench.cluster: cells as submitit jobs. Real submitit: its local executor runs real job processes;
its mocked Slurm (sbatch/sacct stand-ins) writes the real sbatch script, and `process_job` runs a
submitted job as a compute node would, here with real tiny models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import cluster, runner, store
from bench.cli import main
from bench.schema import Result
from bench.suite import SuiteError, load_suite, plan

from .conftest import TINY_LLAMA, tiny_suite

submitit = pytest.importorskip("submitit")
from submitit.core.submission import process_job  # noqa: E402
from submitit.core.utils import JobPaths  # noqa: E402
from submitit.slurm.test_slurm import mocked_slurm  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def one_model_suite(name: str, batches: list[int], repeats: int = 2) -> dict:
    data = tiny_suite(
        name, models=[{"name": "Llama tiny", "family": "Llama", "arch": "llama", "config": TINY_LLAMA}]
    )
    data["repeats"] = repeats
    data["settings"]["batch_size"] = batches
    return data


def results(folder: Path) -> dict[str, Result]:
    return {p.stem: Result.model_validate_json(p.read_text()) for p in sorted(folder.glob("*.json"))}


def slurm_env(job_id: str, node: str = "gpu-node-7") -> dict[str, str]:
    """What Slurm sets in a job's environment (the subset submitit and gpuscape read); "12_3" is
    task 3 of array job 12, which has a job id of its own besides."""
    array_id, _, task = job_id.partition("_")
    array = {"SLURM_ARRAY_JOB_ID": array_id, "SLURM_ARRAY_TASK_ID": task} if task else {}
    return {
        **array,
        "SUBMITIT_EXECUTOR": "slurm",
        "SLURM_JOB_ID": str(1000 + int(task)) if task else array_id,
        "SLURMD_NODENAME": node,
        "SLURM_NTASKS": "1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_JOB_NUM_NODES": "1",
    }


def run_as_compute_node(monkeypatch, folder: Path, job_id: str) -> None:
    with monkeypatch.context() as env:
        for key, value in slurm_env(job_id).items():
            env.setenv(key, value)
        process_job(folder)


# --------------------------------------------------------------------------- options and groups


def test_cluster_block_is_validated_with_one_line_errors_naming_the_key(write_suite):
    ok = load_suite(write_suite(tiny_suite("c", cluster={"executor": "slurm", "slurm_partition": "gpu"})))
    assert ok.cluster is not None and ok.cluster.executor == "slurm" and ok.cluster.cells_per_job == 1
    for block, key in [
        ({"slurm_time_min": 0}, "cluster.slurm_time_min"),
        ({"executor": "pbs"}, "cluster.executor"),
        ({"partition": "gpu"}, "cluster.partition"),
        ({"cells_per_job": "many"}, "cluster.cells_per_job"),
    ]:
        with pytest.raises(SuiteError) as info:
            load_suite(write_suite(tiny_suite("c", cluster=block)))
        message = str(info.value)
        assert key in message and "suite.yaml" in message and "\n" not in message


def test_command_line_wins_over_the_suite_block_and_ids_ignore_it(write_suite):
    with_block = plan(
        write_suite(tiny_suite("c", cluster={"executor": "slurm", "slurm_time_min": 10}), "a.yaml")
    )
    without = plan(write_suite(tiny_suite("c"), "b.yaml"))
    assert [c.id for c in with_block.cells] == [c.id for c in without.cells]
    options = cluster.resolve_options(
        with_block.suite.cluster,
        {"executor": "local", "slurm_time_min": None, "cells_per_job": 2, "other": 1},
    )
    assert (options.executor, options.slurm_time_min, options.cells_per_job) == ("local", 10, 2)
    assert cluster.resolve_options(None, {}).executor == "fork"


def test_groups_hold_consecutive_cells_of_one_model(write_suite):
    cells = plan(write_suite(tiny_suite("g"))).cells  # 2 models x batch 1, 2
    groups = cluster.group_cells(cells, 3)
    assert [[c.model.name for c in g] for g in groups] == [["Llama tiny"] * 2, ["Qwen tiny"] * 2]
    assert [len(g) for g in cluster.group_cells(cells, 1)] == [1, 1, 1, 1]
    # the default time limit covers every cell of a group at its timeout (120 s), plus 5 minutes
    options = cluster.ClusterOptions(executor="slurm", cells_per_job=2)
    assert cluster.job_time_min(options, cells) == 4 + 5


def test_a_cell_survives_its_registry_record(write_suite):
    cell = plan(write_suite(tiny_suite("r"))).cells[1]
    record = json.loads(json.dumps(cluster.cell_record(cell)))
    again = cluster.cell_from_record(record)
    assert again is not None and again.id == cell.id and again.setting == cell.setting
    assert cluster.cell_from_record({**record, "seed": 99}) is None  # another cell: never written as this one


# --------------------------------------------------------------------------- submitit's local executor


def test_local_executor_writes_the_fork_servers_files(write_suite, tmp_path, capsys):
    suite = write_suite(one_model_suite("local", [1, 2]))
    p = plan(suite)
    fork_out, local_out = tmp_path / "fork", tmp_path / "local"
    runner.sweep(p, fork_out)
    assert main(["run", str(suite), "--executor", "local", "--out", str(local_out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert (
        "submitted 2 cells as local jobs" in printed and "2 cells in" in printed and "all cells ok" in printed
    )

    fork, local = results(fork_out / "local"), results(local_out / "local")
    assert sorted(local) == sorted(fork) == sorted(c.id for c in p.cells)
    for cell_id, result in local.items():
        other = fork[cell_id]
        assert result.status == "ok", result.error
        assert (result.model, result.setting, result.protocol) == (other.model, other.setting, other.protocol)
        m = result.metrics
        assert m.generated_tokens == result.setting.new_tokens
        assert m.decode.per_token_s.n == 2 and 0 < m.decode.per_token_s.min <= m.decode.per_token_s.max
        # plausible for a 2-layer model on a CPU (the machine is shared, so no ratio to the fork run)
        assert m.decode.tokens_per_s == pytest.approx(result.setting.batch_size / m.decode.per_token_s.median)
        assert 1 < m.decode.tokens_per_s < 1e5
        assert result.model.weight_bytes == other.model.weight_bytes > 0
        assert m.memory.peak_rss_bytes > m.memory.baseline_rss_bytes
        assert result.environment.node and result.environment.slurm_job_id is None
    submissions = cluster.load_submissions(local_out / "local")
    assert [s.executor for s in submissions] == ["local"] and len(submissions[0].jobs) == 2

    # a rerun submits nothing and reports the cells as cached
    assert main(["run", str(suite), "--executor", "local", "--out", str(local_out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "nothing to submit" in printed and "(cached)" in printed
    assert len(cluster.load_submissions(local_out / "local")) == 1
    assert main(["status", str(local_out / "local")]) == 0
    assert "2 done, 0 failed, 0 pending, 0 running" in capsys.readouterr().out


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def test_a_local_job_killed_mid_cell_is_recorded_by_the_waiting_parent(write_suite, tmp_path, capsys):
    suite = write_suite(one_model_suite("lkill", [1], repeats=20))
    out = tmp_path / "results"
    logs = out / "lkill" / cluster.JOBS_DIR / cluster.LOGS_DIR
    (cell,) = plan(suite).cells
    killed: list[int] = []

    def kill_the_job_once_its_cell_runs() -> None:  # what a node failure does: the job and its cell die
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            for log in logs.glob("*_0_log.out"):
                if f"cell {cell.id} started" in log.read_text():
                    for pid in descendants(int(log.name.split("_")[0])):  # below the job's controller
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_job_once_its_cell_runs, daemon=True)
    killer.start()
    code = main(["run", str(suite), "--executor", "local", "--out", str(out), "--no-progress"])
    killer.join()
    assert killed and code == 1
    assert "1 error" in capsys.readouterr().out
    result = Result.model_validate_json((out / "lkill" / f"{cell.id}.json").read_text())
    assert result.status == "error" and result.error is not None
    assert result.error.message.startswith("local job ") and "FAILED" in result.error.message


def test_no_wait_and_redo_failed_need_a_cluster_executor(write_suite, tmp_path, capsys):
    suite = write_suite(one_model_suite("nw", [1]))
    assert main(["run", str(suite), "--executor", "local", "--no-wait", "--out", str(tmp_path)]) == 2
    assert "--no-wait needs a scheduler" in capsys.readouterr().out
    assert main(["run", str(suite), "--redo-failed", "--out", str(tmp_path)]) == 2
    assert not list(tmp_path.rglob("*.json"))


# --------------------------------------------------------------------------- submitit's mocked Slurm


def test_mocked_slurm_sbatch_script_and_a_job_run_as_a_compute_node(
    write_suite, tmp_path, monkeypatch, capsys
):
    suite = write_suite(tiny_suite("arr", repeats=1))  # 2 models x batch 1, 2: 4 cells, 2 jobs of 2
    out = tmp_path / "results"
    args = ["run", str(suite), "--out", str(out), "--executor", "slurm", "--slurm-partition", "gpu"]
    args += ["--slurm-gpus-per-node", "1", "--slurm-time", "30", "--slurm-account", "lab"]
    args += ["--slurm-array-parallelism", "2", "--cells-per-job", "2", "--no-wait"]
    with mocked_slurm() as mock:
        assert main(args) == 0
        assert "submitted 4 cells as 2 slurm jobs: 12_0 12_1" in capsys.readouterr().out
        folder = out / "arr" / cluster.JOBS_DIR / cluster.LOGS_DIR
        sbatch = JobPaths(folder, "12").submission_file.read_text()
        lines = [line.strip() for line in sbatch.splitlines() if line.startswith("#SBATCH")]
        for expected in (
            "#SBATCH --partition=gpu",
            "#SBATCH --gpus-per-node=1",
            "#SBATCH --time=30",
            "#SBATCH --account=lab",
            "#SBATCH --array=0-1%2",
            "#SBATCH --job-name=gpuscape-arr",
        ):
            assert expected in lines, (expected, lines)

        # while the jobs are pending/running, a rerun submits nothing (sbatch is not called again)
        assert main(args) == 0
        assert "nothing to submit" in capsys.readouterr().out and mock.job_count == 13
        assert main(["status", str(out / "arr")]) == 0
        assert "0 done, 0 failed, 0 pending, 4 running" in capsys.readouterr().out

        # each array task runs as a compute node would; the parent's lock does not stop it
        with store.folder_lock(out):
            for job_id in ("12_0", "12_1"):
                run_as_compute_node(monkeypatch, folder, job_id)
        mock.set_job_state("12", "COMPLETED", array=2)
        written = results(out / "arr")
        assert len(written) == 4
        p = plan(suite)
        by_job = {}
        for cell in p.cells:
            result = written[cell.id]
            assert result.status == "ok", result.error
            assert result.environment.node == "gpu-node-7"
            by_job.setdefault(result.environment.slurm_job_id, set()).add(cell.model.name)
        assert by_job == {"12_0": {"Llama tiny"}, "12_1": {"Qwen tiny"}}  # one model per job
        assert main(["status", str(out / "arr")]) == 0
        assert "4 done, 0 failed, 0 pending, 0 running" in capsys.readouterr().out


def test_a_job_killed_mid_cell_is_recorded_and_redo_failed_runs_it_again(
    write_suite, tmp_path, monkeypatch, capsys
):
    suite = write_suite(one_model_suite("kill", [1], repeats=20))  # about 2 s: killed mid-cell
    out = tmp_path / "results"
    suite_dir = out / "kill"
    folder = suite_dir / cluster.JOBS_DIR / cluster.LOGS_DIR
    base = ["run", str(suite), "--out", str(out), "--executor", "slurm", "--no-progress"]
    (cell,) = plan(suite).cells
    with mocked_slurm() as mock:
        assert main([*base, "--no-wait"]) == 0
        capsys.readouterr()
        # the compute node: a real job process, killed (with its cell) once the cell has started
        env = {**os.environ, **slurm_env("12")}  # an array of one job is a plain job
        code = f"from submitit.core.submission import process_job; process_job({str(folder)!r})"
        job = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            for line in job.stdout:  # type: ignore[union-attr]
                if f"cell {cell.id} started" in line or time.monotonic() > deadline:
                    break
            os.killpg(job.pid, signal.SIGKILL)
        finally:
            job.wait()
        assert not (suite_dir / f"{cell.id}.json").exists()
        mock.set_job_state("12", "PREEMPTED")

        # bench status sees the job's end without a result and records it
        assert main(["status", str(suite_dir)]) == 0
        assert "0 done, 1 failed" in capsys.readouterr().out
        failed = Result.model_validate_json((suite_dir / f"{cell.id}.json").read_text())
        assert failed.status == "error" and failed.error is not None
        assert "PREEMPTED" in failed.error.message and "job 12 " in failed.error.message
        assert failed.environment.slurm_job_id == "12" and failed.model.name == "Llama tiny"
        assert failed.setting == cell.setting

        # a plain rerun keeps the failure; --redo-failed submits the cell again
        assert main([*base, "--no-wait"]) == 0
        assert "nothing to submit" in capsys.readouterr().out and mock.job_count == 13
        assert main([*base, "--no-wait", "--redo-failed"]) == 0
        assert "submitted 1 cells as 1 slurm jobs: 13" in capsys.readouterr().out

        # the waiting parent records a job Slurm ended (here: its time limit) without the cell's result
        mock.set_job_state("13", "TIMEOUT")
        assert main(base) == 1  # a timeout is a failed cell
        printed = capsys.readouterr().out
        assert "nothing to submit" in printed and "1 timeout" in printed
        timed_out = Result.model_validate_json((suite_dir / f"{cell.id}.json").read_text())
        assert timed_out.status == "timeout" and "TIMEOUT" in timed_out.error.message  # type: ignore[union-attr]

        assert main([*base, "--no-wait", "--redo-failed"]) == 0
        assert "slurm jobs: 14" in capsys.readouterr().out
    # outside the mock: the job runs for real and writes the cell's result
    run_as_compute_node(monkeypatch, folder, "14")
    redone = Result.model_validate_json((suite_dir / f"{cell.id}.json").read_text())
    assert redone.status == "ok" and redone.environment.slurm_job_id == "14"
