"""Rendered files kept by the content that makes them, so a rebuild renders only what changed.

A key is a hash of everything that decides the output: for an image, the figure spec's JSON
(data, layout, the template inside it), the format, the size and scale, antialiasing and the
renderer's version (plotly.js and our page, report.export.renderer_version). Same key, same
bytes; a changed value, view, style or template changes the spec and so the key. Entries live in
<out>/.cache/ and are hard-linked (or copied) into the build, never edited in place, so the
cache never serves a stale file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CACHE_DIR = ".cache"
FORMAT_VERSION = "1"  # bump when what a key covers changes


def digest(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dict keys sorted; anything else by its str)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(paths: Iterable[Path]) -> str:
    """A hash of files' names and bytes."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode("utf-8") + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """A hash of every file under `root`: relative paths and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def place(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source`: a hard link where the file system allows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class Cache:
    """Files by key under one folder (None: a cache that holds nothing and keeps nothing)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0
        self.used: set[Path] = set()

    def path(self, key: str, suffix: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / key[:2] / f"{key}{suffix}"

    def fetch(self, key: str, suffix: str, target: Path) -> bool:
        """Place the cached file for `key` at `target`; False (and a miss counted) if absent."""
        path = self.path(key, suffix)
        if path is None or not path.is_file():
            self.misses += 1
            return False
        place(path, target)
        self.used.add(path)
        self.hits += 1
        return True

    def has(self, key: str, suffix: str) -> bool:
        path = self.path(key, suffix)
        return path is not None and path.is_file()

    def store(self, key: str, suffix: str, source: Path) -> None:
        """Keep a copy of `source` under `key` (atomically: a reader sees all of it or none)."""
        path = self.path(key, suffix)
        if path is None or not source.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, path)
        self.used.add(path)

    def store_tree(self, name: str, key: str, source: Path) -> None:
        """Keep one copy of a folder (the latest) under `name`, stamped with `key`."""
        if self.folder is None:
            return
        target = self.folder / name
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp / "tree", copy_function=_link_or_copy)
        (tmp / "key").write_text(key, encoding="utf-8")
        old = self.folder / f".{name}.{os.getpid()}.old"
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)

    def fetch_tree(self, name: str, key: str, target: Path) -> bool:
        """Place the kept folder at `target` if it was stored with `key`."""
        if self.folder is None:
            return False
        kept = self.folder / name
        stamp = kept / "key"
        if not stamp.is_file() or stamp.read_text(encoding="utf-8") != key:
            self.misses += 1
            return False
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(kept / "tree", target, copy_function=_link_or_copy)
        self.hits += 1
        return True

    def published(self, entry: str) -> str | None:
        """The key of what was last published as `entry` of the build folder."""
        return self._published().get(entry)

    def mark_published(self, keys: dict[str, str]) -> None:
        """Record the keys of the entries a build just published (others keep theirs)."""
        if self.folder is None or not keys:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "published.json"
        tmp = path.with_name(f".published.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**self._published(), **keys}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def _published(self) -> dict[str, str]:
        path = self.folder / "published.json" if self.folder is not None else None
        if path is None or not path.is_file():
            return {}
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            return {}

    def prune(self) -> int:
        """Delete keyed files this build did not use (call after a build that ran every step);
        returns how many."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        removed = 0
        for shard in self.folder.iterdir():
            if not shard.is_dir() or len(shard.name) != 2:
                continue
            for path in shard.iterdir():
                if path.is_file() and path not in self.used:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
