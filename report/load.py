"""Read result files into a ResultSet: the report's only door to untrusted input.

Every problem becomes one line that names the file and the field (`results/x.json:
metrics.decode.tokens_per_s: ...`). By default the first bad file stops the load; with
`skip_invalid=True` bad files are set aside and listed, and the rest load.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.schema import SCHEMA_ID, Result, first_path

MAX_FILE_BYTES = 64 * 1024 * 1024  # a result is a few kB; anything this big is not one
RESULT_SCHEMA_PREFIX = "gpuscape.result/"
_MAX_SHOWN = 60  # characters of an offending value quoted in a message


@dataclass(frozen=True)
class Invalid:
    """A file that is not a readable result, and why (one line)."""

    path: Path
    field: str | None  # dotted path inside the JSON, None when the file as a whole is wrong
    message: str

    def __str__(self) -> str:
        where = f"{_display(self.path)}: {self.field}" if self.field else _display(self.path)
        return _one_line(f"{where}: {self.message}")


class InvalidResultError(ValueError):
    """A result file could not be read; `str()` is the one-line message."""

    def __init__(self, invalid: Invalid) -> None:
        super().__init__(str(invalid))
        self.invalid = invalid


class ResultsNotFoundError(FileNotFoundError):
    """A path given to load_results does not exist."""


@dataclass
class ResultSet:
    """Validated results in a stable order, where each came from, and what was set aside."""

    results: list[Result] = field(default_factory=list)
    sources: dict[tuple[str, str], Path] = field(default_factory=dict)  # (suite, cell) -> file
    skipped: list[Invalid] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)  # same (suite, cell) as an earlier file
    notes: list[str] = field(default_factory=list)  # files left out on purpose (links leaving a folder)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def source(self, result: Result) -> Path | None:
        """The file a result was read from."""
        return self.sources.get((result.suite, result.cell))


def load_results(paths: Iterable[str | os.PathLike[str]], skip_invalid: bool = False) -> ResultSet:
    """Read every result file under `paths` (folders are searched recursively for *.json).

    Raises ResultsNotFoundError for a path that does not exist and, unless `skip_invalid`,
    InvalidResultError for the first file that is not a valid result. Files of another gpuscape
    document type (a `schema` that is not gpuscape.result/...) are ignored.
    """
    loaded = ResultSet()
    outside: list[Path] = []
    files = result_files(paths, outside)
    loaded.notes += [
        f"{_display(link)}: not read, a link to a file outside the results folder ({_display(link.resolve())})"
        for link in outside
    ]
    for path in files:
        try:
            result = read_result(path)
        except InvalidResultError as error:
            if not skip_invalid:
                raise
            loaded.skipped.append(error.invalid)
            continue
        if result is None:
            continue
        key = (result.suite, result.cell)
        if key in loaded.sources:
            loaded.duplicates.append(path)
            continue
        loaded.sources[key] = path
        loaded.results.append(result)
    loaded.results.sort(key=result_order)
    return loaded


def result_order(result: Result) -> tuple[Any, ...]:
    """A stable order that does not depend on file names: family, model, suite, setting."""
    s = result.setting
    return (
        result.model.family.casefold(),
        result.model.name.casefold(),
        result.suite,
        s.device,
        s.dtype,
        s.quantization or "",
        s.batch_size,
        s.prompt_tokens,
        s.new_tokens,
        result.method,
        result.cell,
    )


def result_files(paths: Iterable[str | os.PathLike[str]], outside: list[Path] | None = None) -> list[Path]:
    """The *.json files under each path (a file stands for itself), each once, in path order.
    Hidden files and folders (a leading '.') are left out: they hold locks and temp files.
    Links inside a folder that lead out of it are left out too (appended to `outside`): a
    results folder publishes what it holds, not what a link points at."""
    seen: set[Path] = set()
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ResultsNotFoundError(f"{_display(path)}: no such file or folder")
        found = [path] if path.is_file() else sorted(_json_under(path))
        root = path.resolve()
        for file in found:
            resolved = file.resolve()
            if file is not path and not resolved.is_relative_to(root):
                if outside is not None:
                    outside.append(file)
                continue
            if resolved not in seen:
                seen.add(resolved)
                files.append(file)
    return files


def _json_under(folder: Path) -> Iterator[Path]:
    for file in folder.rglob("*.json"):
        relative = file.relative_to(folder).parts
        if not any(part.startswith(".") for part in relative) and file.is_file():
            yield file


def read_result(path: Path) -> Result | None:
    """One result file, validated; None for another gpuscape document type."""
    document = _read_json(path)
    if not isinstance(document, dict):
        raise _invalid(path, None, f"expected a JSON object, found {type(document).__name__}")
    bad = _first_nonfinite(document)
    if bad is not None:
        raise _invalid(path, bad, "not a finite number (NaN or infinity); a missing value is null")
    if not _check_schema(path, document):
        return None
    try:
        return Result.model_validate(document)
    except ValidationError as error:
        raise _from_validation(path, error) from None


def _read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _invalid(path, None, f"{size} bytes is too large for a result file")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(path, None, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise _invalid(path, None, f"cannot read: {error.strerror or error}") from None
    try:
        return json.loads(text, parse_constant=_NonFinite, parse_float=_parse_float)
    except json.JSONDecodeError as error:
        raise _invalid(
            path, None, f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError as error:  # Python's integer-string limit: "Exceeds the limit (4300 digits) ..."
        raise _invalid(path, None, f"not a readable result: {str(error).split(';')[0]}") from None
    except RecursionError:
        raise _invalid(path, None, "not valid JSON: nested too deeply") from None


class _NonFinite(str):
    """Stands in for NaN/Infinity while parsing, so the field holding it can be named."""


def _parse_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)  # 1e999 overflows to inf


def _first_nonfinite(document: Any) -> str | None:
    """The dotted path of the first NaN/Infinity in a parsed document, or None."""
    where = first_path(document, lambda value: isinstance(value, _NonFinite))
    return None if where is None else where or "(document)"


def _check_schema(path: Path, document: dict[str, Any]) -> bool:
    """True for a result of the version we read; False for another gpuscape document type."""
    schema = document.get("schema")
    if schema is None:
        raise _invalid(path, "schema", f'missing (a result file starts with "schema": "{SCHEMA_ID}")')
    if not isinstance(schema, str):
        raise _invalid(path, "schema", f"expected a string like {SCHEMA_ID!r}, found {_shown(schema)}")
    if schema == SCHEMA_ID:
        return True
    if schema.startswith(RESULT_SCHEMA_PREFIX):
        ours, theirs = _version(SCHEMA_ID), _version(schema)
        if ours is not None and theirs is not None and theirs > ours:
            hint = "written by a newer gpuscape; update this one to read it"
        elif theirs is not None:
            hint = "an older version this report no longer reads; rerun the bench"
        else:
            hint = "not a version this report knows"
        raise _invalid(path, "schema", f"{_shown(schema)} is {hint} (this report reads {SCHEMA_ID})")
    if re.match(r"^gpuscape\.[a-z_-]+/\d+$", schema):
        return False  # another gpuscape document (a manifest, a suite): not ours to read
    raise _invalid(path, "schema", f"{_shown(schema)} is not a gpuscape result (expected {SCHEMA_ID})")


def _version(schema: str) -> int | None:
    tail = schema.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _from_validation(path: Path, error: ValidationError) -> InvalidResultError:
    """The first validation problem as one line; how many more there are, if any."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = _loc(first.get("loc", ()))
    message = _problem(first)
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return _invalid(path, where or None, message)


def _loc(loc: Sequence[int | str]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def _problem(problem: Any) -> str:
    kind = problem.get("type", "")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown field (not in this version of the result format)"
    message = str(problem.get("msg", "invalid")).rstrip(".").removeprefix("Value error, ")
    message = message[0].lower() + message[1:] if message else "invalid"
    message = message.removeprefix("input ")  # "should be greater than or equal to 0"
    if "input" in problem and kind not in ("model_type", "dict_type"):
        message += f", found {_shown(problem['input'])}"
    return message


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _invalid(path: Path, where: str | None, message: str) -> InvalidResultError:
    return InvalidResultError(Invalid(path, where, message))


def _one_line(text: str) -> str:
    """No line breaks or control characters (untrusted text must not redraw a terminal)."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _display(path: Path) -> str:
    """The path as the user would type it: relative to the working folder where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
