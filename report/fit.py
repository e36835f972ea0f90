"""The fit matrix: which model, at which precision and batch, fits which hardware, and how fast.

Rows are models, columns every hardware in the results (measured or estimated). Each cell holds
the best setting that fits there, its decode speed, the largest batch that fits at that context
and a state:

- `fits`: a setting fits in the hardware's usable memory;
- `tight`: the best setting needs more than TIGHT_SHARE of the usable memory;
- `no`: no setting fits; the cell says by how much the leanest one misses;
- `unknown`: the results give no memory figure for this hardware (a measured cell that ran is
  still shown, but whether it is tight cannot be said);
- `failed`: every cell of the model there failed for another reason (the cell says which);
- `untested`: the model has no cell on this hardware (at the asked context).

A measured best setting whose per-token latency varies by more than NOISY_CV (stdev / mean over
its repeats) is marked noisy.

BEST_RULE says how the best setting is chosen; every output prints it. Measured (or imported)
cells win over estimates on the same hardware. An estimate's speed is the roofline bound times
an efficiency (`expected`): measured on the same hardware and engine in the results where there
is such a measurement, else the catalog's default for the hardware kind and engine
(bench/hardware.yaml, with its source); where neither exists the bound itself, labelled
`upper bound`.

Plain data and plain text, no HTML: report.summary computes the matrix once, the site, the deck
and `python -m report fit` render it. No torch: hardware figures come from bench.hardware's
catalog and quantization bit widths from bench.roofline's schemes, both torch-free at import.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bench import hardware as catalog
from bench.configkeys import DTYPE_BYTES
from bench.roofline import KV_STORAGE, SCHEMES
from bench.schema import Result, device_kind, peak_memory_bytes, slugify
from report.text import cut, failure_reason, number, precision_text, size_bytes

State = Literal["fits", "tight", "no", "unknown", "failed", "untested"]
TIGHT_SHARE = 0.9  # above this share of usable memory a fit is `tight`
TIE_SHARE = 0.02  # speeds within 2 % of the fastest count as a tie
NOISY_CV = 0.10  # a measured cell whose per-token latency varies more than this over repeats is noisy
BEST_RULE = (
    "Best setting: the fastest batch-1 decode (per sequence) among the settings that fit; speeds "
    f"within {TIE_SHARE:.0%} of the fastest count as a tie, which goes to the higher precision. "
    "Measured cells win over estimates on the same hardware; an estimate's speed is its expected "
    f"figure (roofline bound x efficiency). Tight: above {TIGHT_SHARE:.0%} of usable memory."
)
SpeedLabel = Literal["measured", "imported", "expected", "upper bound"]


# --------------------------------------------------------------------------- hardware


@dataclass(frozen=True)
class HardwareInfo:
    """One column of the matrix: a device and the figures the fit is judged against."""

    id: str  # the catalog id where the device is in bench/hardware.yaml, else a slug of its name
    name: str
    kind: str  # "gpu" or "cpu"
    memory_bytes: int | None
    reserved_bytes: int  # memory a model cannot use (bench/hardware.yaml's reserved_gib on GPUs)
    bandwidth_bytes_per_s: float | None = None
    peak_flops: dict[str, float] = field(default_factory=dict)
    source: str | None = None  # where the figures come from
    price_per_hour: float | None = None  # USD to rent it (bench/hardware.yaml or the user's)

    @property
    def usable_memory_bytes(self) -> int | None:
        return None if self.memory_bytes is None else self.memory_bytes - self.reserved_bytes


def hardware_of(result: Result) -> HardwareInfo:
    """The device a result ran on, or an estimate is for, with its memory figures: the catalog
    entry where the device is in it, else the GPU memory the result records, else none."""
    gpu = result.environment.gpu
    hw_id = result.metrics.roofline.hardware
    if hw_id not in (*catalog.catalog(), catalog.CPU_ID):
        hw_id = None  # not an id the catalog knows (an imported or synthetic file): go by the name
    if hw_id is None and result.method == "estimated":
        hw_id = result.setting.device
    if hw_id is None and device_kind(result) == "gpu" and gpu is not None:
        found = catalog.match_gpu(gpu.name)
        hw_id = found.id if found else slugify(gpu.name)
    known = catalog.catalog().get(hw_id or "")
    units = gpu.count if gpu is not None and device_kind(result) == "gpu" else 1
    if known is not None:
        return HardwareInfo(
            id=known.id if units == 1 else f"{units}x-{known.id}",
            name=known.name if units == 1 else f"{units}× {known.name}",
            kind="gpu",
            memory_bytes=units * known.memory_bytes if known.memory_bytes is not None else None,
            reserved_bytes=units * known.reserved_bytes,
            bandwidth_bytes_per_s=known.bandwidth_bytes_per_s,
            peak_flops=dict(known.peak_flops),
            source=known.source,
            price_per_hour=None if known.price_per_hour is None else units * known.price_per_hour,
        )
    if device_kind(result) == "gpu":
        name = gpu.name if gpu is not None else result.setting.device
        memory = gpu.memory_bytes if gpu is not None else None
        return HardwareInfo(
            id=hw_id or slugify(name),
            name=name if units == 1 else f"{units}× {name}",
            kind="gpu",
            memory_bytes=None if memory is None else units * memory,
            reserved_bytes=units * catalog.reserved_bytes(),
            source="the GPU memory the result records" if memory is not None else None,
        )
    cpu = result.environment.cpu
    roof = result.metrics.roofline
    if hw_id is None:  # not this machine as the bench probed it (an imported file, say): by its name
        hw_id = slugify(cpu.model) if cpu is not None and cpu.model else "cpu"
    return HardwareInfo(
        id=hw_id,
        name=(cpu.model if cpu is not None and cpu.model else "CPU"),
        kind="cpu",
        memory_bytes=cpu.memory_bytes if cpu is not None else None,  # the RAM; older files: unknown
        reserved_bytes=0,
        bandwidth_bytes_per_s=roof.bandwidth_bytes_per_s,
        source="measured by bench/cpuprobe.py" if roof.bandwidth_bytes_per_s else None,
    )


def frame_of(result: Result) -> str:
    """The frame a cell is drawn and ranked in: its hardware's display name and how its figures
    were obtained, 'NVIDIA GeForce RTX 4090 24GB (estimated)': measured, estimated and imported
    cells never compete (the charts' hardware selector and static images, the findings)."""
    return f"{hardware_of(result).name} ({result.method})"


# --------------------------------------------------------------------------- precision and speed


def precision_rank(result: Result) -> tuple[float, float, float]:
    """Higher is more precise: (weight bits, activation bits, KV-cache bits)."""
    s = result.setting
    dtype_bits = 8 * DTYPE_BYTES.get(s.dtype, 2)
    scheme = SCHEMES.get(s.quantization or "none")
    if scheme is None:  # a format the roofline does not know (an imported GGUF type, say)
        weight, activation, kv = 0.0, dtype_bits, dtype_bits
    else:
        weight = scheme.weight_bits or dtype_bits
        activation = 8 if scheme.compute == "int8" else dtype_bits
        kv = scheme.kv_bits or dtype_bits
    if s.kv_cache in KV_STORAGE:
        kv = min(kv, KV_STORAGE[s.kv_cache][0])
    return (weight, activation, kv)


def per_token_cv(result: Result) -> float | None:
    """Coefficient of variation (stdev / mean) of a measured cell's per-token decode latency over
    its repeats; None for estimates and single runs."""
    stats = result.metrics.decode.per_token_s
    if result.method == "estimated" or stats is None or stats.n < 2 or stats.mean <= 0:
        return None
    return stats.stdev / stats.mean


def context_tokens(result: Result) -> int:
    """Prompt plus new tokens: the positions a sequence holds at the end."""
    return result.setting.prompt_tokens + result.setting.new_tokens


@dataclass(frozen=True)
class Speed:
    """A cell's decode speed as the matrix uses it, and where it comes from."""

    tokens_per_s: float | None  # measured, or the expected figure of an estimate
    label: SpeedLabel
    bound_tokens_per_s: float | None  # the roofline bound (estimates; measured where annotated)
    efficiency: float | None  # expected / bound for estimates
    efficiency_source: str | None


def measured_efficiencies(results: Iterable[Result]) -> dict[tuple[str, str], tuple[float, int]]:
    """(hardware id, engine) -> (median measured/bound efficiency, cells) over measured decodes
    that the roofline annotated (efficiencies above 1 are errors and left out)."""
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in results:
        roof = r.metrics.roofline
        if r.method == "measured" and r.status == "ok" and roof.efficiency and roof.efficiency <= 1:
            found[(hardware_of(r).id, r.setting.engine)].append(roof.efficiency)
    return {key: (statistics.median(values), len(values)) for key, values in found.items()}


def speed_of(result: Result, hw: HardwareInfo, measured: dict[tuple[str, str], tuple[float, int]]) -> Speed:
    """The decode speed of a result: a measurement as it is; an estimate's bound x efficiency."""
    value = result.metrics.decode.tokens_per_s
    bound = result.metrics.roofline.bound_tokens_per_s
    if result.method != "estimated":
        label: SpeedLabel = "imported" if result.method == "imported" else "measured"
        return Speed(value, label, bound, result.metrics.roofline.efficiency, None)
    bound = bound if bound is not None else value
    engine = result.setting.engine
    if (hw.id, engine) in measured:
        eff, cells = measured[(hw.id, engine)]
        source = f"median of {cells} measured {engine} cells on {hw.name} in these results"
    else:
        default = catalog.decode_efficiency(hw.kind, engine)
        if default is None or bound is None:
            return Speed(bound, "upper bound", bound, None, None)
        eff, source = default.value, default.source
    return Speed(None if bound is None else bound * eff, "expected", bound, eff, source)


# Named latency targets (TTFT ms, TPOT ms): MLPerf Inference's server-scenario caps for the
# Llama 3.1 8B benchmark, and its interactive scenario's tighter ones (as the issue tracker quoted
# them: 2,000 / 100 ms and 500 / 30 ms). `report fit --preset NAME`; explicit --ttft-ms/--tpot-ms win.
LATENCY_PRESETS: dict[str, tuple[float, float]] = {
    "llama3.1-8b": (2000.0, 100.0),
    "interactive": (500.0, 30.0),
}


@dataclass(frozen=True)
class Targets:
    """Latency targets a setting must meet to count as fitting: time to first token (the prefill
    latency) and time per output token (one decode step), in milliseconds. An estimate's TPOT is its
    step at the expected speed; its TTFT is the roofline's prefill time, a lower bound (no
    efficiency is known for prefill)."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None

    def __bool__(self) -> bool:
        return self.ttft_ms is not None or self.tpot_ms is not None

    def text(self) -> str:
        """'TTFT ≤ 2,000 ms, TPOT ≤ 100 ms'."""
        parts = []
        if self.ttft_ms is not None:
            parts.append(f"TTFT ≤ {self.ttft_ms:g} ms")
        if self.tpot_ms is not None:
            parts.append(f"TPOT ≤ {self.tpot_ms:g} ms")
        return ", ".join(parts)

    def ratios(self, result: Result, speed: Speed) -> dict[str, float]:
        """Each target's use: time / target (above 1: missed); a missing time counts as missed."""
        used: dict[str, float] = {}
        if self.ttft_ms is not None:
            prefill = result.metrics.prefill.latency_s
            used["TTFT"] = math.inf if prefill is None else prefill.median * 1e3 / self.ttft_ms
        if self.tpot_ms is not None:
            tpot_ms = result.setting.batch_size / speed.tokens_per_s * 1e3 if speed.tokens_per_s else None
            used["TPOT"] = math.inf if tpot_ms is None else tpot_ms / self.tpot_ms
        return used


# --------------------------------------------------------------------------- one cell


@dataclass(frozen=True)
class FitCell:
    """One model on one hardware: the best setting that fits, or why none does."""

    model: str
    hardware: HardwareInfo
    state: State
    method: str | None = None  # measured | estimated | imported: where the shown figures come from
    result: Result | None = None  # the best setting; for `no`, the leanest one that missed
    speed: Speed | None = None
    max_batch_size: int | None = None
    max_batch_from: str | None = None  # "memory split" (extrapolated) or "batch sizes run"
    memory_bytes: int | None = None
    short_bytes: int | None = None  # `no`: how much the leanest setting misses by
    reason: str | None = None  # `no`, `failed`, `untested`, `unknown`: in words
    binding: str | None = None  # with targets: the one closest to its limit ("TTFT" or "TPOT")

    @property
    def usable_memory_bytes(self) -> int | None:
        return self.hardware.usable_memory_bytes

    @property
    def precision(self) -> str | None:
        return None if self.result is None else precision_text(self.result)

    @property
    def batch_size(self) -> int | None:
        return None if self.result is None else self.result.setting.batch_size

    @property
    def context_tokens(self) -> int | None:
        return None if self.result is None else context_tokens(self.result)

    @property
    def cost_per_million_tokens(self) -> float | None:
        """USD per million output tokens at the best setting's decode speed and the hardware's
        price per hour (None without a price or a speed)."""
        price, speed = self.hardware.price_per_hour, self.speed.tokens_per_s if self.speed else None
        if price is None or not speed or not self.shown:
            return None
        return price / (speed * 3600) * 1e6

    @property
    def cv(self) -> float | None:
        """The best setting's per-token CV over repeats (measured cells)."""
        return None if self.result is None or not self.shown else per_token_cv(self.result)

    @property
    def noisy(self) -> bool:
        return (self.cv or 0.0) > NOISY_CV

    @property
    def shown(self) -> bool:
        """True where the cell names a setting that ran or fits (not a miss)."""
        return self.result is not None and self.state in ("fits", "tight", "unknown")

    def status(self) -> str:
        """The state and where its figures come from: 'fits (estimated)', 'no (measured)', 'untested'."""
        return f"{self.state} ({self.method})" if self.method else self.state

    def headline(self) -> str:
        """The cell in a few words: 'bfloat16 · int4: 212 tok/s expected' or 'no: 18.2 GiB short'."""
        if self.shown and self.speed is not None:
            if self.speed.tokens_per_s is None:
                return f"{self.precision}: no decode figure"
            noisy = " (noisy)" if self.noisy else ""
            return f"{self.precision}: {number(self.speed.tokens_per_s)} tok/s {self.speed.label}{noisy}"
        if self.state == "no" and self.short_bytes is not None:
            return f"no: {size_bytes(self.short_bytes)} short"
        return self.state

    def brief(self) -> str:
        """The cell for a small table (a slide): 'est. int4, 36.2 tok/s, batch ≤ 217' (the
        quantization stands for the precision where there is one); 'no: 13.7 GiB short'."""
        if self.shown and self.speed is not None and self.result is not None:
            s = self.result.setting
            precision = self.precision or ""
            if s.quantization and s.quantization.lower() != "none":
                precision = precision.split(" · ", 1)[1]  # the dtype is in the notes
            speed = self.speed.tokens_per_s
            parts = [precision, f"{number(speed)} tok/s" if speed is not None else "no decode figure"]
            if self.max_batch_size is not None:
                parts.append(f"batch ≤ {self.max_batch_size:,}")
            lead = "" if self.state == "fits" else f"{self.state}, "
            if self.noisy:
                parts[1] += " (noisy)"
            tag = "est. " if self.method == "estimated" else ""  # first, so a cut cell keeps it
            return f"{tag}{lead}{', '.join(parts)}"
        if self.state == "no" and self.short_bytes is not None:
            return f"no: {size_bytes(self.short_bytes)} short"
        return self.state

    def memory_split(self) -> list[tuple[str, int]]:
        """Where the best setting's memory goes, as far as its result says: weights, the KV cache
        (measured cells that record it), the rest (KV cache and activations of an estimate;
        activations and the runtime of a run), and the hardware's reserve on top."""
        if self.result is None or self.memory_bytes is None or not self.result.model.weight_bytes:
            return []
        weights = self.result.model.weight_bytes
        kv = self.result.metrics.kv_cache.measured_bytes if self.result.metrics.kv_cache else None
        parts = [("weights", weights)]
        if self.result.method == "estimated":
            parts.append(("KV cache and activations", self.memory_bytes - weights))
        else:
            if kv is not None:
                parts.append(("KV cache", kv))
            parts.append(("activations and runtime", self.memory_bytes - weights - (kv or 0)))
        if self.hardware.reserved_bytes:
            parts.append(("reserve (outside usable)", self.hardware.reserved_bytes))
        return [(name, max(0, int(n))) for name, n in parts]

    def short_detail(self) -> str:
        """The cell's setting in a few words for a large table: 'batch 1 · 2,112 tokens · up to
        batch 55 · 15.5 of 23 GiB'; or why not (cut)."""
        if not self.shown:
            return cut(self.reason or "", 160)
        parts = [f"batch {self.batch_size}", f"{self.context_tokens:,} tokens"]
        if self.max_batch_size is not None:
            parts.append(f"up to batch {self.max_batch_size:,}")
        if self.memory_bytes is not None:
            usable = self.usable_memory_bytes
            parts.append(
                size_bytes(self.memory_bytes) + (f" of {size_bytes(usable)}" if usable is not None else "")
            )
        return " · ".join(parts)

    def detail(self) -> str:
        """The rest of the cell in one line: batch, context, largest batch, memory; or why not."""
        if not self.shown:
            return self.reason or ""
        parts = [f"batch {self.batch_size}", f"{self.context_tokens:,} tokens of context"]
        if self.max_batch_size is not None:
            parts.append(f"up to batch {self.max_batch_size:,} ({self.max_batch_from})")
        stats = self.result.metrics.decode.per_token_s if self.result is not None else None
        if self.cv is not None and stats is not None:
            spread = f"per-token CV {self.cv:.0%} over {stats.n} repeats, {number(stats.min * 1e3)} to {number(stats.max * 1e3)} ms"
            parts.append(spread + (f": noisy (above {NOISY_CV:.0%})" if self.noisy else ""))
        if self.memory_bytes is not None:
            usable = self.usable_memory_bytes
            of = f" of {size_bytes(usable)} usable" if usable is not None else ""
            split = " + ".join(f"{name} {size_bytes(n)}" for name, n in self.memory_split())
            parts.append(f"{size_bytes(self.memory_bytes)}{of}" + (f" ({split})" if split else ""))
        if self.cost_per_million_tokens is not None:
            parts.append(
                f"${number(self.cost_per_million_tokens)} per million output tokens at "
                f"${number(self.hardware.price_per_hour)}/h"
            )
        if self.binding:
            parts.append(f"binding target: {self.binding}")
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The cell as `python -m report fit --json` prints it."""
        data: dict[str, Any] = {
            "model": self.model,
            "hardware": self.hardware.id,
            "hardware_name": self.hardware.name,
            "state": self.state,
            "method": self.method,
            "usable_memory_bytes": self.usable_memory_bytes,
            "reason": self.reason,
        }
        if self.result is not None:
            data |= {
                "precision": self.precision,
                "dtype": self.result.setting.dtype,
                "quantization": self.result.setting.quantization,
                "engine": self.result.setting.engine,
                "kv_cache": self.result.setting.kv_cache,
                "batch_size": self.batch_size,
                "context_tokens": self.context_tokens,
                "memory_bytes": self.memory_bytes,
                "cell": self.result.cell,
                "suite": self.result.suite,
            }
        if self.shown and self.speed is not None:
            data |= {
                "decode_tokens_per_s": self.speed.tokens_per_s,
                "decode_figure": self.speed.label,
                "bound_tokens_per_s": self.speed.bound_tokens_per_s,
                "efficiency": self.speed.efficiency,
                "efficiency_source": self.speed.efficiency_source,
                "max_batch_size": self.max_batch_size,
                "max_batch_from": self.max_batch_from,
                "cv": self.cv,
                "noisy": self.noisy,
                "memory_split_bytes": dict(self.memory_split()),
                "price_per_hour": self.hardware.price_per_hour,
                "cost_per_million_tokens": self.cost_per_million_tokens,
            }
        if self.short_bytes is not None:
            data["short_bytes"] = self.short_bytes
        if self.binding is not None:
            data["binding_target"] = self.binding
        return data


def _fits(result: Result, hw: HardwareInfo) -> bool | None:
    """Whether a successful cell fits: a measured one ran, so it did; an estimate fits where its
    modelled memory is within the usable memory (None: no figure to judge by)."""
    if result.status != "ok":
        return False
    if result.method != "estimated":
        return True
    memory, usable = peak_memory_bytes(result), hw.usable_memory_bytes
    if memory is None or usable is None:
        return None
    return memory <= usable


def _best(cells: Sequence[Result], speeds: dict[int, Speed]) -> Result:
    """BEST_RULE: the fastest per-sequence decode at each setting's smallest batch; near ties go to
    the higher precision."""

    def order(r: Result) -> tuple[int, bool]:  # the smallest batch; one with a speed before one without
        return (r.setting.batch_size, speeds[id(r)].tokens_per_s is None)

    smallest: dict[tuple[Any, ...], Result] = {}
    for r in cells:
        s = r.setting
        key = (s.dtype, s.quantization, s.engine, s.kv_cache, context_tokens(r))
        if key not in smallest or order(r) < order(smallest[key]):
            smallest[key] = r

    def per_sequence(r: Result) -> float:
        return (speeds[id(r)].tokens_per_s or 0.0) / r.setting.batch_size

    candidates = sorted(smallest.values(), key=lambda r: (r.setting.batch_size, r.cell))
    top = max(per_sequence(r) for r in candidates)
    near = [r for r in candidates if per_sequence(r) >= top * (1 - TIE_SHARE)]
    return max(near, key=lambda r: (precision_rank(r), per_sequence(r), -context_tokens(r)))


def _max_batch(
    best: Result, fitting: Sequence[Result], hw: HardwareInfo, split: bool = True
) -> tuple[int | None, str | None]:
    """The largest batch at the best setting's precision and context: from the estimate's memory
    split (weights, and the rest, which grows with the batch) where it records one and `split`,
    else the largest batch among the cells that fit."""
    usable, memory, weights = hw.usable_memory_bytes, peak_memory_bytes(best), best.model.weight_bytes
    if split and best.method == "estimated" and usable is not None and memory is not None and weights:
        per_sequence = (memory - weights) / best.setting.batch_size
        if per_sequence > 0 and usable >= weights:
            return max(best.setting.batch_size, math.floor((usable - weights) / per_sequence)), "memory split"
    s = best.setting
    same = [
        r.setting.batch_size
        for r in fitting
        if (r.setting.dtype, r.setting.quantization, r.setting.engine, r.setting.kv_cache)
        == (s.dtype, s.quantization, s.engine, s.kv_cache)
        and context_tokens(r) == context_tokens(best)
    ]
    return max(same, default=s.batch_size), "batch sizes run"


def fit_cell(
    model: str,
    hw: HardwareInfo,
    results: Sequence[Result],
    measured: dict[tuple[str, str], tuple[float, int]],
    targets: Targets | None = None,
) -> FitCell:
    """Judge one model on one hardware from its cells there (and, with `targets`, only settings
    that meet them count as fitting)."""
    if not results:
        return FitCell(model, hw, "untested", reason=f"no cell of {model} on {hw.name}")
    verdicts = {id(r): _fits(r, hw) for r in results}
    runs = [r for r in results if r.status == "ok" and r.method != "estimated"]
    pool = runs or [r for r in results if r.status == "ok"]
    fitting = [r for r in pool if verdicts[id(r)] is not False]
    speeds = {id(r): speed_of(r, hw, measured) for r in fitting}
    binding = None
    if fitting and targets:
        used = {id(r): targets.ratios(r, speeds[id(r)]) for r in fitting}
        meeting = [r for r in fitting if max(used[id(r)].values()) <= 1]
        if not meeting:
            closest = min(fitting, key=lambda r: (max(used[id(r)].values()), r.cell))
            worst = max(used[id(closest)], key=lambda k: used[id(closest)][k])
            reason = (
                f"fits in memory, but no setting meets {targets.text()}: the closest "
                f"({precision_text(closest)}, batch {closest.setting.batch_size}) is at "
                f"{used[id(closest)][worst]:.0%} of its {worst} target"
            )
            return FitCell(
                model, hw, "no", closest.method, closest, speeds[id(closest)], reason=reason, binding=worst
            )
        fitting = meeting
    if fitting:
        best = _best(fitting, speeds)
        memory, usable = peak_memory_bytes(best), hw.usable_memory_bytes
        if targets:
            binding = max(used[id(best)], key=lambda k: used[id(best)][k])
            batch, batch_from = _max_batch(best, [r for r in fitting if verdicts[id(r)]], hw, split=False)
            batch_from = f"{batch_from}, meeting {targets.text()}"
        else:
            batch, batch_from = _max_batch(best, [r for r in fitting if verdicts[id(r)]], hw)
        state: State
        reason = None
        if usable is None:
            state = "unknown"
            reason = f"no memory figure for {hw.name}: whether it fits is not judged"
            batch, batch_from = None, None
        elif memory is not None and memory > TIGHT_SHARE * usable:
            state = "tight"
        else:
            state = "fits"
        return FitCell(
            model,
            hw,
            state,
            best.method,
            best,
            speeds[id(best)],
            batch,
            batch_from,
            memory,
            reason=reason,
            binding=binding,
        )
    return _no_fit(model, hw, results)


def _no_fit(model: str, hw: HardwareInfo, results: Sequence[Result]) -> FitCell:
    """Nothing fits: say by how much the leanest setting misses, or why the cells failed."""
    usable = hw.usable_memory_bytes
    sized = [r for r in results if peak_memory_bytes(r) is not None and r.status in ("ok", "oom")]
    ooms = [r for r in results if r.status == "oom"]
    if usable is not None and sized:
        leanest = min(sized, key=lambda r: (peak_memory_bytes(r) or 0, r.cell))
        needed = peak_memory_bytes(leanest) or 0
        short = max(0, needed - usable)
        reason = (
            f"the leanest setting ({precision_text(leanest)}, batch {leanest.setting.batch_size}, "
            f"{context_tokens(leanest):,} tokens) needs {size_bytes(needed)}; {hw.name} has "
            f"{size_bytes(usable)} usable: {size_bytes(short)} short"
        )
        return FitCell(
            model, hw, "no", leanest.method, leanest, memory_bytes=needed, short_bytes=short, reason=reason
        )
    if ooms:
        return FitCell(
            model,
            hw,
            "no",
            ooms[0].method,
            reason=f"every setting ran out of memory ({len(ooms)} cells); no memory figure says by how much",
        )
    if usable is None and any(r.status == "ok" for r in results):
        return FitCell(model, hw, "unknown", reason=f"no memory figure for {hw.name}")
    reasons = sorted({failure_reason(r, 160) or r.status for r in results})
    return FitCell(
        model,
        hw,
        "failed",
        results[0].method,
        reason=f"all {len(results)} cells failed: "
        + "; ".join(reasons[:3])
        + (" …" if len(reasons) > 3 else ""),
    )


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class FitMatrix:
    """Models x hardware; `cell(model, hardware_id)` for one answer, `to_json()` for all."""

    models: list[str]
    hardware: list[HardwareInfo]
    cells: dict[tuple[str, str], FitCell]
    context: int | None = None  # only settings with at least this many tokens of context
    rule: str = BEST_RULE
    # (hardware id, engine) -> (median efficiency, cells) measured in the results
    measured_efficiencies: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    targets: Targets | None = None

    def default_efficiencies(self) -> list[tuple[str, str, catalog.Efficiency]]:
        """(hardware kind, engine, efficiency) of bench/hardware.yaml, for the methodology page."""
        return [(kind, engine, eff) for (kind, engine), eff in catalog.decode_efficiencies().items()]

    def cell(self, model: str, hardware_id: str) -> FitCell:
        return self.cells[(model, hardware_id)]

    def row(self, model: str) -> list[FitCell]:
        """A model's cells, one per hardware, in column order."""
        return [self.cells[(model, hw.id)] for hw in self.hardware]

    def to_json(self) -> list[dict[str, Any]]:
        """One object per model and hardware, rows then columns."""
        return [cell.to_json() for model in self.models for cell in self.row(model)]


def fit_matrix(
    results: Iterable[Result],
    context: int | None = None,
    hardware_ids: Sequence[str] | None = None,
    targets: Targets | None = None,
    prices: Mapping[str, float] | None = None,
) -> FitMatrix:
    """The fit matrix of a result set: every model against every hardware in it (or those of
    `hardware_ids`, in that order), over the settings with at least `context` tokens of context
    (and, with `targets`, only settings that meet the latency targets). `prices` (hardware id ->
    USD per hour) override the catalog's.

    Raises KeyError naming the hardware ids there are when `hardware_ids` holds another."""
    results = list(results)
    measured = measured_efficiencies(results)
    columns: dict[str, HardwareInfo] = {}
    by_cell: dict[tuple[str, str], list[Result]] = defaultdict(list)
    present: set[tuple[str, str]] = set()  # (model, hardware) pairs with any cell, whatever the context
    for r in results:
        hw = hardware_of(r)
        known = columns.setdefault(hw.id, hw)
        if known.memory_bytes is None and hw.memory_bytes is not None:
            columns[hw.id] = hw  # a result that records the memory beats one that does not
        present.add((r.model.name, hw.id))
        if context is None or context_tokens(r) >= context:
            by_cell[(r.model.name, hw.id)].append(r)
    for hw_id, price in (prices or {}).items():
        if hw_id in columns:
            columns[hw_id] = replace(columns[hw_id], price_per_hour=price)
    if hardware_ids:
        unknown = [h for h in hardware_ids if h not in columns]
        if unknown:
            raise KeyError(
                f"no hardware {', '.join(map(repr, unknown))} in these results; they hold "
                + (", ".join(sorted(columns)) or "none")
            )
        order = list(dict.fromkeys(hardware_ids))
    else:  # GPUs first, then by memory, largest first; CPUs last
        order = sorted(columns, key=lambda h: (columns[h].kind != "gpu", -(columns[h].memory_bytes or 0), h))
    models = sorted({r.model.name for r in results}, key=str.lower)
    cells = {}
    for model in models:
        for h in order:
            found = sorted(by_cell.get((model, h), []), key=lambda r: (r.suite, r.cell))
            if not found and (model, h) in present:
                reason = f"no setting with {context:,} or more tokens of context"
                cells[(model, h)] = FitCell(model, columns[h], "untested", reason=reason)
            else:
                cells[(model, h)] = fit_cell(model, columns[h], found, measured, targets)
    rule = BEST_RULE + (f" Only settings that meet {targets.text()} count." if targets else "")
    return FitMatrix(
        models,
        [columns[h] for h in order],
        cells,
        context,
        rule,
        measured_efficiencies=measured,
        targets=targets,
    )
