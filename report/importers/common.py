"""What every importer shares: reading a tool's file, building a result of the contract, writing it.

An importer turns one file into `Draft`s (one per measured configuration); `to_result` makes each
a `Result` with `method: "imported"` and a `source` block (tool, version, file, sha256, records).
The cell id hashes the tool, the file's sha256, the record indices and the target set, so
importing the same file again finds the same ids and writes nothing. Every problem is an
`ImportProblem` whose `str()` is one line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench import __version__
from bench.configkeys import family_name
from bench.schema import (
    CPUInfo,
    Environment,
    GPUInfo,
    Metrics,
    ModelInfo,
    Params,
    Result,
    Setting,
    Source,
    Stats,
    slugify,
)
from bench.store import write_atomic
from report.load import Invalid

MAX_FILE_BYTES = 256 * 1024 * 1024  # a detailed serving run is large; anything bigger is not one
MAX_CONFIG_BYTES = 4 * 1024 * 1024
# Keys `--set KEY=VALUE` may fill where a tool's file does not record them.
SETTABLE = (
    "model",
    "device",
    "dtype",
    "quantization",
    "batch_size",
    "prompt_tokens",
    "new_tokens",
    "gpu",
    "cpu",
)
_INT_KEYS = ("batch_size", "prompt_tokens", "new_tokens")


class ImportProblem(ValueError):
    """A file that cannot be imported; `str()` is one line naming the file and what was expected."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(str(Invalid(Path(path), None, message)))  # the loader's one-line form


@dataclass(frozen=True)
class SourceFile:
    """A tool's file as read: its path, bytes' sha256 and parsed JSON (or JSON lines)."""

    path: Path
    sha256: str
    data: Any
    mtime: float

    @classmethod
    def read(cls, path: Path, *, json_lines: bool = False, appended: bool = False) -> SourceFile:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ImportProblem(path, f"{size} bytes is too large for a benchmark file")
            raw = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError as error:
            raise ImportProblem(path, f"cannot read: {error.strerror or error}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportProblem(path, "not UTF-8 text, so not a JSON benchmark file") from None
        try:
            if json_lines:
                data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
        except json.JSONDecodeError as error:
            if appended and error.msg == "Extra data":  # documents appended one per line
                return cls.read(path, json_lines=True)
            raise ImportProblem(path, f"not valid JSON: {error.msg} (line {error.lineno})") from None
        except RecursionError:
            raise ImportProblem(path, "not valid JSON: nested too deeply") from None
        return cls(path, hashlib.sha256(raw).hexdigest(), data, mtime)


@dataclass
class Draft:
    """One measured configuration read from a tool's file, before it becomes a Result."""

    records: list[int]
    model: str  # the name the source gives (a hub id, a path, a GGUF model type)
    setting: dict[str, Any]  # Setting's fields; what the file lacks comes from --set
    metrics: Metrics
    kind: str | None = None
    version: str | None = None
    family: str | None = None
    model_path: str | None = None  # where a config.json may be found offline
    params: Params | None = None
    weight_bytes: int | None = None
    gpu: str | None = None
    gpu_count: int = 1
    gpu_memory_bytes: int | None = None
    cpu: str | None = None
    cpu_cores: int | None = None
    python: str | None = None
    torch: str | None = None
    transformers: str | None = None
    host: str | None = None
    platform: str | None = None
    started_at: str | None = None  # ISO 8601 UTC where the tool recorded when it ran
    duration_s: float = 0.0
    reported: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- small readers


def number(value: Any, path: Path, where: str) -> float:
    """A finite number from the file, or a one-line problem naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ImportProblem(path, f"{where}: expected a finite number, found {json.dumps(value)[:40]}")
    return float(value)


def optional_number(value: Any, path: Path, where: str) -> float | None:
    return None if value is None else number(value, path, where)


def numbers(value: Any, path: Path, where: str) -> list[float]:
    if not isinstance(value, list) or not value:
        raise ImportProblem(path, f"{where}: expected a non-empty list of numbers")
    return [number(v, path, f"{where}[{i}]") for i, v in enumerate(value)]


def get(document: Any, dotted: str, path: Path, *, required: bool = True) -> Any:
    """document['a']['b'] for 'a.b'; a one-line problem when a required key is missing."""
    node = document
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            if required:
                raise ImportProblem(path, f"{dotted}: missing")
            return None
        node = node[key]
    return node


def stats_s(values_s: Sequence[float]) -> Stats | None:
    """Stats of raw values in seconds (None for none); negative values are not timings."""
    return Stats.of(list(values_s)) if values_s else None


def read_config(model: str | None) -> tuple[dict[str, Any], str | None]:
    """The model's config.json read offline (a local folder, or the hub cache), and where from.

    Nothing is downloaded; an unreadable or non-object file counts as no config."""
    if not model:
        return {}, None
    candidates: list[tuple[Path, str]] = []
    local = Path(model)
    if local.is_dir():
        candidates.append((local / "config.json", f"path:{model}"))
    elif "/" in model and not model.startswith(("/", ".")) and model.count("/") == 1:
        cache = Path(
            os.environ.get("HF_HUB_CACHE")
            or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
        )
        snapshots = cache / f"models--{model.replace('/', '--')}" / "snapshots"
        if snapshots.is_dir():
            found = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            candidates += [(p, f"hub:{model}") for p in found[:1]]
    for config_path, where in candidates:
        try:
            if config_path.stat().st_size > MAX_CONFIG_BYTES:
                continue
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(config, dict):
            return config, where
    return {}, None


def model_display_name(model: str) -> str:
    """A local path is named by its last folder; a hub id or a tool's model name stays as given."""
    if model.startswith(("/", "./", "../", "~")) or os.sep in model and Path(model).exists():
        return Path(model.rstrip("/")).name or model
    return model


def utc_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- drafts -> results


# Metric fields a reader looks for, and the note written where the tool did not measure one.
_EXPLAINED = {
    "metrics.load_s": lambda m: m.load_s,
    "metrics.prefill.latency_s": lambda m: m.prefill.latency_s,
    "metrics.prefill.tokens_per_s": lambda m: m.prefill.tokens_per_s,
    "metrics.decode.per_token_s": lambda m: m.decode.per_token_s,
    "metrics.decode.tokens_per_s": lambda m: m.decode.tokens_per_s,
    "metrics.e2e.latency_s": lambda m: m.e2e.latency_s,
    "metrics.e2e.tokens_per_s": lambda m: m.e2e.tokens_per_s,
}


def check_overrides(overrides: dict[str, str]) -> None:
    """Every --set key known and every count a whole number, before any file is read."""
    for key, value in overrides.items():
        if key not in SETTABLE:
            raise ImportProblem(f"--set {key}", f"unknown key; expected one of {', '.join(SETTABLE)}")
        if key in _INT_KEYS and not (value.isdigit() and int(value) >= 1):
            raise ImportProblem(f"--set {key}={value}", "expected a whole number of at least 1")


def apply_overrides(draft: Draft, overrides: dict[str, str], path: Path, tool: str) -> None:
    """Fill what the file lacks from --set KEY=VALUE; a value the file has is never replaced."""
    for key, value in overrides.items():
        if key == "model":
            if not draft.model:
                draft.model = value
                draft.notes["model.name"] = "given on the import command line (--set model=...)"
        elif key in ("gpu", "cpu"):
            if getattr(draft, key) is None:
                setattr(draft, key, value)
                draft.notes[f"environment.{key}"] = f"given on the import command line (--set {key}=...)"
        elif draft.setting.get(key) is None:
            draft.setting[key] = int(value) if key in _INT_KEYS else value
            draft.notes[f"setting.{key}"] = (
                f"given on the import command line (--set {key}=...): {tool} does not record it"
            )
    missing = [k for k in ("batch_size", "prompt_tokens", "new_tokens") if draft.setting.get(k) is None]
    if not draft.model:
        missing.insert(0, "model")
    if missing:
        given = " ".join(f"--set {k}=..." for k in missing)
        raise ImportProblem(path, f"{tool} records no {', '.join(missing)} in this file; give them: {given}")


def to_result(tool: str, source: SourceFile, draft: Draft, suite: str) -> Result:
    """The contract's Result for one draft: method imported, nothing the tool did not measure."""
    metrics = draft.metrics
    notes = dict(draft.notes)
    for where, read in _EXPLAINED.items():
        if read(metrics) is None and where not in notes:
            notes[where] = f"not measured by {tool} in this file"
    if metrics.energy.joules is None and metrics.energy.reason is None:
        metrics.energy.reason = f"not measured by {tool} in this file"
    if metrics.roofline.reason is None and metrics.roofline.bound_tokens_per_s is None:
        metrics.roofline.reason = "not computed for imported results"
    config, config_from = read_config(draft.model_path or draft.model)
    name = model_display_name(draft.model)
    model_type = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    family = family_name(draft.family or model_type or tool)  # 'gpt2' -> 'OpenAI GPT', as the suites say
    setting = dict(draft.setting)
    setting.setdefault("device", "unknown")
    setting.setdefault("dtype", "unknown")
    if setting.get("device") in (None, ""):
        setting["device"] = "unknown"
    if setting.get("dtype") in (None, ""):
        setting["dtype"] = "unknown"
    records = sorted(draft.records)
    cell = hashlib.sha256(json.dumps([tool, source.sha256, records, suite]).encode()).hexdigest()[:10]
    started_at = draft.started_at
    if started_at is None:
        started_at = utc_iso(source.mtime)
        notes.setdefault("started_at", f"{tool} records no time in this file: the file's modification time")
    gpu = (
        GPUInfo(name=draft.gpu, count=draft.gpu_count, memory_bytes=draft.gpu_memory_bytes)
        if draft.gpu
        else None
    )
    cpu = CPUInfo(model=draft.cpu, cores=draft.cpu_cores) if (draft.cpu or draft.cpu_cores) else None
    try:
        return Result(
            cell=cell,
            suite=suite,
            status="ok",
            method="imported",
            model=ModelInfo(
                name=name,
                slug=slugify(name),
                family=family,
                source=config_from or f"{tool}:{name}",
                config=config,
                params=draft.params,
                weight_bytes=draft.weight_bytes,
            ),
            setting=Setting(**setting),
            metrics=metrics,
            environment=Environment(
                gpuscape=__version__,
                python=draft.python,
                torch=draft.torch,
                transformers=draft.transformers,
                gpu=gpu,
                cpu=cpu,
                host=draft.host,
                platform=draft.platform,
            ),
            source=Source(
                tool=tool,
                version=draft.version,
                file=source.path.name,
                sha256=source.sha256,
                records=records,
                kind=draft.kind,
                reported=draft.reported,
                notes=notes,
            ),
            started_at=started_at,
            duration_s=draft.duration_s,
        )
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in problem.get("loc", ()))
        raise ImportProblem(source.path, f"{where}: {problem.get('msg', 'invalid')}") from None


# --------------------------------------------------------------------------- writing


@dataclass
class Written:
    """What an import did: files written, and results that were already there."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def write_results(results: Iterable[Result], out_dir: Path) -> Written:
    """Write each result as out_dir/<cell>.json (atomically); an existing file is left alone."""
    done = Written()
    for result in results:
        target = out_dir / f"{result.cell}.json"
        if target.exists():
            done.unchanged.append(target)
            continue
        write_atomic(target, result.to_json())
        done.written.append(target)
    return done
