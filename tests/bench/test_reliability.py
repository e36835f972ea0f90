"""Issue 17: every failure names its cause, nothing hostile reaches a terminal, no unbounded input.

Real sweeps of tiny models in real processes; real signals; a real tmpfs where the tests run as root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from bench import runner, store
from bench.cli import EXIT_INTERRUPTED, EXIT_STORAGE, main
from bench.schema import Result
from bench.suite import SuiteError, plan

from .conftest import TINY_LLAMA, tiny_suite

REPO = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0


# --------------------------------------------------------------------------- processes


def _ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _ppid_and_state(int(entry.name))
            if info and info[0] == pid and info[1] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    info = _ppid_and_state(pid)
    return info is not None and info[1] != "Z"


def _cell_process(sweep_pid: int, timeout_s: float = 120) -> tuple[int, int]:
    """(fork server pid, cell pid) of a sweep once a cell has run for a second."""
    deadline = time.monotonic() + timeout_s
    seen: dict[int, float] = {}
    while time.monotonic() < deadline:
        for server in _children(sweep_pid):
            try:
                cmdline = Path(f"/proc/{server}/cmdline").read_bytes()
            except OSError:
                continue
            if b"forkserver" not in cmdline:
                continue
            for cell in _children(server):
                first = seen.setdefault(cell, time.monotonic())
                if time.monotonic() - first > 1.0:  # not the server's short readiness probe
                    return server, cell
        time.sleep(0.1)
    raise AssertionError("no cell process appeared")


def _slow_suite(write_suite, name: str, models: int = 1) -> Path:
    """A suite whose cell runs for many seconds (a long generation), so it can be caught running."""
    data = tiny_suite(
        name,
        [
            {"name": f"Slow {i}", "arch": "llama", "config": TINY_LLAMA, "settings": {"new_tokens": [4000]}}
            for i in range(models)
        ],
        warmup=0,
        repeats=1,
        timeout_s=300,
    )
    data["settings"]["batch_size"] = [1]
    data["settings"]["prompt_tokens"] = [256]
    return write_suite(data)


def _start_sweep(path: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench", "run", str(path), "--out", str(out), "--no-progress"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _results(folder: Path) -> list[Result]:
    return [Result.model_validate_json(f.read_text()) for f in sorted(folder.glob("*.json"))]


# --------------------------------------------------------------------------- 1. killed is not OOM


def test_a_sigkilled_cell_is_an_error_naming_the_signal_not_an_oom(write_suite, tmp_path):
    out = tmp_path / "results"
    sweep = _start_sweep(_slow_suite(write_suite, "killed-cell"), out)
    _, cell = _cell_process(sweep.pid)
    os.kill(cell, signal.SIGKILL)  # as a user (or another job) would: not the OOM killer
    stdout, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 1, stdout + stderr
    (result,) = _results(out / "killed-cell")
    assert result.status == "error"
    assert result.error.type == "Killed" and "SIGKILL" in result.error.message
    assert "oom" not in result.error.message.lower().replace("no sign of the oom killer", "")
    assert "1 error" in stdout and "oom" not in stdout.replace("no sign of the OOM killer", "")


def test_a_sigkill_is_an_oom_only_with_evidence():
    status, error = runner.describe_death(-signal.SIGKILL, oom=None)
    assert status == "error" and "SIGKILL" in error.message
    evidence = "the cgroup's oom_kill count rose from 3 to 4 during the cell"
    status, error = runner.describe_death(-signal.SIGKILL, oom=evidence)
    assert status == "oom" and evidence in error.message
    assert runner.describe_death(-signal.SIGSEGV, oom=evidence)[0] == "error"  # a crash stays a crash


def test_oom_kill_count_is_read_where_the_cgroup_shows_it():
    count = runner.oom_kill_count()
    readable = [p for p in runner.oom_count_files() if p.is_file()]
    if not readable:
        pytest.skip("no cgroup memory.events or memory.oom_control readable here")
    assert isinstance(count, int) and count >= 0


# --------------------------------------------------------------------------- 2. control characters


@pytest.mark.parametrize(
    ("name", "code"), [("Bad\fname", "U+000C"), ("abc\u202egnp.exe", "U+202E"), ("x\x9by", "U+009B")]
)
def test_control_and_bidi_characters_in_a_name_are_refused_naming_the_field(write_suite, name, code, capsys):
    path = write_suite(tiny_suite("names", [{"name": name, "arch": "llama", "config": TINY_LLAMA}]))
    with pytest.raises(
        SuiteError, match=rf"models\[0\] .*\.name: holds the control character {re.escape(code)}"
    ):
        plan(path)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and str(path) in out and code in out
    assert name not in out  # shown escaped, never raw


def test_a_control_character_in_the_suite_name_or_family_is_refused(write_suite):
    with pytest.raises(SuiteError, match=r"name: holds the control character U\+001B"):
        plan(write_suite(tiny_suite("evil\x1b[2J")))
    models = [{"name": "ok", "family": "Fam\u2066ily", "arch": "llama", "config": TINY_LLAMA}]
    with pytest.raises(SuiteError, match=r"family: holds the control character U\+2066"):
        plan(write_suite(tiny_suite("fam", models)))


# --------------------------------------------------------------------------- 3. bounds


@pytest.mark.parametrize("key", ["batch_size", "prompt_tokens", "new_tokens"])
def test_a_400_digit_setting_is_refused_in_one_line(write_suite, key):
    data = tiny_suite("huge")
    data["settings"][key] = [10**400]
    with pytest.raises(SuiteError, match=rf"settings\.{key}: must be below .* got a 401-digit number"):
        plan(write_suite(data))


# --------------------------------------------------------------------------- 5. markup and controls


def test_markup_in_names_and_paths_is_printed_literally(write_suite, tmp_path, capsys):
    names = ["Llama 3 [int8]", "[bold]Bold[/bold] [/]", "[link=http://evil.example]Link[/link]"]
    models = [{"name": n, "arch": "llama", "config": TINY_LLAMA} for n in names]
    data = tiny_suite("markup [/] [red]x", models)
    data["settings"]["batch_size"] = [1]
    (tmp_path / "suite [").mkdir()  # the path holds "[/]" across a separator, and an OSC-8 link
    path = write_suite(data, name="suite [/] \x1b]8;;evil\x1b\\ [bold].yaml")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "suite [/] \\x1b]8;;evil\\x1b\\ [bold].yaml: valid" in out
    assert "\x1b" not in out
    code = main(["run", str(path), "--out", str(tmp_path / "results"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    for name in names:
        assert name in out  # the summary table shows every name as written
    assert "\x1b" not in out


# --------------------------------------------------------------------------- 6. size


def test_a_million_cell_suite_is_refused_fast_and_small(write_suite, capsys):
    data = tiny_suite("million")
    data["settings"].update(batch_size=list(range(1, 101)), prompt_tokens=list(range(1, 101)))
    data["settings"]["new_tokens"] = list(range(1, 51))
    path = write_suite(data)  # 2 models x 100 x 100 x 50 = 1,000,000 cells
    tracemalloc.start()
    start = time.perf_counter()
    try:
        code = main(["validate", str(path)])
        elapsed_s = time.perf_counter() - start
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out = capsys.readouterr().out
    assert code == 2
    assert "1,000,000 cells (2 models x batch_size 100 x prompt_tokens 100 x new_tokens 50)" in out
    assert "--max-cells" in out and out.count("\n") == 1
    assert elapsed_s < 2.0 and peak_bytes < 50e6


def test_max_cells_raises_and_lowers_the_limit(write_suite, capsys):
    path = write_suite(tiny_suite("limits"))  # 4 cells
    assert main(["validate", str(path), "--max-cells", "3"]) == 2
    assert "4 cells" in capsys.readouterr().out
    assert main(["validate", str(path), "--max-cells", "4"]) == 0


# --------------------------------------------------------------------------- 4. the file system


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def mounts():
    made: list[Path] = []
    yield made
    for where in made:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_out_pointing_at_a_file_is_one_line_with_the_storage_exit(write_suite, tmp_path, capsys):
    not_a_folder = tmp_path / "results"
    not_a_folder.write_text("a file")
    assert main(["run", str(write_suite(tiny_suite("f"))), "--out", str(not_a_folder), "--no-progress"]) == 4
    out = capsys.readouterr().out
    assert f"cannot write results: {not_a_folder}: not a folder (ENOTDIR)" in out
    assert "Traceback" not in out


def test_a_read_only_results_folder_is_one_line_before_anything_is_measured(
    write_suite, tmp_path, mounts, capsys
):
    folder = tmp_path / "ro"
    if IS_ROOT:  # root ignores permission bits: a read-only mount is the honest test
        _mount_tmpfs(folder, "ro,size=1m")
        mounts.append(folder)
        cause = "Read-only file system (EROFS)"
    else:
        folder.mkdir()
        folder.chmod(0o555)
        cause = "Permission denied (EACCES)"
    code = main(["run", str(write_suite(tiny_suite("ro"))), "--out", str(folder), "--no-progress"])
    out = capsys.readouterr().out
    assert code == EXIT_STORAGE
    assert f"cannot write results: {folder / '.lock'}: {cause}" in out and out.count("cannot write") == 1
    assert "suite 'ro'" in out and "Traceback" not in out


@pytest.mark.skipif(not IS_ROOT, reason="a full disk is a tiny tmpfs, which only root can mount")
def test_a_full_disk_keeps_the_measured_result_beside_the_folder(write_suite, tmp_path, mounts, capsys):
    folder = tmp_path / "full"
    _mount_tmpfs(folder, "size=64k")
    mounts.append(folder)
    with open(folder / "filler", "wb", buffering=0) as fh:  # fill it to the last block
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    data = tiny_suite("full")  # 4 cells: the sweep stops after the first it cannot save
    code = main(["run", str(write_suite(data)), "--out", str(folder), "--no-progress"])
    out = capsys.readouterr().out
    assert code == EXIT_STORAGE, out
    line = next(line for line in out.splitlines() if line.startswith("not saved:"))
    assert "No space left on device (ENOSPC)" in line and str(folder / "full") in line
    kept = tmp_path / "full.unsaved" / "full"
    assert f"kept in {kept}" in line
    (saved,) = _results(kept)  # the measurement, whole and valid
    assert saved.status == "ok" and saved.metrics.decode.tokens_per_s > 0
    assert not list(folder.rglob("*.tmp"))  # no half-written file left on the full disk


def test_an_unsaved_result_with_nowhere_to_go_is_printed_on_stderr(tmp_path, monkeypatch, capsys):
    """The last resort: no folder takes the file, so the JSON goes to stderr whole."""
    from bench import cli

    monkeypatch.setattr(store.tempfile, "gettempdir", lambda: str(tmp_path / "not-a-folder" / "x"))
    (tmp_path / "not-a-folder").write_text("")
    (tmp_path / "out.unsaved").write_text("")  # beside the folder: taken by a file
    error = OSError(28, "No space left on device")
    unsaved = store.UnsavedResult(
        tmp_path / "out" / "s" / "abc.json",
        error,
        '{"x": 1}\n',
        store.rescue(tmp_path / "out" / "s" / "abc.json", '{"x": 1}\n'),
    )
    assert unsaved.kept is None
    console = cli.Console(width=200)
    assert cli._storage_error(console, unsaved) == EXIT_STORAGE
    captured = capsys.readouterr()
    assert captured.err == '{"x": 1}\n'
    assert "printed as JSON on stderr" in captured.out and "ENOSPC" in captured.out


# --------------------------------------------------------------------------- process life


def test_a_killed_sweep_leaves_no_cell_running(write_suite, tmp_path):
    sweep = _start_sweep(_slow_suite(write_suite, "orphan"), tmp_path / "results")
    server, cell = _cell_process(sweep.pid)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_alive(cell) or _alive(server)):
        time.sleep(0.05)
    try:
        assert not _alive(cell), "the cell kept measuring after its sweep was killed"
        assert not _alive(server), "the fork server outlived its sweep"
    finally:
        for pid in (cell, server):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_ctrl_c_prints_one_line_exits_130_and_ends_the_running_cell(write_suite, tmp_path):
    sweep = _start_sweep(_slow_suite(write_suite, "interrupt"), tmp_path / "results")
    _, cell = _cell_process(sweep.pid)
    os.kill(sweep.pid, signal.SIGINT)  # the sweep alone: a terminal's Ctrl-C also reaches the cell
    stdout, stderr = sweep.communicate(timeout=60)
    assert sweep.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in stdout + stderr
    assert [line for line in (stdout + stderr).splitlines() if "interrupted" in line] == [
        "interrupted: the running cell was stopped; results written so far are kept (rerun to resume)"
    ]
    assert not _alive(cell)
    assert not list((tmp_path / "results" / "interrupt").glob("*.json"))


def test_result_files_are_readable_by_others(write_suite, tmp_path):
    data = tiny_suite("mode", [{"name": "Llama", "arch": "llama", "config": TINY_LLAMA}])
    data["settings"]["batch_size"] = [1]
    old = os.umask(0o022)
    try:
        (report,) = runner.sweep(plan(write_suite(data)), tmp_path / "results")
    finally:
        os.umask(old)
    assert oct(report.path.stat().st_mode & 0o777) == oct(0o644)  # was 0600
    json.loads(report.path.read_text())
    shutil.rmtree(tmp_path / "results")


# --------------------------------------------------------------------------- validate and the lock


def test_validate_builds_each_config_and_gives_the_reason_first(write_suite, capsys):
    models = [{"name": "Five heads", "arch": "llama", "config": {**TINY_LLAMA, "num_attention_heads": 5}}]
    path = write_suite(tiny_suite("heads", models))
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    line = out.split("models[0] 'Five heads'.config: ", 1)[1]
    # the reason first; transformers' "Class validation error for validator ...:" header after it
    assert line.startswith(
        "ValueError: The hidden size (64) is not a multiple of the number of attention heads (5)"
    )
    assert line.rstrip().endswith("(Class validation error for validator 'validate_architecture')")


def test_the_lock_covers_the_whole_out_folder_not_one_suite(write_suite, tmp_path, capsys):
    out = tmp_path / "results"
    with store.folder_lock(out):  # as a sweep of another suite holds it
        assert main(["run", str(write_suite(tiny_suite("other"))), "--out", str(out), "--no-progress"]) == 3
    assert f"{out}: another sweep is writing here (pid {os.getpid()} since" in capsys.readouterr().out
