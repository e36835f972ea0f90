"""One cell, measured inside its own process. The parent (bench.runner) only waits and writes.

Importing this module loads torch and transformers; the runner's fork server imports it once so
each cell starts from a clean process that need not import them again.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import transformers  # preloaded once by the fork server

from bench import environment, quality
from bench.measure import EnergyMeter, Run, cache_bytes, clock_for, make_generator, track_memory
from bench.models import config_dict, load_model, random_checkpoint, weight_bytes
from bench.quant import kernel
from bench.schema import Decode, ErrorInfo, KVCache, Latency, Metrics, Quality, Stats
from bench.suite import Cell

TEST_CRASH_ENV = "GPUSCAPE_TEST_CRASH"  # a model slug whose cells crash hard (tests only)
_OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory", "defaultcpuallocator")


@dataclass
class Outcome:
    """What a cell sends back to its parent; everything measured so far, even on failure."""

    status: str = "ok"
    error: ErrorInfo | None = None
    model: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    environment: dict[str, Any] | None = None


def classify(exc: BaseException) -> str:
    """'oom' for allocation failures on any device, else 'error'."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "oom"
    text = str(exc).lower()
    return "oom" if isinstance(exc, RuntimeError) and any(m in text for m in _OOM_MARKERS) else "error"


def error_info(exc: BaseException) -> ErrorInfo:
    tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    return ErrorInfo(
        type=type(exc).__name__, message=str(exc)[:2000] or type(exc).__name__, traceback=tail[-4000:]
    )


def _limit_address_space(limit_gb: float | None) -> None:
    """Cap the cell's address space (CPU only) so an oversize model fails with an OOM here."""
    if not limit_gb:
        return
    vm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            vm = int(line.split()[1]) * 1024
    limit = vm + int(limit_gb * 1e9)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _timed_runs(generate, input_ids: torch.Tensor, cell: Cell) -> list[Run]:
    protocol, new_tokens = cell.protocol, cell.setting.new_tokens
    for _ in range(protocol.warmup):
        generate(input_ids, new_tokens)
    runs: list[Run] = []
    while len(runs) < protocol.repeats or sum(r.e2e_s for r in runs) < protocol.min_duration_s:
        runs.append(generate(input_ids, new_tokens))
    return runs


def _summarise(runs: list[Run], cell: Cell, metrics: Metrics) -> None:
    s = cell.setting
    prefill = Stats.of([r.prefill_s for r in runs])
    e2e = Stats.of([r.e2e_s for r in runs])
    metrics.generated_tokens = runs[0].generated_tokens
    metrics.prefill = Latency(latency_s=prefill, tokens_per_s=s.batch_size * s.prompt_tokens / prefill.median)
    metrics.e2e = Latency(latency_s=e2e, tokens_per_s=s.batch_size * s.new_tokens / e2e.median)
    per_token = [r.decode_per_token_s() for r in runs]
    if all(v is not None for v in per_token):
        stats = Stats.of(per_token)  # type: ignore[arg-type]
        metrics.decode = Decode(per_token_s=stats, tokens_per_s=s.batch_size / stats.median)


def measure(cell: Cell, outcome: Outcome, commit: str | None) -> None:
    """Load, warm up, time, then measure quality; fills `outcome` as it goes so a failure keeps
    what was measured."""
    s = cell.setting
    outcome.environment = environment.collect(s.device, commit).model_dump(mode="json")
    if os.environ.get(TEST_CRASH_ENV) == cell.model.slug:
        os.kill(os.getpid(), signal.SIGSEGV)
    if s.engine == "vllm":
        return _measure_vllm(cell, outcome)
    _limit_address_space(cell.memory_limit_gb if s.device == "cpu" else None)
    torch.manual_seed(cell.seed)
    outcome.model = {"source": cell.model.source}
    # A library quantization loads an arch model's random weights from a checkpoint folder,
    # written before memory is tracked (it stands for a checkpoint on disk).
    with random_checkpoint(cell.model, s.dtype, cell.seed, s.quantization, Path(cell.base_dir)) as folder:
        with track_memory(s.device) as memory:
            outcome.metrics.memory = memory
            loaded = load_model(
                cell.model, s.dtype, s.device, Path(cell.base_dir), s.quantization, folder, cell.seed
            )
            model = loaded.model
            outcome.model.update(
                config=config_dict(model), params=loaded.params.model_dump(), weight_bytes=weight_bytes(model)
            )
            outcome.metrics.load_s = loaded.load_s
            outcome.metrics.kernel = kernel(s.quantization, s.device)  # type: ignore[assignment]
            vocab = model.get_input_embeddings().num_embeddings
            gen = torch.Generator().manual_seed(cell.seed)
            input_ids = torch.randint(3, vocab, (s.batch_size, s.prompt_tokens), generator=gen).to(s.device)
            clock = clock_for(s.device)
            generate = make_generator(model, clock, s.engine, s.kv_cache, s.prompt_tokens + s.new_tokens)
            if s.engine == "compiled":  # compiling is its own figure, never inside a timed run
                start = time.perf_counter()
                generate(input_ids, s.new_tokens)
                clock.settle()
                outcome.metrics.compile_s = time.perf_counter() - start
            meter = EnergyMeter(s.device)
            runs: list[Run] = []
            with meter.track(lambda: sum(r.generated_tokens for r in runs) * s.batch_size) as energy:
                runs.extend(_timed_runs(generate, input_ids, cell))
            outcome.metrics.kv_cache = KVCache(
                measured_bytes=cache_bytes(generate.cache), positions=int(generate.cache.get_seq_length())
            )
        outcome.metrics.energy = energy
        _summarise(runs, cell, outcome.metrics)
        if outcome.metrics.generated_tokens != s.new_tokens:
            raise RuntimeError(
                f"generated {outcome.metrics.generated_tokens} tokens, asked for {s.new_tokens}"
            )
        held = [model]
        del generate, loaded, model
        # After the memory tracker closed: the float32 reference never counts in the cell's peak.
        try:
            outcome.metrics.quality = quality.measure(cell, held, folder)
        except Exception as exc:  # speed and memory stay measured; the quality block says why not
            if classify(exc) == "oom":
                raise
            outcome.metrics.quality = Quality(
                reason=f"quality not measured: {type(exc).__name__}: {exc}"[:500]
            )


def _measure_vllm(cell: Cell, outcome: Outcome) -> None:
    """The vllm engine: vLLM owns the weights and the KV cache (in its own worker process), so
    weight bytes, KV bytes and quality stay null with the reason; speed is timed from outside."""
    from bench.models import count_params, text_config
    from bench.roofline import config_from_dict
    from bench.vllm_engine import VLLMGenerator

    s = cell.setting
    outcome.model = {"source": cell.model.source}
    with track_memory(s.device) as memory:
        outcome.metrics.memory = memory
        generate = VLLMGenerator(cell)
        outcome.metrics.load_s = generate.load_s
        config = generate.llm.llm_engine.model_config.hf_config
        with torch.device("meta"):
            meta = transformers.AutoModelForCausalLM.from_config(config_from_dict(config.to_dict()))
        outcome.model.update(config=config_dict(meta), params=count_params(meta).model_dump())
        vocab = text_config(config).vocab_size
        gen = torch.Generator().manual_seed(cell.seed)
        input_ids = torch.randint(3, vocab, (s.batch_size, s.prompt_tokens), generator=gen)
        meter = EnergyMeter(s.device)
        runs: list[Run] = []
        with meter.track(lambda: sum(r.generated_tokens for r in runs) * s.batch_size) as energy:
            runs.extend(_timed_runs(generate, input_ids, cell))
    memory.reason = "vllm: its worker process holds the model; this process's figures exclude it"
    outcome.metrics.energy = energy
    outcome.metrics.kv_cache = KVCache(reason="vllm manages its own paged KV cache")
    outcome.metrics.quality = Quality(reason="vllm: quality is measured on the transformers engines")
    _summarise(runs, cell, outcome.metrics)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when its parent, the fork server, ends (Linux
    prctl): a fork server killed or stopped takes its cells with it."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: an orphaned cell runs to its end, unheard
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os.kill(os.getpid(), sig)


def watch_parent(lifeline) -> None:
    """End this process when the sweep is gone: `lifeline` is the read end of a pipe whose write
    end only the sweep holds, so EOF means the sweep ended (however it died). Runs in a thread.

    The fork server alone cannot tell: every cell holds its keep-alive pipe, so it outlives a
    killed sweep as long as a cell runs."""
    try:
        lifeline.recv()  # nothing is ever sent: returns only by EOF
    except (EOFError, OSError):
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def child_main(conn, cell: Cell, commit: str | None, lifeline=None) -> None:
    """Entry point of the cell's process: measure, then send the outcome (as JSON-safe data)."""
    die_with_parent()
    if lifeline is not None:
        threading.Thread(target=watch_parent, args=(lifeline,), name="lifeline", daemon=True).start()
    # Progress bars and advice printed from inside a cell would tear the sweep's own display;
    # what matters from a cell is its result (errors are recorded there with their traceback).
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    outcome = Outcome()
    try:
        measure(cell, outcome, commit)
    except BaseException as exc:  # a failure is a result: record it and send what was measured
        outcome.status = classify(exc)
        outcome.error = error_info(exc)
    payload = {
        "status": outcome.status,
        "error": outcome.error.model_dump() if outcome.error else None,
        "model": outcome.model,
        "metrics": outcome.metrics.model_dump(mode="json"),
        "environment": outcome.environment,
    }
    conn.send(payload)
    conn.close()
