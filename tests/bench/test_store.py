"""bench.store: result paths, the atomic write, the folder lock, existing results."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench import store
from bench.suite import plan

from .conftest import tiny_suite

REPO = Path(__file__).resolve().parents[2]


def test_store_imports_no_runner_and_no_torch():
    """The cycle runner -> roofline -> hardware -> cpuprobe -> runner is gone: the probe's cache
    writer and the store import neither the runner nor torch."""
    code = "import sys, bench.store, bench.cpuprobe, bench.hardware; print(sorted(m for m in ('bench.runner', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_result_path_and_existing_result(write_suite, tmp_path):
    (cell, other) = plan(write_suite(tiny_suite("paths"))).cells[:2]
    path = store.result_path(tmp_path, cell)
    assert path == tmp_path / "paths" / f"{cell.id}.json"
    assert store.existing_result(path, cell) is None  # missing
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert store.existing_result(path, cell) is None  # corrupt


def test_write_atomic_uses_the_umask_and_leaves_no_temp_file(tmp_path):
    old = os.umask(0o022)
    try:
        store.write_atomic(tmp_path / "a" / "x.json", "{}\n")
        os.umask(0o027)
        store.write_atomic(tmp_path / "a" / "y.json", "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "x.json").stat().st_mode) == 0o644  # was 0600 before
    assert stat.S_IMODE((tmp_path / "a" / "y.json").stat().st_mode) == 0o640
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.json", "y.json"]


def test_folder_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    with store.folder_lock(tmp_path):
        code = f"from bench import store\nwith store.folder_lock({str(tmp_path)!r}): pass"
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        assert out.returncode != 0
        assert f"pid {os.getpid()} since" in out.stderr and "stale" not in out.stderr
    with store.folder_lock(tmp_path):  # released: free again
        pass


def test_a_lock_whose_owner_died_is_shown_as_stale(tmp_path):
    """The sweep was killed but a process it started still holds the lock: say so."""
    script = textwrap.dedent(f"""
        import os, sys, time
        from bench import store
        with store.folder_lock({str(tmp_path)!r}):
            child = os.fork()
            if child == 0:  # inherits the locked file; outlives its parent
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 1), os.dup2(null, 2)  # let the parent's output pipe close
                time.sleep(60)
                os._exit(0)
            print(child, flush=True)
            os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    orphan = int(out.stdout.strip())
    try:
        with pytest.raises(store.FolderLocked, match=r"pid \d+ since .*\(stale: that process has ended"):
            with store.folder_lock(tmp_path):
                pass
    finally:
        os.kill(orphan, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with store.folder_lock(tmp_path):
                break
        except store.FolderLocked:
            time.sleep(0.1)
    else:
        pytest.fail("the lock was not released when its last holder died")
