"""Small trackers a cell composes: clocks, memory, energy, and the timed greedy generation loop.

Nothing here spins: samplers sleep between reads so they never steal the cores being measured.
"""

from __future__ import annotations

import inspect
import os
import resource
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.nvml import device_handle
from bench.schema import Energy, Memory

# --------------------------------------------------------------------------- clocks


class CPUClock:
    """Host timestamps; a mark is a perf_counter_ns reading."""

    def mark(self) -> int:
        return time.perf_counter_ns()

    def seconds(self, start: int, end: int) -> float:
        return (end - start) / 1e9

    def settle(self) -> None:
        pass


class CUDAClock:
    """CUDA events recorded in stream order: per-token marks without stalling the GPU pipeline."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def mark(self) -> torch.cuda.Event:
        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event

    def seconds(self, start: torch.cuda.Event, end: torch.cuda.Event) -> float:
        return start.elapsed_time(end) / 1e3

    def settle(self) -> None:
        torch.cuda.synchronize(self.device)


def clock_for(device: str) -> CPUClock | CUDAClock:
    return CUDAClock(torch.device(device)) if device.startswith("cuda") else CPUClock()


# --------------------------------------------------------------------------- generation


@dataclass
class Run:
    """One timed generation: seconds to the first token, to the last, and tokens produced."""

    prefill_s: float
    e2e_s: float
    generated_tokens: int

    def decode_per_token_s(self) -> float | None:
        steps = self.generated_tokens - 1
        return (self.e2e_s - self.prefill_s) / steps if steps > 0 else None


def forward_kwargs(model: torch.nn.Module) -> tuple[str, bool]:
    """transformers renamed `past_key_values` to `cache` (5.x); use what this version takes."""
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    return cache_kw, "logits_to_keep" in params


# KV cache storage -> transformers' QuantizedCache backend and bits (fp8 needs no extra package).
KV_BACKENDS: dict[str, tuple[str, int | None]] = {
    "fp8": ("fp8", None),
    "int4": ("quanto", 4),
    "int2": ("quanto", 2),
}
INDUCTOR_CACHE = Path.home() / ".cache" / "gpuscape" / "inductor"


def keep_inductor_cache() -> None:
    """Point torch.compile's caches at one folder that outlives a cell, so a sweep compiles each
    shape once (a TORCHINDUCTOR_CACHE_DIR set by the user wins; importing torchao sets torch's
    per-boot default in /tmp, which is replaced)."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    if os.environ.get("TORCHINDUCTOR_CACHE_DIR") in (None, default_cache_dir()):
        INDUCTOR_CACHE.mkdir(parents=True, exist_ok=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(INDUCTOR_CACHE)


class Generator:
    """A greedy decoder with a KV cache and a fixed output length (no early stop on EOS).

    The same loop transformers' generate runs for greedy search, without its per-step Python
    machinery, so the figures are the model's own. Engines: `eager` (a dynamic cache, or a
    quantized one for kv_cache fp8/int4/int2), `static` (transformers' StaticCache, allocated
    once for prompt + new tokens and reset between runs), `compiled` (the static cache with the
    decode step compiled by torch.compile; `reduce-overhead`, i.e. CUDA graphs, on CUDA). The
    prompt pass is never compiled."""

    def __init__(
        self,
        model: torch.nn.Module,
        clock: CPUClock | CUDAClock,
        engine: str = "eager",
        kv_cache: str = "model",
        max_positions: int | None = None,
    ) -> None:
        if engine not in ("eager", "static", "compiled"):
            raise ValueError(f"engine {engine!r} is not a transformers loop")
        if engine != "eager" and kv_cache != "model":
            raise ValueError(f"a quantized KV cache ({kv_cache}) runs on the eager engine only")
        if engine != "eager" and not max_positions:
            raise ValueError(f"the {engine} engine needs max_positions for its static cache")
        self.model, self.clock, self.engine, self.kv_cache = model, clock, engine, kv_cache
        self.max_positions = max_positions
        self.cache_kw, has_logits_to_keep = forward_kwargs(model)
        self.prefill_extra = {"logits_to_keep": 1} if has_logits_to_keep else {}
        self.cache: Any = None  # the cache of the last run (its bytes are measured)
        self._static: Any = None
        self._decode = self._decode_step
        if engine == "compiled":
            keep_inductor_cache()
            on_cuda = next(model.parameters()).device.type == "cuda"
            self._decode = torch.compile(
                self._decode_step, mode="reduce-overhead" if on_cuda else None, dynamic=False
            )

    def new_cache(self, batch_size: int) -> Any:
        """A cache for one run: fresh for eager, the one static cache zeroed for static/compiled."""
        from transformers import DynamicCache, QuantizedCache, StaticCache

        config = self.model.config
        if self.engine == "eager":
            if self.kv_cache == "model":
                return DynamicCache(config=config)
            backend, nbits = KV_BACKENDS[self.kv_cache]
            return QuantizedCache(backend, config, nbits=nbits) if nbits else QuantizedCache(backend, config)
        if self._static is None or self._static_batch != batch_size:
            self._static = StaticCache(config=config, max_cache_len=self.max_positions)
            self._static_batch = batch_size
        else:
            self._static.reset()
        return self._static

    def _decode_step(self, input_ids: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, use_cache=True, **{self.cache_kw: self.cache})
        return out.logits[:, -1, :]

    def prefill(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Start a run: a new cache, the prompt pass; returns the last position's logits."""
        self.cache = self.new_cache(input_ids.shape[0])
        out = self.model(
            input_ids=input_ids, use_cache=True, **{self.cache_kw: self.cache}, **self.prefill_extra
        )
        return out.logits[:, -1, :]

    def step(self, input_ids: torch.Tensor) -> torch.Tensor:
        """One decode step on the current cache; returns the new position's logits (a copy: CUDA
        graphs reuse their output buffers)."""
        logits = self._decode(input_ids)
        return logits.clone() if self.engine == "compiled" else logits

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, new_tokens: int) -> Run:
        clock = self.clock
        start = clock.mark()
        next_ids = self.prefill(input_ids).argmax(dim=-1, keepdim=True)
        first = clock.mark()
        generated = 1
        for _ in range(new_tokens - 1):
            next_ids = self._decode(next_ids).argmax(dim=-1, keepdim=True)
            generated += 1
        last = clock.mark()
        clock.settle()
        held = self.cache.get_seq_length()
        if int(held) != input_ids.shape[1] + new_tokens - 1:
            raise RuntimeError(
                f"KV cache holds {held} positions, expected {input_ids.shape[1] + new_tokens - 1}"
            )
        return Run(clock.seconds(start, first), clock.seconds(start, last), generated)

    @torch.inference_mode()
    def tokens(self, input_ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
        """The greedy tokens themselves (for checks against transformers' generate)."""
        next_ids = self.prefill(input_ids).argmax(dim=-1, keepdim=True)
        out = [next_ids]
        for _ in range(new_tokens - 1):
            next_ids = self.step(next_ids).argmax(dim=-1, keepdim=True)
            out.append(next_ids)
        return torch.cat(out, dim=1)

    @torch.inference_mode()
    def forced_logits(self, stream: torch.Tensor, prefix: int) -> torch.Tensor:
        """Log-probabilities of the next token at positions prefix-1 .. len-2 of `stream` (batch 1),
        teacher-forced through this engine and KV cache: the prefix in one prompt pass, then one
        decode step per token, as generation would read the cache."""
        logits = [self.prefill(stream[:, :prefix])]
        for pos in range(prefix, stream.shape[1] - 1):
            logits.append(self.step(stream[:, pos : pos + 1]))
        return torch.log_softmax(torch.cat(logits, dim=0).float(), dim=-1)


def make_generator(
    model: torch.nn.Module,
    clock: CPUClock | CUDAClock,
    engine: str = "eager",
    kv_cache: str = "model",
    max_positions: int | None = None,
) -> Generator:
    """The timed greedy loop of an engine (see Generator)."""
    return Generator(model, clock, engine, kv_cache, max_positions)


def cache_bytes(cache: Any) -> int:
    """Bytes the KV cache object holds: every layer's key and value tensors, quantized states
    (and their scales) included, full-precision residual windows too; each storage once."""
    from bench.quant import tensor_bytes

    seen: set[int] = set()
    total = 0
    for layer in getattr(cache, "layers", []):
        for value in vars(layer).values():
            if isinstance(value, (torch.Tensor, tuple, list)):
                total += tensor_bytes(value, seen)
    return total


# --------------------------------------------------------------------------- CPU memory

_STATUS = Path("/proc/self/status")


def _status_bytes(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass
class RSSTracker:
    """Peak resident set of this process from the moment it starts tracking.

    Resets the kernel's high-water mark (clear_refs 5) so the peak is this cell's own, not the
    process it was forked from; falls back to getrusage where /proc cannot be written."""

    baseline_bytes: int | None = None
    peak_bytes: int | None = None
    _reset: bool = False

    def start(self) -> None:
        self.baseline_bytes = _status_bytes("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._reset = True
        except OSError:
            self._reset = False

    def stop(self) -> None:
        hwm = _status_bytes("VmHWM") if self._reset else None
        if hwm is None:
            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
        self.peak_bytes = hwm


# --------------------------------------------------------------------------- NVML


@dataclass
class NVMLSampler:
    """Samples this process's and the whole device's used memory in a sleeping thread."""

    device: str
    interval_s: float = 0.01
    peak_process_bytes: int | None = None
    peak_device_bytes: int | None = None
    reason: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self._nvml, self._handle = device_handle(self.device)
        except Exception as exc:  # pynvml.NVMLError and friends: record, never fail the cell
            self.reason = f"NVML unavailable: {exc}"
            return
        self._thread = threading.Thread(target=self._loop, name="nvml-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        nvml, handle, pid = self._nvml, self._handle, os.getpid()
        used = nvml.nvmlDeviceGetMemoryInfo(handle).used
        self.peak_device_bytes = max(self.peak_device_bytes or 0, used)
        try:
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory is not None:
                    self.peak_process_bytes = max(self.peak_process_bytes or 0, proc.usedGpuMemory)
        except nvml.NVMLError as exc:
            self.reason = f"NVML per-process memory unavailable: {exc}"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception as exc:
                self.reason = f"NVML sampling stopped: {exc}"
                return
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        try:
            self._sample()  # one last read at the end of the cell
        except Exception:
            pass
        if self.peak_process_bytes is None and self.reason is None:
            self.reason = "NVML listed no memory for this process (containers often hide it)"


@contextmanager
def track_memory(device: str):
    """Yields a Memory record that is filled in when the block ends."""
    memory = Memory()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
        sampler = NVMLSampler(device)
        sampler.start()
        try:
            yield memory
        finally:
            sampler.stop()
            memory.peak_allocated_bytes = torch.cuda.max_memory_allocated(device)
            memory.peak_reserved_bytes = torch.cuda.max_memory_reserved(device)
            memory.peak_process_bytes = sampler.peak_process_bytes
            memory.peak_device_bytes = sampler.peak_device_bytes
            memory.reason = sampler.reason
            rss = _status_bytes("VmHWM")
            memory.peak_rss_bytes = rss
    else:
        tracker = RSSTracker()
        tracker.start()
        try:
            yield memory
        finally:
            tracker.stop()
            memory.baseline_rss_bytes = tracker.baseline_bytes
            memory.peak_rss_bytes = tracker.peak_bytes
            memory.reason = "CPU run: no GPU memory"


# --------------------------------------------------------------------------- energy

RAPL_DIR = Path("/sys/class/powercap/intel-rapl:0")


class EnergyMeter:
    """Energy over a block: NVML's total-energy counter on GPU, the RAPL package counter on CPU."""

    def __init__(self, device: str, rapl_dir: Path = RAPL_DIR) -> None:
        self.device = device
        self.rapl_dir = rapl_dir
        self.reason: str | None = None
        self.source: str | None = None
        self._read: Callable[[], float] | None = None
        self._wrap_j: float | None = None
        self._setup()

    def _setup(self) -> None:
        if self.device.startswith("cuda"):
            try:
                nvml, handle = device_handle(self.device)
                nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            except Exception as exc:
                self.reason = f"NVML energy counter unavailable: {exc}"
                return
            self._read = lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1e3  # mJ -> J
            self.source = "nvml"
            return
        counter = self.rapl_dir / "energy_uj"
        try:
            int(counter.read_text())
        except (OSError, ValueError) as exc:
            self.reason = f"RAPL not readable ({exc.__class__.__name__}: {counter})"
            return
        try:
            self._wrap_j = int((self.rapl_dir / "max_energy_range_uj").read_text()) / 1e6
        except (OSError, ValueError):
            self._wrap_j = None
        self._read = lambda: int(counter.read_text()) / 1e6
        self.source = "rapl-package"

    @contextmanager
    def track(self, tokens: Callable[[], int]):
        """Yields an Energy record filled in at the end; `tokens` tells how many were generated."""
        energy = Energy(reason=self.reason, source=self.source)
        if self._read is None:
            yield energy
            return
        start = self._read()
        try:
            yield energy
        finally:
            delta = self._read() - start
            if delta < 0 and self._wrap_j:  # the counter wrapped around once
                delta += self._wrap_j
            if delta >= 0:
                energy.joules = delta
                count = tokens()
                energy.joules_per_token = delta / count if count else None
            else:
                energy.reason = "energy counter went backwards"
