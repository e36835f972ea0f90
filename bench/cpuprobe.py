"""This CPU's memory bandwidth and matmul peak, measured in a few seconds and cached.

The roofline of a CPU cell needs the figures of the machine it ran on, which no datasheet gives
for a shared, virtualised core. A copy and a read over buffers far larger than the last-level
cache give the DRAM bandwidth; reads over a ladder of smaller buffers give the bandwidth a working
set of that size gets from the caches (a tiny model's weights stay in cache between steps); a
square matmul per dtype gives the compute peak. The result is cached under ~/.cache/gpuscape
(keyed by CPU, cores, threads, host, torch version and probe version) so a sweep probes once, not
per cell. `python -m bench.cpuprobe` prints the figures (`--refresh` remeasures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from bench.environment import cpu_info
from bench.store import write_atomic  # keeps the cache file whole

CACHE_FILE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpuscape" / "cpu-probe.json"
BUFFER_BYTES = 256 * 2**20  # 8x this machine's 32 MiB L3: the copy streams from DRAM
# Working-set sizes read for the cache ladder: L2-sized up to twice the largest L3 seen here.
LADDER_BYTES = tuple(mib * 2**20 for mib in (1, 2, 4, 8, 16, 32, 64))
PROBE_VERSION = 2  # bump when what the probe measures changes: cached figures are retaken
MATMUL_SECONDS = 0.08  # per timed matmul: long enough to time, short enough to repeat
MATMUL_N_RANGE = (256, 2048)
REPEATS = 7  # best of: a shared machine's noise only ever slows a run down
CONTENDED_LOAD = 0.5  # a probe taken above this load is retaken (and merged) once it is RETRY_S old
RETRY_S = 600
PROBE_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class CPUFigures:
    """What the probe measured, with what it ran on so a stale cache is recognised."""

    key: dict[str, str | int | None]
    copy_bytes_per_s: float  # STREAM convention: bytes read + bytes written, per second
    read_bytes_per_s: float  # a sum over the buffer: bytes read per second
    peak_flops: dict[str, float]  # dtype -> best matmul FLOP/s
    llc_bytes: int | None  # last-level cache: a model smaller than this can beat the DRAM bound
    measured_at: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    load_average: float | None = None  # 1-minute load when probing: above ~0.5 others shared the cores
    # working-set bytes -> read bytes/s over a buffer of that size (JSON keys are strings)
    read_ladder: dict[str, float] = field(default_factory=dict)

    @property
    def contended(self) -> bool:
        return self.load_average is not None and self.load_average > CONTENDED_LOAD

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """The faster of copy and read: a bound must not be beatable by the better access pattern."""
        return max(self.copy_bytes_per_s, self.read_bytes_per_s)

    def bandwidth_curve(self) -> tuple[tuple[int, float], ...]:
        """(working-set bytes, bytes/s) from the smallest buffer to DRAM, never rising with size.

        Each point is the best bandwidth measured at that size or any larger one, so noise in one
        reading cannot make a bigger working set look faster than a smaller one's bound."""
        points = {int(size): bps for size, bps in self.read_ladder.items()}
        points[BUFFER_BYTES] = max(points.get(BUFFER_BYTES, 0.0), self.bandwidth_bytes_per_s)
        curve, best = [], 0.0
        for size in sorted(points, reverse=True):
            best = max(best, points[size])
            curve.append((size, best))
        return tuple(reversed(curve))

    def bound_peak_flops(self) -> dict[str, float]:
        """Peak FLOP/s per dtype for a bound: at least float32's for the 16-bit types.

        A CPU without native bf16/fp16 arithmetic still multiplies them at float32 speed after a
        conversion (oneDNN's matrix-vector kernels do; torch's square bf16 matmul on AVX2 does not),
        so the float32 peak is the floor of what a 16-bit matmul could reach."""
        fp32 = self.peak_flops.get("float32", 0.0)
        return {name: max(flops, fp32) for name, flops in self.peak_flops.items()}


def machine_key() -> dict[str, str | int | None]:
    """What makes cached figures valid: the same CPU, cores, threads, host and torch build."""
    import torch

    info = cpu_info()
    return {
        "cpu": info.model,
        "cores": info.cores,
        "threads": torch.get_num_threads(),
        "host": platform.node() or None,
        "torch": torch.__version__,
        "probe": PROBE_VERSION,
    }


def last_level_cache_bytes() -> int | None:
    """The largest cache size sysfs reports for CPU 0 (None where sysfs is absent)."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
    return max(sizes) if sizes else None


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _best_seconds(fn, repeats: int = REPEATS) -> float:
    fn()  # first touch and warm-up: page faults are not bandwidth
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_read_ladder(sizes: tuple[int, ...] = LADDER_BYTES) -> dict[str, float]:
    """Read bytes/s over buffers of each size, best of many reads: cache bandwidth by working set."""
    import torch

    ladder = {}
    for nbytes in sizes:
        src = torch.ones(nbytes // 4, dtype=torch.float32)
        repeats = max(REPEATS, min(200, (64 * 2**20) // nbytes))  # small reads are quick: take more
        ladder[str(nbytes)] = nbytes / _best_seconds(lambda src=src: src.sum(), repeats)
    return ladder


def measure_bandwidth(nbytes: int = BUFFER_BYTES) -> tuple[float, float]:
    """(copy, read) bytes per second over buffers of nbytes, best of REPEATS."""
    import torch

    src = torch.ones(nbytes // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    copy_s = _best_seconds(lambda: dst.copy_(src))
    read_s = _best_seconds(lambda: src.sum())
    return 2 * nbytes / copy_s, nbytes / read_s


def measure_matmul(dtype_name: str, seconds: float = MATMUL_SECONDS) -> float:
    """Best FLOP/s of a square matmul in the given dtype (2 n^3 FLOPs per run).

    n is sized from a small trial so each run takes about `seconds` whatever the dtype's speed
    (bfloat16 has AVX-512 kernels here; float16 falls back to a scalar path 50x slower)."""
    import torch

    dtype = getattr(torch, dtype_name)
    lo, hi = MATMUL_N_RANGE
    trial = _matmul_flops(dtype, lo, repeats=2)
    n = int(min(hi, max(lo, (seconds * trial / 2) ** (1 / 3))))
    return max(trial, _matmul_flops(dtype, n, REPEATS))


def _matmul_flops(dtype, n: int, repeats: int) -> float:
    import torch

    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    with torch.inference_mode():
        best = _best_seconds(lambda: torch.mm(a, b), repeats)
    return 2 * n**3 / best


def run_probe(nbytes: int = BUFFER_BYTES) -> CPUFigures:
    """Measure now (a few seconds), without the cache."""
    start = time.perf_counter()
    copy_bps, read_bps = measure_bandwidth(nbytes)
    ladder = measure_read_ladder()
    peaks: dict[str, float] = {}
    notes: list[str] = []
    load = _load_average()
    for name in PROBE_DTYPES:
        try:
            peaks[name] = measure_matmul(name)
        except RuntimeError as exc:  # a dtype this CPU build cannot multiply
            notes.append(f"{name} matmul failed: {exc}")
    return CPUFigures(
        key=machine_key(),
        copy_bytes_per_s=copy_bps,
        read_bytes_per_s=read_bps,
        peak_flops=peaks,
        llc_bytes=last_level_cache_bytes(),
        measured_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seconds=time.perf_counter() - start,
        notes=notes,
        load_average=load,
        read_ladder=ladder,
    )


def load_cached(path: Path = CACHE_FILE) -> CPUFigures | None:
    """The cached figures when they were measured on this machine as it is now, else None."""
    try:
        data = json.loads(path.read_text())
        figures = CPUFigures(**data)
    except (OSError, ValueError, TypeError):
        return None
    return figures if figures.key == machine_key() else None


def cpu_figures(path: Path = CACHE_FILE, refresh: bool = False) -> CPUFigures:
    """This CPU's figures: from the cache when valid, else measured now and cached.

    A refresh keeps, figure by figure, the best of the new and the cached measurement: on a shared
    machine other work only ever slows a probe down, and a bound must not be set too low. A probe
    taken while the machine was busy is retaken (and merged) when it is more than RETRY_S old."""
    cached = load_cached(path)
    if cached is not None and not refresh and not (cached.contended and _age_s(cached) > RETRY_S):
        return cached
    figures = run_probe()
    if cached is not None:
        figures = best_of(figures, cached)
    write_atomic(path, json.dumps(asdict(figures), indent=2) + "\n")
    return figures


def _age_s(figures: CPUFigures) -> float:
    taken = datetime.strptime(figures.measured_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - taken).total_seconds()


def best_of(new: CPUFigures, old: CPUFigures) -> CPUFigures:
    """Each figure at the better of two probes of the same machine; contended only if both were."""
    peaks = dict(old.peak_flops)
    for name, flops in new.peak_flops.items():
        peaks[name] = max(flops, peaks.get(name, 0.0))
    loads = [x for x in (new.load_average, old.load_average) if x is not None]
    ladder = dict(old.read_ladder)
    for size, bps in new.read_ladder.items():
        ladder[size] = max(bps, ladder.get(size, 0.0))
    return replace(
        new,
        copy_bytes_per_s=max(new.copy_bytes_per_s, old.copy_bytes_per_s),
        read_bytes_per_s=max(new.read_bytes_per_s, old.read_bytes_per_s),
        peak_flops=peaks,
        read_ladder=ladder,
        notes=[*new.notes, f"best of this probe and the one at {old.measured_at}"][-4:],
        load_average=min(loads) if loads else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpuprobe", description=__doc__.splitlines()[0])
    parser.add_argument("--refresh", action="store_true", help="measure again even when cached")
    parser.add_argument("--cache", type=Path, default=CACHE_FILE, help=f"cache file (default {CACHE_FILE})")
    args = parser.parse_args(argv)
    f = cpu_figures(args.cache, refresh=args.refresh)
    print(
        f"{f.key['cpu']} ({f.key['cores']} cores, {f.key['threads']} torch threads), measured {f.measured_at}"
    )
    print(f"  DRAM: copy {f.copy_bytes_per_s / 1e9:.1f} GB/s, read {f.read_bytes_per_s / 1e9:.1f} GB/s")
    for size, bps in f.bandwidth_curve():
        print(f"  working sets from {size / 2**20:.0f} MiB: bound {bps / 1e9:.1f} GB/s")
    bound = f.bound_peak_flops()
    for name, flops in f.peak_flops.items():
        floor = f" (bound uses float32's {bound[name] / 1e9:.1f})" if bound[name] > flops else ""
        print(f"  {name} matmul {flops / 1e9:.1f} GFLOP/s{floor}")
    if f.llc_bytes:
        print(f"  last-level cache {f.llc_bytes / 2**20:.0f} MiB")
    if f.contended:
        print(
            f"  note: load average {f.load_average:.1f} while probing: figures may be low; it is retaken later"
        )
    for note in f.notes:
        print(f"  note: {note}")
    print(f"  cache: {args.cache}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
