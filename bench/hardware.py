"""The hardware a roofline is drawn for: GPUs from bench/hardware.yaml, and this machine's CPU.

The catalog is data (bench/hardware.yaml, each figure with its vendor source); this module
validates it at the edge (pydantic) and hands out plain `Hardware` records. A measured GPU is
found by the name CUDA reports ("NVIDIA H100 80GB HBM3" -> h100-sxm); the CPU's figures come from
bench.cpuprobe, measured once on the machine and cached.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

HARDWARE_FILE = Path(__file__).with_name("hardware.yaml")
CPU_ID = "this-cpu"
GiB = 2**30
_VENDOR_WORDS = re.compile(r"\b(nvidia|geforce|tesla|tensor core gpu)\b")


@dataclass(frozen=True)
class Hardware:
    """What one device can move and compute at most, and where those figures come from."""

    id: str
    name: str
    kind: Literal["gpu", "cpu"]
    memory_bytes: int | None
    bandwidth_bytes_per_s: float
    peak_flops: dict[str, float]  # "float32", "bfloat16", "float16", "int8" -> FLOP/s
    source: str
    reserved_bytes: int = 0  # memory a model cannot use (CUDA context and workspaces)
    price_per_hour: float | None = None  # USD per hour (bench/hardware.yaml; the report can override it)
    # (working-set bytes, bytes/s), non-increasing, ending at `bandwidth_bytes_per_s`: what a
    # working set of at least that size can read at (CPU: measured through the caches, see
    # cpuprobe.CPUFigures.bandwidth_curve). Empty: `bandwidth_bytes_per_s` whatever the size.
    bandwidth_curve: tuple[tuple[int, float], ...] = ()
    patterns: tuple[str, ...] = field(default=(), repr=False)

    @property
    def usable_memory_bytes(self) -> int | None:
        return None if self.memory_bytes is None else self.memory_bytes - self.reserved_bytes

    def bandwidth_for(self, working_set_bytes: float) -> float:
        """The most bytes/s a pass that reads `working_set_bytes` can stream: the bandwidth measured
        on the largest probed buffer no bigger than it (the smallest buffer's when it is smaller)."""
        if not self.bandwidth_curve:
            return self.bandwidth_bytes_per_s
        fitting = [bps for size, bps in self.bandwidth_curve if size <= working_set_bytes]
        return fitting[-1] if fitting else self.bandwidth_curve[0][1]

    def peak(self, compute: str) -> float | None:
        """Peak FLOP/s for a compute dtype, or None where the catalog has no figure for it."""
        return self.peak_flops.get(compute)


# --------------------------------------------------------------------------- the catalog file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _GPUEntry(_Strict):
    name: str
    match: list[str] = Field(min_length=1)
    memory_gib: float = Field(gt=0)
    bandwidth_gb_s: float = Field(gt=0)
    tflops: dict[str, float]
    source: str = Field(min_length=20)  # a citation, not a placeholder
    price_per_hour: float | None = Field(default=None, gt=0)  # USD to rent one, where a source gives it

    @field_validator("match")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            re.compile(pattern)
        return patterns


class _Efficiency(_Strict):
    value: float = Field(gt=0, le=1)
    source: str = Field(min_length=20)


class _CatalogFile(_Strict):
    reserved_gib: float = Field(ge=0)
    decode_efficiency: dict[Literal["gpu", "cpu"], dict[str, _Efficiency]] = Field(default_factory=dict)
    gpus: dict[str, _GPUEntry]
    cpu: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Efficiency:
    """A share of the roofline bound that a real decode reaches, and where the figure comes from."""

    value: float
    source: str


@lru_cache(maxsize=4)
def _catalog_file(path: Path = HARDWARE_FILE) -> _CatalogFile:
    return _CatalogFile.model_validate(yaml.safe_load(path.read_text()))


def reserved_bytes(path: Path = HARDWARE_FILE) -> int:
    """Memory a model cannot use on a GPU (CUDA context, workspaces): the catalog's reserved_gib."""
    return int(_catalog_file(path).reserved_gib * GiB)


@lru_cache(maxsize=4)
def decode_efficiencies(path: Path = HARDWARE_FILE) -> dict[tuple[str, str], Efficiency]:
    """The catalog's default decode efficiencies by (hardware kind, engine)."""
    return {
        (kind, engine): Efficiency(entry.value, " ".join(entry.source.split()))
        for kind, engines in _catalog_file(path).decode_efficiency.items()
        for engine, entry in engines.items()
    }


def decode_efficiency(kind: str, engine: str, path: Path = HARDWARE_FILE) -> Efficiency | None:
    """The catalog's default decode efficiency for a hardware kind and engine, or None."""
    return decode_efficiencies(path).get((kind, engine))


@lru_cache(maxsize=4)
def catalog(path: Path = HARDWARE_FILE) -> dict[str, Hardware]:
    """The GPUs of the catalog file by id, validated."""
    data = _catalog_file(path)
    reserved = reserved_bytes(path)
    return {
        gpu_id: Hardware(
            id=gpu_id,
            name=entry.name,
            kind="gpu",
            memory_bytes=int(entry.memory_gib * GiB),
            bandwidth_bytes_per_s=entry.bandwidth_gb_s * 1e9,
            peak_flops={dtype: tflops * 1e12 for dtype, tflops in entry.tflops.items()},
            source=" ".join(entry.source.split()),
            reserved_bytes=reserved,
            price_per_hour=entry.price_per_hour,
            patterns=tuple(entry.match),
        )
        for gpu_id, entry in data.gpus.items()
    }


def known_ids() -> list[str]:
    return [*catalog(), CPU_ID]


def normalise_gpu_name(name: str) -> str:
    """'NVIDIA A100-SXM4-40GB' -> 'a100 sxm4 40gb': lowercase, no vendor words, single spaces."""
    text = _VENDOR_WORDS.sub(" ", name.lower())
    return " ".join(re.sub(r"[-_/,()]+", " ", text).split())


@lru_cache(maxsize=256)
def match_gpu(name: str) -> Hardware | None:
    """The catalog entry for a GPU name as CUDA or NVML reports it, or None when none fits."""
    normal = normalise_gpu_name(name)
    for hw in catalog().values():
        if any(re.fullmatch(pattern, normal) for pattern in hw.patterns):
            return hw
    return None


def this_cpu(cache: Path | None = None, refresh: bool = False) -> Hardware:
    """This machine's CPU as hardware, from the probe (measured now if not cached, or if refresh)."""
    from bench import cpuprobe

    figures = cpuprobe.cpu_figures(cache or cpuprobe.CACHE_FILE, refresh=refresh)
    key = figures.key
    return Hardware(
        id=CPU_ID,
        name=f"{key.get('cpu') or 'CPU'} ({key.get('threads')} threads)",
        kind="cpu",
        memory_bytes=physical_memory_bytes(),
        bandwidth_bytes_per_s=figures.bandwidth_bytes_per_s,
        peak_flops=figures.bound_peak_flops(),
        source=f"measured by bench/cpuprobe.py on {key.get('host')} at {figures.measured_at}",
        bandwidth_curve=figures.bandwidth_curve(),
    )


def physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def resolve(hardware_id: str) -> Hardware:
    """A catalog GPU or this CPU by id; the error lists the known ids."""
    if hardware_id == CPU_ID:
        return this_cpu()
    try:
        return catalog()[hardware_id]
    except KeyError:
        raise KeyError(f"unknown hardware {hardware_id!r}; known: {', '.join(known_ids())}") from None
