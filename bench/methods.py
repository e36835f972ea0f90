"""What a cell's engine, quantization and KV cache need, defined once; imports no torch.

The suite validates names against these tuples, the CLI refuses (or skips) cells whose library
is not installed, and bench.quant / bench.measure implement what the names mean.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.schema import Result
    from bench.suite import Cell

ENGINES = ("eager", "static", "compiled", "vllm")
# none | int8 (torchao weight-only, per-channel) | int4 (torchao, groups of 128) | nf4 (bitsandbytes)
# | w8a8 (torchao int8 dynamic activations) | w4a8 (torchao int4 groups, int8 activations) | qoq (W4A8KV4).
QUANTIZATIONS = ("none", "int8", "int4", "nf4", "w8a8", "w4a8", "qoq")
KV_CACHES = ("model", "fp8", "int4", "int2")
DEFAULT_ENGINE, DEFAULT_KV_CACHE = "eager", "model"
# QoQ is W4A8KV4: its cells always hold a 4-bit KV cache.
QOQ_KV_CACHE = "int4"


@dataclass(frozen=True)
class Requirement:
    """A Python module a setting needs, and how to install it."""

    module: str
    install: str


TORCHAO = Requirement("torchao", "pip install 'gpuscape[bench]' (or: pip install torchao)")
BITSANDBYTES = Requirement("bitsandbytes", "pip install 'gpuscape[bench]' (or: pip install bitsandbytes)")
QUANTO = Requirement("optimum.quanto", "pip install 'gpuscape[kv]' (or: pip install optimum-quanto)")
VLLM = Requirement("vllm", "pip install vllm (a GPU host; its wheel pins its own torch)")

_NEEDS: dict[tuple[str, str], Requirement] = {
    ("quantization", "int8"): TORCHAO,
    ("quantization", "int4"): TORCHAO,
    ("quantization", "w8a8"): TORCHAO,
    ("quantization", "w4a8"): TORCHAO,
    ("quantization", "nf4"): BITSANDBYTES,
    ("quantization", "qoq"): QUANTO,  # the weights are pure torch; its 4-bit KV cache is quanto's
    ("kv_cache", "int4"): QUANTO,
    ("kv_cache", "int2"): QUANTO,
    ("engine", "vllm"): VLLM,
}


def installed(module: str) -> bool:
    """True when the module can be imported here (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


def missing(engine: str, quantization: str | None, kv_cache: str) -> list[tuple[str, str, Requirement]]:
    """(key, value, requirement) for each part of a setting whose library is not installed."""
    wanted = [("engine", engine), ("quantization", quantization or "none"), ("kv_cache", kv_cache)]
    return [
        (key, value, req)
        for key, value in wanted
        if (req := _NEEDS.get((key, value))) and not installed(req.module)
    ]


def unavailable_line(
    cell_id: str, label: str, engine: str, quantization: str | None, kv_cache: str
) -> str | None:
    """The one line that refuses a cell whose method is not installed, or None when it can run."""
    gaps = missing(engine, quantization, kv_cache)
    if not gaps:
        return None
    key, value, req = gaps[0]
    return (
        f"cell {cell_id} ({label}): {key} {value} needs {req.module}, which is not installed: {req.install}"
    )


def incompatible(engine: str, quantization: str | None, kv_cache: str) -> str | None:
    """Why a combination cannot run (the matrix drops it with this note), or None."""
    if quantization == "qoq" and kv_cache not in (DEFAULT_KV_CACHE, QOQ_KV_CACHE):
        return f"qoq carries its own 4-bit KV cache (kv_cache {kv_cache} does not apply)"
    quantized_kv = kv_cache != DEFAULT_KV_CACHE or quantization == "qoq"
    if quantized_kv and engine in ("static", "compiled"):
        return f"a quantized KV cache grows dynamically: it runs on the eager engine, not {engine}"
    if engine == "vllm" and (quantization not in (None, "none") or kv_cache != DEFAULT_KV_CACHE):
        return "the vllm engine runs unquantized weights and its own KV cache here"
    return None


def is_baseline(dtype: str, engine: str, quantization: str | None, kv_cache: str) -> bool:
    """The reference every quality figure is measured against: float32, eager, nothing quantized."""
    return (
        dtype == "float32"
        and engine == DEFAULT_ENGINE
        and quantization in (None, "none")
        and kv_cache == DEFAULT_KV_CACHE
    )


# --------------------------------------------------------------------------- cells of a plan


def refusals(cells: list[Cell]) -> list[tuple[Cell, str]]:
    """(cell, the line that refuses it) for each cell of a plan whose method is not installed."""
    out = []
    for cell in cells:
        s = cell.setting
        line = unavailable_line(cell.id, cell.label, s.engine, s.quantization, s.kv_cache)
        if line:
            out.append((cell, line))
    return out


def skipped_result(cell: Cell, reason: str, commit: str | None) -> Result:
    """The result file of a cell skipped because its method is not installed (--skip-unavailable)."""
    import os
    from datetime import datetime, timezone

    from bench import __version__
    from bench.environment import cpu_info
    from bench.schema import Environment, ErrorInfo, ModelInfo, Result

    return Result(
        cell=cell.id,
        suite=cell.suite,
        status="skipped",
        error=ErrorInfo(type="Unavailable", message=reason),
        model=ModelInfo(
            name=cell.model.name,
            slug=cell.model.slug,
            family=cell.model.display_family,
            source=cell.model.source,
        ),
        setting=cell.setting,
        protocol=cell.protocol,
        environment=Environment(
            gpuscape=__version__, git_commit=commit, cpu=cpu_info(), host=os.uname().nodename
        ),
        started_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        duration_s=0.0,
    )
