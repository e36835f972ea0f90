"""The results folder: where a cell's result lives, how it is written, who may write, what is there.

Every executor (the fork server, submitit's local executor, Slurm) writes through these four
pieces, so a result file is always whole, always where the next sweep looks for it, and one sweep
at a time writes a folder:

- `result_path(out_dir, cell)`: `<out_dir>/<suite>/<cell id>.json`;
- `write_atomic(path, text)`: temp file in the same folder + fsync + rename, mode from the umask;
- `existing_result(path, cell)`: the valid earlier result of this exact cell, or None;
- `folder_lock(out_dir)`: an exclusive lock on the whole results folder for a sweep;
- `save(path, text)`: write_atomic with retries; when the file system still refuses, `rescue`
  keeps the text beside the results folder (or in the temp folder) and `UnsavedResult` says where,
  so a measurement is never lost silently.

Imports only the standard library and bench.schema (pydantic): no torch, no cycle.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bench.schema import Result

if TYPE_CHECKING:
    from bench.suite import Cell

LOCK_NAME = ".lock"


class FolderLocked(RuntimeError):
    """Another sweep holds the results folder's lock; the message names it (and says if stale)."""


def result_path(out_dir: str | Path, cell: Cell) -> Path:
    """Where a cell's result file lives: `<out_dir>/<suite slug>/<cell id>.json`."""
    return Path(out_dir) / cell.suite / f"{cell.id}.json"


def current_umask() -> int:
    """The process's umask, read without changing it where /proc allows (os.umask sets it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temp file in the same folder and a rename, so readers never
    see half a file; the file gets the mode an ordinary `open()` would (0o666 less the umask).

    Raises OSError (the folder cannot be made, the disk is full, the file system is read-only ...)
    with nothing left behind: the temp file is removed and an older `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; results are meant to be read by a web server or a colleague
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UnsavedResult(OSError):
    """A result could not be written where it belongs. `kept` is where its text went instead
    (None: nowhere on disk; `text` holds it, for the caller to print)."""

    def __init__(self, path: Path, cause: OSError, text: str, kept: Path | None) -> None:
        super().__init__(cause.errno, cause.strerror, str(path))
        self.path, self.cause, self.text, self.kept = path, cause, text, kept

    def __str__(self) -> str:
        where = (
            f"kept in {self.kept} (move it into {self.path.parent}/)"
            if self.kept
            else "printed as JSON on stderr"
        )
        return f"cannot write {self.path}: {describe_os_error(self.cause)}; the result was {where}"


def describe_os_error(error: OSError) -> str:
    """'No space left on device (ENOSPC)' style: the cause in words and its errno name."""
    name = errno.errorcode.get(error.errno or 0)
    text = error.strerror or str(error)
    if error.errno == errno.EEXIST and error.filename and Path(error.filename).is_file():
        name, text = "ENOTDIR", "not a folder"  # mkdir of a path that is a file
    return f"{text} ({name})" if name else text


def save(path: str | Path, text: str, attempts: int = 3, wait_s: float = 0.5) -> None:
    """write_atomic, retried (a full disk may be freed, a network folder may come back); when
    every attempt fails the text is rescued (see `rescue`) and UnsavedResult raised."""
    path = Path(path)
    for attempt in range(attempts):
        try:
            write_atomic(path, text)
            return
        except OSError as error:
            cause = error
            if attempt + 1 < attempts:
                time.sleep(wait_s)
    raise UnsavedResult(path, cause, text, rescue(path, text))


def rescue(path: Path, text: str) -> Path | None:
    """Write a result that could not be saved at `path` somewhere else: beside the results
    folder (`<out>.unsaved/<suite>/<cell>.json`), else in the temp folder. None when neither works."""
    suite_dir = path.parent
    out_dir = suite_dir.parent
    for folder in (
        out_dir.parent / f"{out_dir.name}.unsaved",
        Path(tempfile.gettempdir()) / "gpuscape-unsaved",
    ):
        target = folder / suite_dir.name / path.name
        try:
            write_atomic(target, text)
        except OSError:
            continue
        return target
    return None


def existing_result(path: str | Path, cell: Cell) -> Result | None:
    """A valid earlier result for this exact cell, or None (missing, unreadable, corrupt, another cell)."""
    try:
        result = Result.model_validate_json(Path(path).read_text())
    except (OSError, ValidationError, ValueError):
        return None
    return result if result.cell == cell.id else None


# --------------------------------------------------------------------------- the folder lock


@dataclass(frozen=True)
class LockOwner:
    """Who wrote the lock file: enough to tell a user which process holds it and since when."""

    pid: int | None
    host: str = ""
    since: str = ""

    def alive(self) -> bool | None:
        """True/False for a process of this host; None when it cannot be told (another host)."""
        if self.pid is None or (self.host and self.host != socket.gethostname()):
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            return True
        return True

    def describe(self) -> str:
        if self.pid is None:
            return "another process"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        since = f" since {self.since}" if self.since else ""
        text = f"pid {self.pid}{where}{since}"
        if self.alive() is False:
            # the lock is held, so a process still has the file open: a cell or a child the
            # dead sweep left behind
            text += " (stale: that process has ended; a process it started still holds the lock)"
        return text


def read_owner(text: str) -> LockOwner:
    """The owner recorded in a lock file (JSON; a bare pid from older versions)."""
    text = text.strip()
    if not text:
        return LockOwner(None)
    try:
        data = json.loads(text)
    except ValueError:
        return LockOwner(None)
    if isinstance(data, int):
        return LockOwner(data)
    if isinstance(data, dict) and isinstance(data.get("pid"), int):
        return LockOwner(data["pid"], str(data.get("host", "")), str(data.get("since", "")))
    return LockOwner(None)


@contextmanager
def folder_lock(out_dir: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on a whole results folder (`<out_dir>/.lock`) for a sweep.

    One sweep per folder at a time, whatever its suite: two sweeps on the same machine would share
    its cores and distort each other's timings. The kernel drops the lock when the holder dies, so
    a killed sweep never leaves the folder locked. Raises FolderLocked naming the holder (and
    saying when it is stale) when another process has it; OSError when the folder is unusable."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / LOCK_NAME, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = read_owner(fh.read())
            raise FolderLocked(
                f"{out_dir}: another sweep is writing here ({owner.describe()}); wait for it or stop it"
            ) from None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        owner = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since})
        try:  # who holds it is information only: a full disk must not stop the lock
            os.ftruncate(fh.fileno(), 0)
            os.pwrite(fh.fileno(), owner.encode(), 0)
        except OSError:
            pass
        try:
            yield
        finally:
            try:
                os.ftruncate(fh.fileno(), 0)
            except OSError:
                pass
            fcntl.flock(fh, fcntl.LOCK_UN)
