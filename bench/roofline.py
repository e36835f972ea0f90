"""The roofline: what a model could do on a device at most, and how close a measurement comes.

Decode is bound by memory: every step reads the active weights once for the whole batch, plus each
sequence's KV cache. It is also bound by compute: 2 FLOPs per active matmul weight per token, plus
attention. A step takes at least max(bytes / bandwidth, FLOPs / peak), so

    decode tokens/s <= batch / max(step bytes / bandwidth, step FLOPs / peak FLOP/s).

Prefill is the same sum over the whole prompt (there compute dominates). The model side is counted
from the real transformers module tree built on the meta device (no memory, a 70B config in about a
second); the hardware side comes from bench.hardware. Pure arithmetic below `model_shape`.

Choices that keep the bound an upper bound (a measurement above it means something is wrong):
- the input embedding is a gather: a step reads one row per token, not the table (the output head,
  tied or not, is a full matmul and is read whole);
- quantized schemes quantize every matmul weight except the output head (as bench.quant does);
- a mixture of experts reads the experts its batch routes to: top-k for one token, and under uniform
  routing the expected number of distinct experts, E * (1 - (1 - k/E)^tokens), for a batch;
- attention kernels are assumed fused (SDPA): no score matrix is read or written;
- context per decode step is the mean over the timed steps, prompt + new_tokens / 2.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bench import configkeys, hardware
from bench.hardware import CPU_ID, Hardware
from bench.schema import Params, Result, Roofline, Setting

if TYPE_CHECKING:
    from transformers import PretrainedConfig

log = logging.getLogger(__name__)

DTYPE_BITS = {d: int(8 * configkeys.DTYPE_BYTES[d]) for d in ("float32", "float16", "bfloat16")}


# --------------------------------------------------------------------------- quantization schemes


@dataclass(frozen=True)
class Scheme:
    """How a quantization stores matmul weights and the KV cache, and what its matmuls run at."""

    name: str
    description: str
    weight_bits: int | None = None  # None: matmul weights stay at the model dtype
    group_size: int | None = None  # weights that share one group scale
    group_meta_bits: int = 0  # scale + zero-point bits stored per group
    channel_scale: bool = False  # one scale per output channel, at the model dtype
    kv_bits: int | None = None  # None: the KV cache stays at the model dtype
    kv_meta_bits: int = 0  # scale + zero-point bits per head, per token, for K and for V each
    compute: str | None = None  # the peak the matmuls run at; None: the model dtype's

    def matmul_bytes(self, numel: float, rows: float, dtype_bits: int) -> float:
        """Bytes of `numel` matmul weights with `rows` output channels, scales included."""
        if self.weight_bits is None:
            return numel * dtype_bits / 8
        bits = numel * self.weight_bits
        if self.group_size:
            bits += numel / self.group_size * self.group_meta_bits
        if self.channel_scale:
            bits += rows * dtype_bits
        return bits / 8

    def kv_bytes(self, values: float, head_dim: int, dtype_bits: int) -> float:
        """Bytes of `values` cached key or value numbers (head_dim of them share a scale)."""
        if self.kv_bits is None:
            return values * dtype_bits / 8
        return (values * self.kv_bits + values / head_dim * self.kv_meta_bits) / 8

    def compute_dtype(self, dtype: str) -> str:
        return self.compute or dtype


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in [
        Scheme("none", "weights, activations and KV cache at the model dtype"),
        Scheme(
            "int8",
            "weight-only int8 with one scale per output channel (torchao's Int8WeightOnlyConfig, "
            "bench.quant); activations and KV cache at the model dtype",
            weight_bits=8,
            channel_scale=True,
        ),
        Scheme(
            "int4",
            "weight-only 4-bit in groups of 128 with a 16-bit scale and a 16-bit zero point per group "
            "(torchao's int4 layouts; AWQ/GPTQ-style W4A16); activations and KV cache at the model dtype",
            weight_bits=4,
            group_size=128,
            group_meta_bits=16 + 16,
        ),
        Scheme(
            "nf4",
            "bitsandbytes NF4: 4-bit normal-float weights in blocks of 64 with a float32 absmax per "
            "block; activations and KV cache at the model dtype",
            weight_bits=4,
            group_size=64,
            group_meta_bits=32,
        ),
        Scheme(
            "w8a8",
            "int8 weights with one scale per output channel and int8 activations per token "
            "(torchao's Int8DynamicActivationInt8WeightConfig): matmuls at the INT8 peak",
            weight_bits=8,
            channel_scale=True,
            compute="int8",
        ),
        Scheme(
            "w4a8",
            "4-bit weights in groups of 128 with a 16-bit scale and an 8-bit zero per group, int8 "
            "activations per token (torchao's Int8DynamicActivationIntxWeightConfig; on x86 and CUDA "
            "torchao keeps the 4-bit values in int8, so a measured cell holds twice these bytes)",
            weight_bits=4,
            group_size=128,
            group_meta_bits=16 + 8,
            compute="int8",
        ),
        Scheme(
            "qoq",
            "W4A8KV4 as in QServe's QoQ: 4-bit weights with a per-channel scale and per-group (128) "
            "8-bit scale and 4-bit zero; 8-bit activations, so matmuls run at the INT8 peak; "
            "4-bit KV cache with a 16-bit scale and zero per head and token",
            weight_bits=4,
            group_size=128,
            group_meta_bits=8 + 4,
            channel_scale=True,
            kv_bits=4,
            kv_meta_bits=16 + 16,
            compute="int8",
        ),
    ]
}


def scheme(quantization: str | None) -> Scheme:
    """The scheme of a setting's quantization (None means none)."""
    name = quantization or "none"
    try:
        return SCHEMES[name]
    except KeyError:
        raise KeyError(f"unknown quantization {name!r}; the roofline knows {', '.join(SCHEMES)}") from None


# KV cache storage (setting.kv_cache) -> (bits per value, scale + zero bits per head and token).
# fp8: one scale per tensor (transformers' fp8 backend); int4/int2: quanto's groups with a 16-bit
# scale and shift each, counted per head_dim values.
KV_STORAGE: dict[str, tuple[int, int]] = {"fp8": (8, 0), "int4": (4, 16 + 16), "int2": (2, 16 + 16)}


def scheme_for(setting: Setting) -> Scheme:
    """The scheme of a setting: its quantization, with the KV cache's storage where it sets one."""
    base = scheme(setting.quantization)
    if setting.kv_cache in (None, "model"):
        return base
    bits, meta = KV_STORAGE[setting.kv_cache]
    return replace(base, kv_bits=bits, kv_meta_bits=meta)


# --------------------------------------------------------------------------- the model's shape


@dataclass(frozen=True)
class LayerAttention:
    heads: int
    kv_heads: int
    head_dim: int
    window: int | None  # sliding window: at most this many positions attended and cached
    latent: int | None = None  # MLA: values cached per position (keys and values share one latent)

    def positions(self, context: float) -> float:
        """Positions attended (and cached) at this context length."""
        return context if self.window is None else min(context, self.window)


@dataclass(frozen=True)
class ModelShape:
    """Parameter counts grouped by how a forward pass reads them, and each layer's attention.

    matmul + routed + head + gathered + other == params.total."""

    params: Params
    matmul: int  # dense matmul weights (every Linear and Conv1D but the output head)
    matmul_rows: int  # their output channels, for per-channel scales
    routed: int  # routed expert weights, all experts of all MoE layers
    routed_rows: int
    experts: int  # routed experts per MoE layer (1 for a dense model)
    top_k: int  # experts each token uses
    head: int  # output head (the input embedding when tied), at the model dtype
    gathered: int  # tables a token reads one row of: untied input embedding, learned positions
    gathered_row: int  # values read from those tables per token
    other: int  # norms and biases: read whole every pass, at the model dtype
    hidden: int
    mlp_width: int  # MLP intermediate values per token (top-k experts' for a MoE)
    vocab: int
    layers: tuple[LayerAttention, ...]

    @property
    def routed_active(self) -> float:
        """Routed weights one token multiplies by: top-k of E."""
        return self.routed * self.top_k / self.experts if self.routed else 0.0

    def routed_fraction_read(self, tokens: float) -> float:
        """Share of the routed weights a pass over `tokens` tokens reads, under uniform routing."""
        if not self.routed:
            return 0.0
        return 1.0 - (1.0 - self.top_k / self.experts) ** tokens

    def kv_bytes_per_position(self, scheme: Scheme, dtype_bits: int) -> list[float]:
        """Bytes one cached position costs in each layer: keys and values."""
        return [
            scheme.kv_bytes(layer.latent, layer.latent, dtype_bits)
            if layer.latent
            else 2 * scheme.kv_bytes(layer.kv_heads * layer.head_dim, layer.head_dim, dtype_bits)
            for layer in self.layers
        ]


def model_shape(config: PretrainedConfig) -> ModelShape:
    """Count a config's weights by kind on the meta device (no memory) and read its attention."""
    return _shape_cached(json.dumps(config.to_dict(), sort_keys=True, default=str))


@lru_cache(maxsize=64)
def _shape_cached(config_json: str) -> ModelShape:
    import torch
    from transformers import AutoModelForCausalLM

    from bench.models import count_params, text_config

    config = config_from_dict(json.loads(config_json))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = count_params(model)
    counts = _count_weights(model)
    cfg = text_config(config)
    moe = counts["routed"] > 0
    experts = (configkeys.experts(cfg) or 1) if moe else 1
    top_k = (configkeys.experts_per_token(cfg) or 1) if moe else 1
    width = (
        configkeys.positive_int(cfg, *configkeys.EXPERT_INTERMEDIATE, *configkeys.INTERMEDIATE)
        or 4 * cfg.hidden_size
    )
    return ModelShape(
        params=params,
        other=params.total - sum(counts[k] for k in ("matmul", "routed", "gathered", "head")),
        experts=experts,
        top_k=top_k,
        hidden=cfg.hidden_size,
        mlp_width=width * top_k,
        vocab=cfg.vocab_size,
        layers=attention_layers(cfg),
        **counts,
    )


def _count_weights(model) -> dict[str, int]:
    """Weights by how a pass reads them; each tensor once (tied weights appear under two names)."""
    import torch
    from transformers.pytorch_utils import Conv1D

    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    counts = dict.fromkeys(
        ("matmul", "matmul_rows", "routed", "routed_rows", "head", "gathered", "gathered_row"), 0
    )
    claimed: set[int] = set()
    if head is not None:
        counts["head"] = head.weight.numel()
        claimed.add(id(head.weight))
        if head.weight is embed.weight:  # tied: the lookup is a gather of the head's table
            counts["gathered_row"] += embed.weight.shape[1]
    for name, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if id(p) in claimed:
                continue
            if ".experts." in f".{name}.{pname}." and p.dim() >= 2:
                counts["routed"] += p.numel()
                counts["routed_rows"] += p.numel() // p.shape[-1]  # F.linear(x, W[e]): last dim is in
            elif isinstance(module, torch.nn.Embedding) and pname == "weight":
                counts["gathered"] += p.numel()
                counts["gathered_row"] += p.shape[1]
            elif isinstance(module, (torch.nn.Linear, Conv1D)) and pname == "weight":
                counts["matmul"] += p.numel()
                counts["matmul_rows"] += (
                    module.out_features if isinstance(module, torch.nn.Linear) else module.nf
                )
            else:
                continue  # norms and biases: "other"
            claimed.add(id(p))
    return counts


def attention_layers(cfg: PretrainedConfig) -> tuple[LayerAttention, ...]:
    """Each layer's heads, KV heads, head size and sliding window, as transformers' cache sees them.

    Multi-head latent attention (DeepSeek-V2/V3: a config with kv_lora_rank) caches one compressed
    latent of kv_lora_rank + qk_rope_head_dim values per position and layer, not heads x head_dim
    keys and values (transformers' own implementation caches the decompressed keys and values;
    the roofline counts what an MLA kernel keeps, as vLLM and SGLang do)."""
    from transformers.cache_utils import get_layer_types_and_kwargs

    heads = cfg.num_attention_heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    latent = None
    if getattr(cfg, "kv_lora_rank", None):
        latent = cfg.kv_lora_rank + cfg.qk_rope_head_dim
        head_dim = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim  # queries and keys per head
    layer_types, kwargs = get_layer_types_and_kwargs(cfg)
    layers = []
    for layer_type, extra in zip(layer_types, kwargs, strict=True):
        if layer_type == "dummy":  # no attention or a shared cache: nothing cached or read here
            continue
        layers.append(LayerAttention(heads, kv_heads, head_dim, extra.get("sliding_window"), latent))
    return tuple(layers)


def config_from_dict(data: dict[str, Any]) -> PretrainedConfig:
    """Rebuild a transformers config from its to_dict() form (as result files store it)."""
    from transformers import AutoConfig

    data = dict(data)
    data.pop("quantization_config", None)  # how a checkpoint was quantized; the setting says it here
    model_type = data.pop("model_type", None)
    if not model_type:
        raise ValueError("the config has no model_type")
    return AutoConfig.for_model(model_type, **data)


# --------------------------------------------------------------------------- costs


@dataclass(frozen=True)
class Work:
    """What one forward pass moves and computes, and the least time it can take on a device."""

    bytes: float
    flops: float
    compute: str  # which peak the matmuls run at

    def seconds(self, hw: Hardware) -> tuple[float, str]:
        """(lower bound on time, "memory" or "compute": the term that binds)."""
        memory_s = self.bytes / hw.bandwidth_for(self.bytes)
        peak = hw.peak(self.compute)
        compute_s = self.flops / peak if peak else 0.0
        return (compute_s, "compute") if compute_s > memory_s else (memory_s, "memory")


def weight_bytes_read(shape: ModelShape, sch: Scheme, dtype: str, tokens: float) -> float:
    """Weight bytes a pass over `tokens` tokens reads: each weight once, whatever the batch."""
    bits = DTYPE_BITS[dtype]
    routed = sch.matmul_bytes(shape.routed, shape.routed_rows, bits) * shape.routed_fraction_read(tokens)
    return (
        sch.matmul_bytes(shape.matmul, shape.matmul_rows, bits)
        + routed
        + (shape.head + shape.other + tokens * shape.gathered_row) * bits / 8
    )


def weight_bytes_stored(shape: ModelShape, sch: Scheme, dtype: str) -> float:
    """Bytes all weights take in memory at the dtype and quantization."""
    bits = DTYPE_BITS[dtype]
    return (
        sch.matmul_bytes(shape.matmul, shape.matmul_rows, bits)
        + sch.matmul_bytes(shape.routed, shape.routed_rows, bits)
        + (shape.head + shape.gathered + shape.other) * bits / 8
    )


def kv_cache_bytes(shape: ModelShape, sch: Scheme, dtype: str, batch: int, positions: float) -> float:
    """KV cache of `batch` sequences of `positions` positions (sliding layers keep their window)."""
    per_position = shape.kv_bytes_per_position(sch, DTYPE_BITS[dtype])
    return batch * sum(
        b * layer.positions(positions) for b, layer in zip(per_position, shape.layers, strict=True)
    )


def matmul_flops_per_token(shape: ModelShape) -> float:
    """2 FLOPs (multiply, add) per weight a token multiplies by, output head included."""
    return 2 * (shape.matmul + shape.routed_active + shape.head)


def decode_step(shape: ModelShape, sch: Scheme, dtype: str, batch: int, context: float) -> Work:
    """One decode step of `batch` sequences, each attending `context` positions (its new one too)."""
    attention_flops = sum(
        4 * layer.heads * layer.head_dim * layer.positions(context) for layer in shape.layers
    )
    return Work(
        bytes=weight_bytes_read(shape, sch, dtype, batch) + kv_cache_bytes(shape, sch, dtype, batch, context),
        flops=batch * (matmul_flops_per_token(shape) + attention_flops),
        compute=sch.compute_dtype(dtype),
    )


def prefill(shape: ModelShape, sch: Scheme, dtype: str, batch: int, prompt: int) -> Work:
    """The prompt pass: every prompt token through the matmuls, causal attention, KV written once.

    The output head runs for the last position only (the bench asks for logits_to_keep=1)."""
    tokens = batch * prompt
    attention_flops = batch * sum(
        4 * layer.heads * layer.head_dim * _causal_pairs(prompt, layer.window) for layer in shape.layers
    )
    body = 2 * (shape.matmul + shape.routed_active)
    return Work(
        bytes=weight_bytes_read(shape, sch, dtype, tokens) + kv_cache_bytes(shape, sch, dtype, batch, prompt),
        flops=tokens * body + batch * 2 * shape.head + attention_flops,
        compute=sch.compute_dtype(dtype),
    )


def _causal_pairs(prompt: int, window: int | None) -> float:
    """Query-key pairs of causal attention over a prompt: sum over i = 1..prompt of min(i, window)."""
    if window is None or prompt <= window:
        return prompt * (prompt + 1) / 2
    return window * (window + 1) / 2 + (prompt - window) * window


def activation_bytes(shape: ModelShape, dtype: str, batch: int, prompt: int) -> float:
    """Peak activations, in prefill: a handful of hidden-size tensors, q/k/v and the MLP's
    intermediate for every prompt token, plus float32 logits for the last position.

    An estimate (allocator behaviour varies); it assumes a fused attention kernel, which never
    materialises the prompt x prompt score matrix."""
    tokens = batch * prompt
    layer = shape.layers[0] if shape.layers else LayerAttention(1, 1, shape.hidden, None)
    qkv = (layer.heads + 2 * layer.kv_heads) * layer.head_dim
    per_token = 4 * shape.hidden + qkv + 3 * shape.mlp_width
    return tokens * per_token * DTYPE_BITS[dtype] / 8 + batch * shape.vocab * 4


@dataclass(frozen=True)
class MemoryEstimate:
    weights: float
    kv_cache: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.activations


def memory_estimate(shape: ModelShape, setting: Setting) -> MemoryEstimate:
    """Weights + the KV cache at its final length for the whole batch + prefill activations."""
    sch, dtype = scheme_for(setting), setting.dtype
    final_positions = setting.prompt_tokens + setting.new_tokens - 1
    return MemoryEstimate(
        weights=weight_bytes_stored(shape, sch, dtype),
        kv_cache=kv_cache_bytes(shape, sch, dtype, setting.batch_size, final_positions),
        activations=activation_bytes(shape, dtype, setting.batch_size, setting.prompt_tokens),
    )


def mean_decode_context(setting: Setting) -> float:
    """Mean positions attended over the timed decode steps: prompt + 1 ... prompt + new - 1."""
    return setting.prompt_tokens + setting.new_tokens / 2


# --------------------------------------------------------------------------- the bound


@dataclass(frozen=True)
class Bound:
    """The decode roofline of one setting on one device."""

    step: Work
    batch: int
    seconds_per_step: float
    limit: str  # "memory" or "compute"

    @property
    def tokens_per_s(self) -> float:
        return self.batch / self.seconds_per_step

    @property
    def bytes_per_token(self) -> float:
        return self.step.bytes / self.batch

    @property
    def flops_per_token(self) -> float:
        return self.step.flops / self.batch


def decode_bound(shape: ModelShape, setting: Setting, hw: Hardware) -> Bound:
    """Decode tokens/s at most: batch / max(step bytes / bandwidth, step FLOPs / peak)."""
    sch = scheme_for(setting)
    step = decode_step(shape, sch, setting.dtype, setting.batch_size, mean_decode_context(setting))
    seconds, limit = step.seconds(hw)
    return Bound(step=step, batch=setting.batch_size, seconds_per_step=seconds, limit=limit)


def roofline(
    shape: ModelShape,
    setting: Setting,
    hw: Hardware,
    measured_tokens_per_s: float | None = None,
    measured_weight_bytes: int | None = None,
) -> Roofline:
    """The result file's roofline block for a setting on a device, with the efficiency of a measurement.

    measured_weight_bytes (what the loaded model held) cross-checks the byte accounting: a
    mismatch means the model stores its weights in a way the roofline does not know, and says so."""
    bound = decode_bound(shape, setting, hw)
    notes = []
    stored = weight_bytes_stored(shape, scheme_for(setting), setting.dtype)
    if measured_weight_bytes and abs(measured_weight_bytes / stored - 1) > 0.02:
        notes.append(
            f"the loaded model held {measured_weight_bytes / 1e6:.1f} MB of weights, the roofline counts "
            f"{stored / 1e6:.1f} MB: its byte accounting does not describe this model"
        )
    peak = hw.peak(bound.step.compute)
    if peak is None:
        notes.append(f"no {bound.step.compute} peak for {hw.id} in the catalog: memory-only bound")
    bandwidth = hw.bandwidth_for(bound.step.bytes)
    if bandwidth > hw.bandwidth_bytes_per_s:
        notes.append(
            f"a step reads {bound.step.bytes / 2**20:.0f} MiB, which the caches can hold: the bound uses "
            f"the {bandwidth / 1e9:.0f} GB/s measured on a buffer that size, not DRAM's "
            f"{hw.bandwidth_bytes_per_s / 1e9:.0f} GB/s"
        )
    efficiency = None
    if measured_tokens_per_s is not None:
        efficiency = measured_tokens_per_s / bound.tokens_per_s
        if efficiency > 1:
            notes.append(
                f"measured {measured_tokens_per_s:.1f} tok/s exceeds the bound {bound.tokens_per_s:.1f} tok/s "
                f"({efficiency:.0%}): the measurement or the model of it is wrong"
            )
    return Roofline(
        hardware=hw.id,
        bytes_per_token=bound.bytes_per_token,
        flops_per_token=bound.flops_per_token,
        bound_tokens_per_s=bound.tokens_per_s,
        efficiency=efficiency,
        bandwidth_bytes_per_s=bandwidth,
        peak_flops=peak,
        limit=bound.limit,
        reason="; ".join(notes) or None,
    )


# --------------------------------------------------------------------------- measured results


def hardware_of(result: Result, refresh: bool = False) -> tuple[Hardware | None, str | None]:
    """The device a measured result ran on, from the catalog (GPU) or the probe (CPU)."""
    if result.setting.device.startswith("cpu"):
        return hardware.this_cpu(refresh=refresh), None
    gpu = result.environment.gpu
    if gpu is None:
        return None, "the result names no GPU"
    found = hardware.match_gpu(gpu.name)
    if found is None:
        return None, f"GPU {gpu.name!r} is not in bench/hardware.yaml"
    return found, None


def annotate(result: Result, hw: Hardware | None = None) -> Result:
    """A copy of a measured result with `metrics.roofline` filled for the hardware it ran on.

    hw defaults to the result's own device: the catalog GPU of its name, or this CPU's probed
    figures. An efficiency above 100 % on this CPU first re-probes it once (a probe slowed by other
    work sets the bound too low); if it stays above, it is logged as a warning and named in
    `reason`. Never raises: a result it cannot place gets a roofline whose `reason` says why."""
    try:
        block = _measured_roofline(result, hw)
        if hw is None and block.hardware == CPU_ID and (block.efficiency or 0) > 1:
            block = _measured_roofline(result, None, refresh=True)
    except Exception as exc:  # a roofline must never cost a measurement its result file
        block = Roofline(reason=f"roofline unavailable: {type(exc).__name__}: {exc}")
    if block.efficiency is not None and block.efficiency > 1:
        log.warning("%s/%s %s: %s", result.suite, result.cell, result.model.name, block.reason)
    return with_kv_estimate(_with_roofline(result, block))


def _measured_roofline(result: Result, hw: Hardware | None, refresh: bool = False) -> Roofline:
    reason = None
    if hw is None:
        hw, reason = hardware_of(result, refresh)
    if hw is None:
        return Roofline(reason=reason)
    if not result.model.config:
        return Roofline(hardware=hw.id, reason="the result has no model config to count")
    shape = model_shape(config_from_dict(result.model.config))
    return roofline(shape, result.setting, hw, result.metrics.decode.tokens_per_s, result.model.weight_bytes)


def with_kv_estimate(result: Result) -> Result:
    """A copy of a measured result whose `metrics.kv_cache` gets the roofline's count of the same
    cache (at the positions it held), beside the bytes measured from the cache object."""
    kv = result.metrics.kv_cache
    if kv is None or kv.positions is None or not result.model.config:
        return result
    try:
        shape = model_shape(config_from_dict(result.model.config))
        s = result.setting
        estimate = kv_cache_bytes(shape, scheme_for(s), s.dtype, s.batch_size, kv.positions)
        kv = kv.model_copy(update={"estimated_bytes": int(estimate)})
    except Exception as exc:  # an estimate must never cost a measurement its result file
        kv = kv.model_copy(update={"reason": f"no estimate: {type(exc).__name__}: {exc}"})
    return result.model_copy(update={"metrics": result.metrics.model_copy(update={"kv_cache": kv})})


def _with_roofline(result: Result, block: Roofline) -> Result:
    metrics = result.metrics.model_copy(update={"roofline": block})
    return result.model_copy(update={"metrics": metrics})
