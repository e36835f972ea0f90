"""Valid synthetic results, for tests and the report benchmark (never for the site itself).

The numbers follow a small roofline so the charts look like real ones: decode speed is memory
bandwidth over the bytes a step reads, memory is weights plus KV cache plus a fixed overhead,
cells that do not fit fail as OOM, and a share of cells are estimates for another GPU. Everything
comes from a seeded `random.Random`, so a seed always gives the same results.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from bench.configkeys import DTYPE_BYTES
from bench.schema import (
    CPUInfo,
    Decode,
    Energy,
    Environment,
    ErrorInfo,
    GPUInfo,
    Latency,
    Memory,
    Metrics,
    ModelInfo,
    Params,
    Protocol,
    Result,
    Roofline,
    Setting,
    Stats,
    slugify,
)

# (family, model_type, typical sizes in billions of parameters, share of weights active per token)
FAMILIES: tuple[tuple[str, str, tuple[float, ...], float], ...] = (
    ("Llama", "llama", (1.2, 3.2, 8.0, 70.0), 1.0),
    ("Gemma", "gemma2", (2.0, 9.0, 27.0), 1.0),
    ("Qwen", "qwen2", (0.5, 1.5, 7.0, 14.0, 32.0), 1.0),
    ("Mistral", "mistral", (7.0, 12.0, 24.0), 1.0),
    ("Mixtral", "mixtral", (46.7, 141.0), 0.28),
    ("OpenAI GPT", "gpt2", (0.124, 0.355, 0.774, 1.5), 1.0),
    ("Phi", "phi3", (3.8, 14.0), 1.0),
    ("SmolLM", "llama", (0.135, 0.36, 1.7), 1.0),
    ("DeepSeek", "deepseek_v2", (15.7,), 0.15),
)
QUANT_BYTES = {"int8": 1.06, "int4": 0.56}  # with per-group scales
# (dtype, quantization) pairs a synthetic model is measured at
PRECISIONS: tuple[tuple[str, str | None], ...] = (
    ("float32", None),
    ("bfloat16", None),
    ("float16", None),
    ("bfloat16", "int8"),
    ("bfloat16", "int4"),
)
BATCH_SIZES = (1, 2, 4, 8, 16)
PROMPT_TOKENS = (128, 512, 2048)
NEW_TOKENS = 64


@dataclass(frozen=True, eq=False)  # compared by identity: CPU, GPU, ESTIMATE
class Device:
    """A device the synthetic cells run on (or are estimated for)."""

    setting: str  # Setting.device
    suite: str
    bandwidth_bytes_per_s: float
    peak_flops: float
    memory_bytes: int
    overhead_bytes: int  # CUDA context or interpreter baseline
    environment: Environment


_CPU_ENV = Environment(
    gpuscape="0.1.0",
    python="3.11.7",
    torch="2.13.0+cpu",
    transformers="5.24.0",
    cpu=CPUInfo(model="Synthetic CPU", cores=2),
    host="synthetic",
)
_GPU_ENV = Environment(
    gpuscape="0.1.0",
    python="3.11.7",
    torch="2.13.0",
    transformers="5.24.0",
    cuda="12.8",
    driver="570.86",
    gpu=GPUInfo(name="NVIDIA H100 80GB HBM3", memory_bytes=85_000_000_000),
    cpu=CPUInfo(model="Synthetic Xeon", cores=16),
    host="synthetic-gpu",
)
CPU = Device("cpu", "synthetic-cpu", 2.0e10, 1.0e12, 24_000_000_000, 300_000_000, _CPU_ENV)
GPU = Device("cuda", "synthetic-gpu", 3.0e12, 7.0e14, 80_000_000_000, 600_000_000, _GPU_ENV)
ESTIMATE = Device("rtx-4090", "synthetic-estimate", 1.0e12, 1.6e14, 24_000_000_000, 500_000_000, _GPU_ENV)


@dataclass(frozen=True)
class _Model:
    info: ModelInfo
    kv_bytes_per_token: float  # at 2 bytes per value
    active_share: float


def _size_label(billions: float) -> str:
    return f"{billions * 1000:.0f}M" if billions < 1 else f"{billions:.3g}B"


def _models(n_models: int, rng: random.Random) -> list[_Model]:
    """n_models distinct models spread over the families, real sizes first, then random ones."""
    models: list[_Model] = []
    names: set[str] = set()
    for i in range(n_models):
        family, arch, sizes, active = FAMILIES[i % len(FAMILIES)]
        round_ = i // len(FAMILIES)
        billions = sizes[round_] if round_ < len(sizes) else 10 ** rng.uniform(-0.8, 1.9)
        name = f"{family} {_size_label(billions)}"
        while name in names:  # a random size can repeat a label
            name += "+"
        names.add(name)
        total = int(billions * 1e9)
        layers = 32 if total > 5e9 else 24
        hidden = max(64, round(math.sqrt(total / (12 * layers)) / 64) * 64)
        embedding = 32000 * hidden
        info = ModelInfo(
            name=name,
            slug=slugify(name),
            family=family,
            source=f"arch:{arch}",
            config={"model_type": arch, "hidden_size": hidden, "num_hidden_layers": layers},
            params=Params(total=total, active=int(total * active), embedding=embedding),
            weight_bytes=total * 2,
        )
        models.append(_Model(info, kv_bytes_per_token=1.6e-5 * total, active_share=active))
    return models


def _cell_id(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def _settings(device: Device, count: int, rng: random.Random) -> list[Setting]:
    """count distinct settings from the matrix, in a seeded random order (longer outputs once
    the matrix is used up, so cells never repeat)."""
    matrix = [
        (dtype, quant, batch, prompt)
        for dtype, quant in PRECISIONS
        for batch in BATCH_SIZES
        for prompt in PROMPT_TOKENS
    ]
    rng.shuffle(matrix)
    settings = []
    for i in range(count):
        dtype, quant, batch, prompt = matrix[i % len(matrix)]
        new_tokens = NEW_TOKENS * (1 + i // len(matrix))
        settings.append(
            Setting(
                device=device.setting,
                dtype=dtype,
                quantization=quant,
                batch_size=batch,
                prompt_tokens=prompt,
                new_tokens=new_tokens,
            )
        )
    return settings


def _bytes_per_param(setting: Setting) -> float:
    return QUANT_BYTES.get(setting.quantization or "", DTYPE_BYTES[setting.dtype])


def _stats(value: float, rng: random.Random, repeats: int) -> Stats:
    return Stats.of([value * rng.uniform(0.97, 1.05) for _ in range(repeats)])


def _result(
    model: _Model, device: Device, setting: Setting, index: int, rng: random.Random, failure_rate: float
) -> Result:
    estimated = device is ESTIMATE
    params = model.info.params
    assert params is not None
    weight_bytes = int(params.total * _bytes_per_param(setting))
    active_bytes = params.active * _bytes_per_param(setting)
    kv_scale = DTYPE_BYTES[setting.dtype] / 2
    context = setting.prompt_tokens + setting.new_tokens
    kv_bytes = model.kv_bytes_per_token * kv_scale * context * setting.batch_size
    peak_bytes = int(weight_bytes * 1.04 + kv_bytes + device.overhead_bytes)
    efficiency = 1.0 if estimated else rng.uniform(0.45, 0.85)
    step_s = (active_bytes + kv_bytes) / (device.bandwidth_bytes_per_s * efficiency)
    prefill_s = 2 * params.active * setting.batch_size * setting.prompt_tokens / (device.peak_flops * 0.4)
    bytes_per_token = active_bytes + kv_bytes / setting.batch_size
    bound = setting.batch_size * device.bandwidth_bytes_per_s / (active_bytes + kv_bytes)
    info = model.info.model_copy(update={"weight_bytes": weight_bytes})
    cell = _cell_id(device.suite, info.slug, setting.model_dump_json())
    common = {
        "cell": cell,
        "suite": device.suite,
        "method": "estimated" if estimated else "measured",
        "model": info,
        "setting": setting,
        "environment": device.environment,
        "started_at": f"2026-11-25T{3 + index // 3600 % 20:02d}:{index // 60 % 60:02d}:{index % 60:02d}Z",
        "protocol": None if estimated else Protocol(warmup=2, repeats=5, min_duration_s=0.0, timeout_s=600),
    }
    failure = _failure(peak_bytes, device, rng, failure_rate)
    if failure is not None:
        return Result(status=failure.type, error=failure.error, duration_s=2.0, **common)
    repeats = 1 if estimated else 5
    decode = _stats(step_s, rng, repeats)
    prefill = _stats(prefill_s, rng, repeats)
    e2e_s = prefill.median + (setting.new_tokens - 1) * decode.median
    memory = (
        Memory(estimated_bytes=peak_bytes)
        if estimated
        else Memory(peak_rss_bytes=peak_bytes, baseline_rss_bytes=device.overhead_bytes)
        if device is CPU
        else Memory(
            peak_process_bytes=peak_bytes,
            peak_reserved_bytes=int(peak_bytes * 0.95),
            peak_allocated_bytes=int(peak_bytes * 0.9),
        )
    )
    joules = None if device is not GPU else 350.0 * e2e_s * repeats
    tokens = setting.batch_size * setting.new_tokens
    metrics = Metrics(
        load_s=None if estimated else weight_bytes / 2e9 + rng.uniform(0.2, 0.6),
        generated_tokens=setting.new_tokens,
        prefill=Latency(
            latency_s=prefill, tokens_per_s=setting.batch_size * setting.prompt_tokens / prefill.median
        ),
        decode=Decode(per_token_s=decode, tokens_per_s=setting.batch_size / decode.median),
        e2e=Latency(latency_s=_stats(e2e_s, rng, repeats), tokens_per_s=tokens / e2e_s),
        memory=memory,
        energy=Energy(joules=joules, joules_per_token=joules / (tokens * repeats), source="nvml")
        if joules
        else Energy(reason="synthetic: no energy counter"),
        roofline=Roofline(
            hardware=device.setting,
            bytes_per_token=bytes_per_token,
            bound_tokens_per_s=bound,
            efficiency=(setting.batch_size / decode.median) / bound,
            fits=True,
            bandwidth_bytes_per_s=device.bandwidth_bytes_per_s,
            limit="memory",
        ),
    )
    return Result(status="ok", metrics=metrics, duration_s=e2e_s * (repeats + 2) + 1.0, **common)


@dataclass(frozen=True)
class _Failure:
    type: str
    error: ErrorInfo


def _failure(peak_bytes: int, device: Device, rng: random.Random, failure_rate: float) -> _Failure | None:
    """OOM where the cell cannot fit; otherwise a rare random error or timeout."""
    if peak_bytes > device.memory_bytes:
        message = f"needs {peak_bytes / 1e9:.1f} GB, {device.setting} has {device.memory_bytes / 1e9:.0f} GB"
        return _Failure("oom", ErrorInfo(type="OutOfMemoryError", message=message))
    if rng.random() < failure_rate:
        if rng.random() < 0.5:
            return _Failure("timeout", ErrorInfo(type="Timeout", message="cell ran past timeout_s=600"))
        return _Failure("error", ErrorInfo(type="RuntimeError", message="synthetic kernel failure"))
    return None


def _device_for(model: _Model, index: int, cells: int) -> Device:
    """Small models run on the CPU too; the last cells of a model are estimates for another GPU."""
    params = model.info.params
    assert params is not None
    if cells >= 4 and index >= cells - max(1, cells // 10):
        return ESTIMATE
    if params.total < 2e9 and index % 3 == 0:
        return CPU
    return GPU


def synthetic_results(
    n_cells: int = 1000, n_models: int = 50, seed: int = 0, *, failure_rate: float = 0.03
) -> list[Result]:
    """`n_cells` valid results over `n_models` models of several families, on a CPU and a GPU,
    with OOMs where a cell cannot fit, some random errors and timeouts, and about a tenth
    estimated for a third device. The same arguments always give the same results."""
    if n_models < 1 or n_cells < n_models:
        raise ValueError(f"need n_cells >= n_models >= 1, got {n_cells} cells for {n_models} models")
    rng = random.Random(seed)
    models = _models(n_models, rng)
    base, extra = divmod(n_cells, n_models)
    results: list[Result] = []
    for m, model in enumerate(models):
        cells = base + (1 if m < extra else 0)
        by_device: dict[Device, list[int]] = {}
        for i in range(cells):
            by_device.setdefault(_device_for(model, i, cells), []).append(i)
        for device, indices in by_device.items():
            for setting in _settings(device, len(indices), rng):
                results.append(_result(model, device, setting, len(results), rng, failure_rate))
    return results
