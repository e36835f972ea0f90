"""The result contract between bench and report: pydantic models and the metric registry.

Imports only pydantic and the standard library, so the report (and a docs-only machine)
can read results without torch. Bump SCHEMA_ID on any incompatible change and re-export
the JSON Schema with `python -m bench schema --write`.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from bench.safetext import check_name

SCHEMA_ID = "gpuscape.result/1"
SCHEMA_FILE = Path(__file__).with_name("result.schema.json")

Status = Literal["ok", "oom", "error", "timeout", "skipped"]  # skipped: its method is not installed
Method = Literal["measured", "estimated", "imported"]  # imported: another tool's file (report import)
NonNegative = Field(ge=0)

# Upper bounds of integer fields: what a value can mean, so a 400-digit count is refused at load
# time (one line naming the file and the field) instead of overflowing a chart.
MAX_PARAMS = 10**15  # parameters of one model
MAX_BATCH = 10**7  # sequences in one batch
MAX_TOKENS = 10**9  # tokens in one prompt or one generation
MAX_COUNT = 10**9  # repeats, warmup runs, samples
MAX_BYTES = 2**63  # exclusive: an int64 byte count
MAX_UNITS = 10**6  # CPU cores, GPUs in one machine
# A name shown on pages, in charts and in the terminal: no control or bidi characters.
Name = Annotated[str, AfterValidator(check_name)]
ByteCount = Annotated[int, Field(ge=0, lt=MAX_BYTES)]


class _Model(BaseModel):
    # NaN and inf are never valid measurements; unknown keys mean a different contract.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, protected_namespaces=())


class Stats(_Model):
    """Summary of repeated timings, in the unit of the field that holds it (seconds)."""

    n: int = Field(ge=1, le=MAX_COUNT)
    mean: float = NonNegative
    median: float = NonNegative
    p90: float = NonNegative
    p99: float = NonNegative
    stdev: float = NonNegative
    min: float = NonNegative
    max: float = NonNegative
    values: list[float] = Field(min_length=1)

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        """Summarise raw values (at least one)."""
        ordered = sorted(values)
        return cls(
            n=len(ordered),
            mean=statistics.fmean(ordered),
            median=statistics.median(ordered),
            p90=_percentile(ordered, 0.90),
            p99=_percentile(ordered, 0.99),
            stdev=statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
            min=ordered[0],
            max=ordered[-1],
            values=list(values),
        )


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of sorted values."""
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class Params(_Model):
    total: int = Field(ge=0, lt=MAX_PARAMS)
    active: int = Field(ge=0, lt=MAX_PARAMS)  # per token: MoE counts shared weights plus top-k experts
    embedding: int = Field(ge=0, lt=MAX_PARAMS)


class ModelInfo(_Model):
    name: Name = Field(min_length=1)
    slug: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    family: Name = Field(min_length=1)
    source: Name  # "arch:llama", "path:...", "hub:...", "package:..."
    config: dict[str, Any] = Field(default_factory=dict)
    params: Params | None = None
    weight_bytes: ByteCount | None = None

    @field_validator("config")
    @classmethod
    def _bounded_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        where = first_path(config, _is_huge_int)
        if where is not None:
            raise ValueError(f"{where}: an integer beyond 64 bits means nothing in a model config")
        return config


def _is_huge_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -MAX_BYTES <= value < MAX_BYTES


def first_path(value: Any, match: Callable[[Any], bool], where: str = "") -> str | None:
    """The dotted path ('a.b[2]') of the first value inside a parsed JSON document that `match`
    accepts ('' for the document itself), or None when there is none."""
    if match(value):
        return where
    items: Any
    if isinstance(value, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for child_where, child in items:
        found = first_path(child, match, child_where)
        if found is not None:
            return found
    return None


class Setting(_Model):
    device: Name  # "cpu", "cuda", "cuda:1"; for estimates the catalog's hardware id
    dtype: Name
    quantization: Name | None = None
    engine: Name = "eager"  # eager | static | compiled | vllm (bench.methods); older files: eager
    kv_cache: Name = "model"  # model | fp8 | int4 | int2: the KV cache's storage; older files: model
    batch_size: int = Field(ge=1, lt=MAX_BATCH)
    prompt_tokens: int = Field(ge=1, lt=MAX_TOKENS)
    new_tokens: int = Field(ge=1, lt=MAX_TOKENS)


class Latency(_Model):
    latency_s: Stats | None = None
    tokens_per_s: float | None = Field(default=None, ge=0)


class Decode(_Model):
    per_token_s: Stats | None = None
    tokens_per_s: float | None = Field(default=None, ge=0)


class Memory(_Model):
    peak_allocated_bytes: ByteCount | None = None  # torch.cuda.max_memory_allocated
    peak_reserved_bytes: ByteCount | None = None  # torch.cuda.max_memory_reserved
    peak_process_bytes: ByteCount | None = None  # NVML, this process, sampled
    peak_device_bytes: ByteCount | None = None  # NVML, whole device, sampled
    peak_rss_bytes: ByteCount | None = None  # CPU: the cell's peak resident set
    baseline_rss_bytes: ByteCount | None = None  # CPU: resident set before loading
    estimated_bytes: ByteCount | None = None  # method=estimated: weights+KV+activations
    reason: str | None = None  # why a GPU figure is missing


class Energy(_Model):
    joules: float | None = Field(default=None, ge=0)
    joules_per_token: float | None = Field(default=None, ge=0)
    source: str | None = None  # "nvml", "rapl"
    reason: str | None = None


class Roofline(_Model):
    hardware: str | None = None  # catalog id or "this-cpu"
    bytes_per_token: float | None = Field(default=None, ge=0)  # read per decode step, per sequence
    flops_per_token: float | None = Field(default=None, ge=0)
    bound_tokens_per_s: float | None = Field(default=None, ge=0)
    efficiency: float | None = Field(default=None, ge=0)  # measured / bound; > 1 means something is wrong
    fits: bool | None = None
    reason: str | None = None
    # What the bound was computed from, so a CPU's probed figures stay with its results.
    bandwidth_bytes_per_s: float | None = Field(default=None, gt=0)
    peak_flops: float | None = Field(default=None, gt=0)  # at the matmuls' compute dtype
    limit: Literal["memory", "compute"] | None = None  # the term that binds the decode step


class KVCache(_Model):
    """The KV cache after the last timed run: bytes its tensors held, beside the roofline's count."""

    measured_bytes: int | None = Field(default=None, ge=0)  # summed over the cache object's tensors
    estimated_bytes: int | None = Field(default=None, ge=0)  # bench.roofline at the same positions
    positions: int | None = Field(default=None, ge=0)  # per sequence, when it was measured
    reason: str | None = None


class Quality(_Model):
    """How far a cell moves the model's next-token distributions from the same weights at float32
    with nothing quantized, on a fixed seeded token stream (teacher-forced through the cell's cache)."""

    kl_mean: float | None = Field(default=None, ge=0)  # nats per token, KL(reference || cell)
    kl_p99: float | None = Field(default=None, ge=0)
    top1_agreement: float | None = Field(default=None, ge=0, le=1)  # share of equal argmax tokens
    perplexity: float | None = Field(default=None, ge=1)  # real checkpoints, on a shipped text
    perplexity_text: str | None = None  # which text, for the reader
    tokens: int | None = Field(default=None, ge=0)  # positions compared
    reference: str | None = None  # what the cell was compared with
    reason: str | None = None  # why a figure is missing


class Metrics(_Model):
    load_s: float | None = Field(default=None, ge=0)
    compile_s: float | None = Field(default=None, ge=0)  # engine compiled: the first, untimed generation
    kernel: Literal["reference"] | None = None  # a reference kernel: its speed is not representative
    generated_tokens: int | None = Field(
        default=None, ge=0, lt=MAX_TOKENS
    )  # per sequence, checked == new_tokens
    prefill: Latency = Field(default_factory=Latency)
    decode: Decode = Field(default_factory=Decode)
    e2e: Latency = Field(default_factory=Latency)
    memory: Memory = Field(default_factory=Memory)
    energy: Energy = Field(default_factory=Energy)
    roofline: Roofline = Field(default_factory=Roofline)
    kv_cache: KVCache | None = None
    quality: Quality | None = None


class ErrorInfo(_Model):
    type: str
    message: str
    traceback: str | None = None


class GPUInfo(_Model):
    name: Name
    memory_bytes: ByteCount | None = None
    count: int = Field(default=1, ge=1, lt=MAX_UNITS)


class CPUInfo(_Model):
    model: Name | None = None
    cores: int | None = Field(default=None, ge=1, lt=MAX_UNITS)
    memory_bytes: ByteCount | None = None  # the machine's RAM: the fit matrix's CPU capacity


class Environment(_Model):
    gpuscape: str
    git_commit: str | None = None
    python: str | None = None
    torch: str | None = None
    transformers: str | None = None
    cuda: str | None = None
    driver: str | None = None
    gpu: GPUInfo | None = None
    cpu: CPUInfo | None = None
    host: Name | None = None
    platform: str | None = None
    node: str | None = None  # the node that ran the cell: Slurm's node name on a cluster, else the host
    slurm_job_id: str | None = None  # e.g. "4711_3" (array job 4711, task 3); null outside Slurm


class Protocol(_Model):
    """How the cell was measured, so a reader can judge the statistics."""

    warmup: int = Field(ge=0, le=MAX_COUNT)
    repeats: int = Field(ge=1, le=MAX_COUNT)
    min_duration_s: float = NonNegative
    timeout_s: float = Field(gt=0)


class Source(_Model):
    """Where an imported result came from: the tool, its version, the file and the record in it."""

    # Shown on pages and in the terminal like any name: no control or bidi characters.
    tool: Name = Field(min_length=1)  # "optimum-benchmark", "vllm", "llama-bench", "guidellm"
    version: Name | None = None  # as the file records it; null where the file has none
    file: Name = Field(min_length=1)  # the file's name as given to `report import`
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")  # of the whole file
    records: list[Annotated[int, Field(ge=0, lt=MAX_COUNT)]] = Field(min_length=1)  # the file's records here
    kind: Name | None = None  # the tool's own name for the measurement ("latency", "serve", "tg")
    # The tool's own figures that have no field of the same definition here, by the tool's name.
    reported: dict[Name, float] = Field(default_factory=dict)
    # Why a field is null, or how it was obtained from the tool's figures, by dotted field path.
    notes: dict[Name, Name] = Field(default_factory=dict)


class Result(_Model):
    schema_: Literal["gpuscape.result/1"] = Field(default=SCHEMA_ID, alias="schema")
    cell: str = Field(pattern=r"^[0-9a-f]{10}$")
    suite: Name = Field(min_length=1)
    status: Status
    error: ErrorInfo | None = None
    method: Method = "measured"
    model: ModelInfo
    setting: Setting
    protocol: Protocol | None = None
    metrics: Metrics = Field(default_factory=Metrics)
    environment: Environment
    source: Source | None = None  # method=imported: the tool's file this result was read from
    started_at: str  # ISO 8601, UTC
    duration_s: float = NonNegative

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    def to_json(self) -> str:
        """Serialise with the `schema` key first, as the contract shows it."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a result file, as committed in bench/result.schema.json."""
    schema = Result.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- names

_SLUG_DROP = re.compile(r"[^a-z0-9._-]+")


def slugify(name: str, *, max_len: int = 64) -> str:
    """A path-safe, lowercase slug: letters, digits, '.', '_' and '-', never '.' or '..' alone."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_name.lower()).strip("-._")
    slug = re.sub(r"-{2,}", "-", slug)[:max_len].strip("-._")
    return slug or "model"


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    """One measured or derived quantity, described once for axes, tables and pages."""

    id: str
    label: str
    unit: str  # display unit after `scale` is applied
    log: bool  # plot on a log axis by default
    better: Literal["higher", "lower"] | None
    description: str  # how it is measured (the methodology page prints this)
    get: Callable[[Result], float | int | None]
    scale: float = 1.0  # multiply the raw value for display (bytes -> GiB, GB)
    cpu_label: str | None = None  # a different name where the result ran on a CPU

    def value(self, result: Result) -> float | None:
        """The raw value of this metric for one result, or None when absent."""
        try:
            raw = self.get(result)
        except AttributeError:
            return None
        return None if raw is None else float(raw)

    def display(self, result: Result) -> float | None:
        """The value in display units (for axes and tables)."""
        raw = self.value(result)
        return None if raw is None else raw * self.scale

    def title(self, device_kind: str | None = None) -> str:
        """Axis title with unit; device_kind "cpu" picks the CPU name where there is one."""
        label = self.cpu_label if device_kind == "cpu" and self.cpu_label else self.label
        return f"{label} ({self.unit})" if self.unit else label


GB = 1e-9
GiB = 1 / 2**30  # memory sizes are binary, as GPUs are sized ("80GB" is 80 GiB of HBM)


def device_kind(result: Result) -> str:
    """'cpu' or 'gpu', from where the cell ran or what hardware an estimate is for."""
    return "cpu" if result.setting.device.startswith("cpu") else "gpu"


def peak_memory_bytes(result: Result) -> int | None:
    """The memory a cell needed: NVML per-process on GPU (falling back to the allocator),
    the peak resident set on CPU, the modelled total for estimates."""
    mem = result.metrics.memory
    if result.method == "estimated":
        return mem.estimated_bytes
    if device_kind(result) == "cpu":
        return mem.peak_rss_bytes
    for value in (mem.peak_process_bytes, mem.peak_reserved_bytes, mem.peak_allocated_bytes):
        if value is not None:
            return value
    return None


def _stat(path: Callable[[Result], Stats | None], field: str = "median") -> Callable[[Result], float | None]:
    def get(result: Result) -> float | None:
        stats = path(result)
        return None if stats is None else getattr(stats, field)

    return get


METRICS: dict[str, Metric] = {
    m.id: m
    for m in [
        Metric(
            "params_total",
            "Parameters",
            "",
            True,
            None,
            "All weights of the model, counted from its modules after loading (tied weights once).",
            lambda r: r.model.params.total,
        ),
        Metric(
            "params_active",
            "Active parameters",
            "",
            True,
            None,
            "Weights used for one token: for a mixture of experts, the shared weights plus the "
            "top-k routed experts; otherwise all parameters.",
            lambda r: r.model.params.active,
        ),
        Metric(
            "params_embedding",
            "Embedding parameters",
            "",
            True,
            None,
            "Weights of the input token embedding (and of an untied output head).",
            lambda r: r.model.params.embedding,
        ),
        Metric(
            "weight_bytes",
            "Weight memory",
            "GiB",
            True,
            "lower",
            "Bytes of every parameter and buffer at the cell's dtype and quantization.",
            lambda r: r.model.weight_bytes,
            scale=GiB,
        ),
        Metric(
            "peak_memory",
            "GPU memory",
            "GiB",
            False,
            "lower",
            "On GPU, the process's peak memory as NVML reports it, sampled in the background "
            "(torch's peak reserved bytes where NVML cannot see processes); on CPU, the cell "
            "process's peak resident set size; for estimates, weights plus KV cache plus activations.",
            peak_memory_bytes,
            scale=GiB,
            cpu_label="Peak RSS",
        ),
        Metric(
            "load_s",
            "Load time",
            "s",
            True,
            "lower",
            "Wall time to build or load the model onto the device, once per cell.",
            lambda r: r.metrics.load_s,
        ),
        Metric(
            "prefill_latency",
            "Prefill latency",
            "s",
            True,
            "lower",
            "Time to first token: the forward pass over the whole prompt batch plus picking the "
            "first new token; median over repeats.",
            _stat(lambda r: r.metrics.prefill.latency_s),
        ),
        Metric(
            "prefill_tokens_per_s",
            "Prefill throughput",
            "tok/s",
            True,
            "higher",
            "Prompt tokens processed per second in prefill (batch x prompt tokens / median latency).",
            lambda r: r.metrics.prefill.tokens_per_s,
        ),
        Metric(
            "decode_per_token",
            "Decode latency per token",
            "s",
            True,
            "lower",
            "Time per generated token after the first, with the KV cache; median over repeats.",
            _stat(lambda r: r.metrics.decode.per_token_s),
        ),
        Metric(
            "decode_tokens_per_s",
            "Decode throughput",
            "tok/s",
            True,
            "higher",
            "Tokens generated per second after the first, summed over the batch "
            "(batch / median per-token latency).",
            lambda r: r.metrics.decode.tokens_per_s,
        ),
        Metric(
            "e2e_latency",
            "End-to-end latency",
            "s",
            True,
            "lower",
            "Prefill plus all decode steps for the fixed output length; median over repeats.",
            _stat(lambda r: r.metrics.e2e.latency_s),
        ),
        Metric(
            "e2e_tokens_per_s",
            "End-to-end throughput",
            "tok/s",
            True,
            "higher",
            "New tokens over the whole batch per second of end-to-end latency.",
            lambda r: r.metrics.e2e.tokens_per_s,
        ),
        Metric(
            "joules_per_token",
            "Energy per token",
            "J/token",
            True,
            "lower",
            "Energy counter delta over the timed runs (NVML total energy on GPU, RAPL on CPU) "
            "divided by the new tokens generated in them.",
            lambda r: r.metrics.energy.joules_per_token,
        ),
        Metric(
            "bytes_per_token",
            "Bytes read per token",
            "GB",
            True,
            "lower",
            "Bytes one decode step reads, divided by the batch: the active weights (read once for "
            "the whole batch) plus each sequence's KV cache at the mean decode context "
            "(prompt + new tokens / 2).",
            lambda r: r.metrics.roofline.bytes_per_token,
            scale=GB,
        ),
        Metric(
            "roofline_bound",
            "Roofline bound",
            "tok/s",
            True,
            "higher",
            "Decode tokens/s the hardware allows: the lower of memory bandwidth / bytes read per "
            "step and peak FLOP/s / FLOPs per step, times the batch.",
            lambda r: r.metrics.roofline.bound_tokens_per_s,
        ),
        Metric(
            "roofline_efficiency",
            "Roofline efficiency",
            "%",
            False,
            "higher",
            "Measured decode tokens/s as a share of the roofline bound (over 100 % means the "
            "measurement or the model is wrong).",
            lambda r: r.metrics.roofline.efficiency,
            scale=100.0,
        ),
        Metric(
            "quality_kl",
            "KL divergence from float32",
            "nats/token",
            True,
            "lower",
            "Mean KL(reference || cell) of the next-token distributions on a fixed seeded token stream "
            "(32 tokens read as a prompt, then 32 teacher-forced decode steps through the cell's engine "
            "and KV cache); the reference is the same weights at float32, eager, nothing quantized.",
            lambda r: r.metrics.quality.kl_mean if r.metrics.quality else None,
        ),
        Metric(
            "top1_agreement",
            "Top-1 agreement with float32",
            "%",
            False,
            "higher",
            "Share of the stream's positions where the cell's most likely next token is the float32 "
            "reference's (random-weight models have flat distributions, so this falls fast there).",
            lambda r: r.metrics.quality.top1_agreement if r.metrics.quality else None,
            scale=100.0,
        ),
        Metric(
            "perplexity",
            "Perplexity",
            "",
            True,
            "lower",
            "exp(mean negative log-likelihood) of the second half of a shipped public-domain text given "
            "the first, teacher-forced through the cell's engine and KV cache; real checkpoints only.",
            lambda r: r.metrics.quality.perplexity if r.metrics.quality else None,
        ),
        Metric(
            "compile_s",
            "Compile time",
            "s",
            True,
            "lower",
            "Engine compiled: wall time of the first, untimed generation, in which torch.compile "
            "traces and compiles the decode step (inductor's cache is kept between cells).",
            lambda r: r.metrics.compile_s,
        ),
        Metric(
            "kv_cache_bytes",
            "KV cache held",
            "GiB",
            True,
            "lower",
            "Bytes the KV cache object held after the last timed run (quantized states, scales and "
            "full-precision residual windows included; a static cache counts every allocated position).",
            lambda r: r.metrics.kv_cache.measured_bytes if r.metrics.kv_cache else None,
            scale=GiB,
        ),
        Metric(
            "batch_size",
            "Batch size",
            "",
            True,
            None,
            "Sequences generated together.",
            lambda r: r.setting.batch_size,
        ),
        Metric(
            "prompt_tokens",
            "Prompt tokens",
            "",
            True,
            None,
            "Tokens in each prompt (random ids, fixed seed).",
            lambda r: r.setting.prompt_tokens,
        ),
        Metric(
            "new_tokens",
            "New tokens",
            "",
            True,
            None,
            "Tokens generated per sequence; fixed, greedy, no early stop.",
            lambda r: r.setting.new_tokens,
        ),
    ]
}


def metric(metric_id: str) -> Metric:
    """Look up a metric by id, with the valid ids in the error."""
    try:
        return METRICS[metric_id]
    except KeyError:
        raise KeyError(f"unknown metric {metric_id!r}; known: {', '.join(METRICS)}") from None
