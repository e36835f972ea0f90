"""How a model works, read from its transformers config dict.

Pure functions over plain dicts: never imports torch or transformers, so a docs-only machine
can explain every model it has results for. Reads both old and new transformers field names
(`rope_scaling` / `rope_parameters`, `torch_dtype` / `dtype`, GPT-2's `n_embd` family,
`text_config` nesting, `num_local_experts` / `num_experts`).

The parameter breakdown is exact for the architectures in `VERIFIED_TYPES` (tests compare it
with transformers' own count); for others it is an estimate and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import configkeys
from bench.configkeys import DTYPE_BYTES
from bench.schema import Params
from report.text import count, size_bytes

# Architectures whose breakdown tests/report/test_explain.py checks against transformers.
VERIFIED_TYPES = frozenset(
    {
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3_text",
        "phi3",
        "gpt2",
    }
)
# Two-matrix MLP with an activation between (no gate).
_PLAIN_MLP_TYPES = frozenset({"gpt2", "gpt_bigcode", "gpt_neox", "gptj", "opt", "bloom", "falcon", "phi"})
# Learned absolute position embeddings instead of rotary ones.
_LEARNED_POSITION_TYPES = frozenset({"gpt2", "gpt_bigcode", "opt"})
# Biases everywhere (attention, MLP) and LayerNorm with a bias.
_BIASED_TYPES = frozenset({"gpt2", "gpt_bigcode", "opt", "bloom"})
# Always a bias on q, k and v projections, though the config has no key for it.
_QKV_BIAS_TYPES = frozenset({"qwen2"})
# RMSNorm on each query and key head.
_QK_NORM_TYPES = frozenset({"qwen3", "qwen3_moe", "gemma3", "gemma3_text"})
# Norms around both sublayers, before and after (four per layer).
_SANDWICH_NORM_TYPES = frozenset({"gemma2", "gemma3", "gemma3_text"})
# The model class's default where a config omits tie_word_embeddings.
_UNTIED_BY_DEFAULT = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3"}
)


_ACTIVATIONS = {
    "silu": "SiLU",
    "swish": "SiLU",
    "gelu": "GELU",
    "gelu_new": "GELU (tanh approximation)",
    "gelu_pytorch_tanh": "GELU (tanh approximation)",
    "gelu_fast": "GELU (tanh approximation)",
    "relu": "ReLU",
    "relu2": "squared ReLU",
}


@dataclass(frozen=True)
class RopeSpec:
    """Rotary position settings for one kind of layer ("" when all layers share them)."""

    scope: str
    theta: float | None
    scaling: str | None  # rope_type other than "default"
    factor: float | None
    original_context: int | None


@dataclass(frozen=True)
class Architecture:
    """The config reduced to what a reader needs; None where the config does not say."""

    model_type: str | None
    layers: int | None
    hidden: int | None
    heads: int | None
    kv_heads: int | None
    head_dim: int | None
    intermediate: int | None
    activation: str | None
    gated_mlp: bool
    vocab: int | None
    context: int | None
    tied_embeddings: bool
    positions: str  # "rope", "learned", "alibi" or "unknown"
    rope: tuple[RopeSpec, ...]
    partial_rotary: float | None
    experts: int
    top_k: int
    expert_intermediate: int | None
    shared_expert_intermediate: int | None
    sparse_layers: int  # layers whose MLP is a mixture of experts
    sliding_window: int | None
    sliding_layers: int  # layers that use the sliding window
    norm: str  # "RMSNorm" or "LayerNorm"
    norm_eps: float | None
    norms_per_layer: int
    qk_norm: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    dtype: str | None
    multimodal: bool

    @property
    def attention(self) -> str | None:
        """'MHA', 'GQA' or 'MQA' from query and key/value head counts."""
        if not self.heads or not self.kv_heads:
            return None
        if self.kv_heads == self.heads:
            return "MHA"
        if self.kv_heads == 1:
            return "MQA"
        return "GQA"

    @property
    def group_size(self) -> int | None:
        """Query heads that share one key/value head."""
        if not self.heads or not self.kv_heads or self.heads % self.kv_heads:
            return None
        return self.heads // self.kv_heads

    @property
    def is_moe(self) -> bool:
        return self.experts > 1 and self.sparse_layers > 0

    @property
    def kv_values_per_token(self) -> int | None:
        """Keys plus values cached per token, over all layers."""
        if not (self.layers and self.kv_heads and self.head_dim):
            return None
        return 2 * self.layers * self.kv_heads * self.head_dim


@dataclass(frozen=True)
class Part:
    """One row of the parameter breakdown."""

    name: str
    params: int
    note: str = ""


@dataclass(frozen=True)
class Fact:
    """One paragraph of "How it works": a topic and plain text (escaped by the template)."""

    topic: str
    text: str


@dataclass(frozen=True)
class Explanation:
    """Everything the model page says about how the model works."""

    arch: Architecture
    facts: list[Fact]
    breakdown: list[Part]
    exact: bool  # breakdown verified for this architecture
    computed_total: int | None
    computed_active: int | None
    measured: Params | None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int | None:
        """The measured total where the bench counted it, else the computed one."""
        return self.measured.total if self.measured else self.computed_total

    @property
    def active(self) -> int | None:
        return self.measured.active if self.measured else self.computed_active


# --------------------------------------------------------------------------- reading


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's part of a config: `text_config` for multimodal models."""
    nested = config.get("text_config")
    if isinstance(nested, Mapping) and _first(nested, *configkeys.HIDDEN) is not None:
        return nested
    return config


_first = configkeys.lookup  # the first of `keys` present with a value other than None


def _int(config: Mapping[str, Any], *keys: str) -> int | None:
    value = _first(config, *keys)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _float(config: Mapping[str, Any], *keys: str) -> float | None:
    value = _first(config, *keys)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _str(config: Mapping[str, Any], *keys: str) -> str | None:
    value = _first(config, *keys)
    return value if isinstance(value, str) else None


def read_dtype(config: Mapping[str, Any]) -> str | None:
    """The stored weight dtype: `dtype` (transformers 5) or `torch_dtype` (4.x)."""
    value = _first(config, "dtype", "torch_dtype")
    if value is None and config is not text_config(config):
        value = _first(text_config(config), "dtype", "torch_dtype")
    return str(value).removeprefix("torch.") if value is not None else None


def _rope_spec(scope: str, params: Mapping[str, Any], theta: float | None) -> RopeSpec:
    kind = _str(params, "rope_type", "type")
    return RopeSpec(
        scope=scope,
        theta=_float(params, "rope_theta") or theta,
        scaling=kind if kind and kind != "default" else None,
        factor=_float(params, "factor"),
        original_context=_int(params, "original_max_position_embeddings"),
    )


def read_rope(config: Mapping[str, Any]) -> tuple[RopeSpec, ...]:
    """RoPE theta and scaling from `rope_parameters` (transformers 5, possibly one dict per
    layer type) or `rope_theta` plus `rope_scaling` (4.x)."""
    theta = _float(config, "rope_theta", "rotary_emb_base")
    params = config.get("rope_parameters")
    if not isinstance(params, Mapping):
        params = config.get("rope_scaling")
    if not isinstance(params, Mapping):
        return (RopeSpec("", theta, None, None, None),) if theta is not None else ()
    per_layer_type = [key for key, value in params.items() if isinstance(value, Mapping)]
    if per_layer_type:
        return tuple(_rope_spec(scope, params[scope], theta) for scope in per_layer_type)
    return (_rope_spec("", params, theta),)


def _positions(config: Mapping[str, Any], model_type: str | None, rope: tuple[RopeSpec, ...]) -> str:
    if model_type in _LEARNED_POSITION_TYPES:
        return "learned"
    if config.get("alibi") is True or model_type == "bloom":
        return "alibi"
    if rope or config.get("partial_rotary_factor") is not None or config.get("rotary_pct") is not None:
        return "rope"
    return "unknown"


def _partial_rotary(config: Mapping[str, Any]) -> float | None:
    params = config.get("rope_parameters")
    nested = _float(params, "partial_rotary_factor") if isinstance(params, Mapping) else None
    return _float(config, "partial_rotary_factor", "rotary_pct") or nested


def _kv_heads(config: Mapping[str, Any], heads: int | None) -> int | None:
    if config.get("multi_query") is True:
        return 1
    return _int(config, *configkeys.KV_HEADS) or heads


def _sliding(config: Mapping[str, Any], model_type: str | None, layers: int | None) -> tuple[int | None, int]:
    """The window size and how many layers use it."""
    window = _int(config, "sliding_window")
    if not window or not layers:
        return None, 0
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        return window, sum(1 for kind in layer_types if kind == "sliding_attention")
    if config.get("use_sliding_window") is False:
        return None, 0
    if config.get("use_sliding_window") is True:
        first = _int(config, "max_window_layers") or 0
        return window, max(0, layers - first)
    pattern = _int(config, "sliding_window_pattern")
    if pattern:
        return window, sum(1 for i in range(layers) if (i + 1) % pattern)
    if model_type == "gemma2":
        return window, (layers + 1) // 2
    return window, layers


def _sparse_layers(config: Mapping[str, Any], layers: int | None, experts: int) -> int:
    if experts <= 1 or not layers:
        return 0
    dense = {i for i in config.get("mlp_only_layers") or [] if isinstance(i, int)}
    step = _int(config, "decoder_sparse_step") or 1
    first_dense = _int(config, "first_k_dense_replace") or 0
    return sum(1 for i in range(first_dense, layers) if i not in dense and (i + 1) % step == 0)


def read_architecture(config: Mapping[str, Any]) -> Architecture:
    """Normalise a transformers config dict (any version, any nesting) into an Architecture."""
    cfg = text_config(config)
    model_type = _str(cfg, "model_type") or _str(config, "model_type")
    hidden = _int(cfg, *configkeys.HIDDEN)
    layers = _int(cfg, *configkeys.LAYERS)
    heads = _int(cfg, *configkeys.HEADS)
    head_dim = _int(cfg, "head_dim") or (hidden // heads if hidden and heads else None)
    experts = _int(cfg, *configkeys.EXPERTS) or 0
    intermediate = _int(cfg, *configkeys.INTERMEDIATE)
    if intermediate is None and model_type in _PLAIN_MLP_TYPES and hidden:
        intermediate = 4 * hidden  # GPT-2's n_inner=None means 4 x hidden
    window, sliding_layers = _sliding(cfg, model_type, layers)
    rope = read_rope(cfg)
    tied = cfg.get("tie_word_embeddings")
    biased = model_type in _BIASED_TYPES
    layer_norm = biased or (
        _first(cfg, "rms_norm_eps") is None
        and _first(cfg, "layer_norm_epsilon", "layer_norm_eps") is not None
    )
    return Architecture(
        model_type=model_type,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=_kv_heads(cfg, heads),
        head_dim=head_dim,
        intermediate=intermediate,
        activation=_str(cfg, "hidden_act", "hidden_activation", "activation_function"),
        gated_mlp=model_type not in _PLAIN_MLP_TYPES,
        vocab=_int(cfg, "vocab_size"),
        context=_int(
            cfg, "max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length"
        ),
        tied_embeddings=bool(tied) if isinstance(tied, bool) else model_type not in _UNTIED_BY_DEFAULT,
        positions=_positions(cfg, model_type, rope),
        rope=rope,
        partial_rotary=_partial_rotary(cfg),
        experts=experts,
        top_k=_int(cfg, *configkeys.EXPERTS_PER_TOKEN) or 0,
        expert_intermediate=_int(cfg, *configkeys.EXPERT_INTERMEDIATE) or intermediate,
        shared_expert_intermediate=_int(cfg, "shared_expert_intermediate_size"),
        sparse_layers=_sparse_layers(cfg, layers, experts),
        sliding_window=window,
        sliding_layers=sliding_layers,
        norm="LayerNorm" if layer_norm else "RMSNorm",
        norm_eps=_float(cfg, "rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps"),
        norms_per_layer=4 if model_type in _SANDWICH_NORM_TYPES else 2,
        qk_norm=model_type in _QK_NORM_TYPES,
        qkv_bias=biased
        or model_type in _QKV_BIAS_TYPES
        or cfg.get("qkv_bias") is True
        or cfg.get("attention_bias") is True,
        o_bias=biased or cfg.get("attention_bias") is True,
        mlp_bias=biased or cfg.get("mlp_bias") is True,
        dtype=read_dtype(config),
        multimodal=cfg is not config or "vision_config" in config,
    )


# --------------------------------------------------------------------------- counting


def _attention_params(a: Architecture) -> int:
    """One layer's q, k, v and o projections with their biases."""
    assert a.hidden and a.heads and a.kv_heads and a.head_dim
    q_out, kv_out = a.heads * a.head_dim, a.kv_heads * a.head_dim
    weights = a.hidden * (q_out + 2 * kv_out) + q_out * a.hidden
    biases = (q_out + 2 * kv_out if a.qkv_bias else 0) + (a.hidden if a.o_bias else 0)
    return weights + biases


def _mlp_params(a: Architecture, intermediate: int) -> int:
    """One MLP (or one expert) of the given width."""
    assert a.hidden
    matrices = 3 if a.gated_mlp else 2
    bias = (intermediate * (matrices - 1) + a.hidden) if a.mlp_bias else 0
    return matrices * a.hidden * intermediate + bias


def _norm_params(a: Architecture) -> int:
    assert a.hidden and a.layers
    per_norm = a.hidden * (2 if a.norm == "LayerNorm" else 1)
    qk = 2 * a.head_dim if a.qk_norm and a.head_dim else 0
    return a.layers * (a.norms_per_layer * per_norm + qk) + per_norm


def breakdown(a: Architecture) -> list[Part]:
    """Parameters by component, computed from the config; empty if a dimension is missing."""
    if not (a.hidden and a.layers and a.heads and a.vocab and a.head_dim and a.kv_heads):
        return []
    dense_layers = a.layers - a.sparse_layers
    parts = [Part("Token embeddings", a.vocab * a.hidden, f"{a.vocab:,} tokens × {a.hidden:,}")]
    if a.positions == "learned" and a.context:
        parts.append(
            Part("Position embeddings", a.context * a.hidden, f"{a.context:,} positions × {a.hidden:,}")
        )
    parts.append(Part("Attention", a.layers * _attention_params(a), f"q, k, v, o in {a.layers} layers"))
    if dense_layers and a.intermediate:
        parts.append(Part("MLP", dense_layers * _mlp_params(a, a.intermediate), f"{dense_layers} layers"))
    if a.is_moe and a.expert_intermediate:
        per_layer = a.experts * _mlp_params(a, a.expert_intermediate)
        parts.append(
            Part("Experts", a.sparse_layers * per_layer, f"{a.experts} per layer × {a.sparse_layers} layers")
        )
        parts.append(Part("Router", a.sparse_layers * a.hidden * a.experts, "one score per expert"))
        if a.shared_expert_intermediate:
            shared = _mlp_params(a, a.shared_expert_intermediate) + a.hidden  # + its gate
            parts.append(Part("Shared expert", a.sparse_layers * shared, "used by every token"))
    parts.append(Part("Norms", _norm_params(a), a.norm))
    head = 0 if a.tied_embeddings else a.vocab * a.hidden
    parts.append(Part("Output head", head, "tied to the token embeddings" if a.tied_embeddings else ""))
    return parts


def active_params(a: Architecture, total: int) -> int:
    """Parameters one token uses: all but the experts the router did not pick."""
    if not a.is_moe or not a.expert_intermediate:
        return total
    idle = a.sparse_layers * (a.experts - min(a.top_k, a.experts)) * _mlp_params(a, a.expert_intermediate)
    return total - idle


# --------------------------------------------------------------------------- wording


def _activation_name(activation: str | None) -> str | None:
    return None if activation is None else _ACTIVATIONS.get(activation, activation)


def _shape_fact(a: Architecture) -> Fact:
    kind = "A decoder-only transformer"
    if a.multimodal:
        kind += " (the language half of a multimodal model; its vision encoder is not described here)"
    if a.layers is None or a.hidden is None:
        return Fact("Shape", f"{kind}; the config does not give its layer count and hidden size.")
    return Fact(
        "Shape",
        f"{kind}: {a.layers} layers, each an attention block followed by a feed-forward block, "
        f"on a hidden size of {a.hidden:,}. Each layer reads and writes the same {a.hidden:,}-wide "
        "residual stream.",
    )


def _attention_fact(a: Architecture, dtypes: Iterable[str]) -> Fact | None:
    kind = a.attention
    if kind is None or a.heads is None or a.kv_heads is None:
        return None
    head = f" Head dimension {a.head_dim}." if a.head_dim else ""
    if kind == "MHA":
        text = f"Multi-head attention (MHA): {a.heads} heads, each with its own keys and values.{head}"
    elif kind == "MQA":
        text = (
            f"Multi-query attention (MQA): {a.heads} query heads share a single key/value head, "
            f"which shrinks the KV cache {a.heads}× against full multi-head attention.{head}"
        )
    else:
        group = f", group size {a.group_size}" if a.group_size else ""
        text = (
            f"Grouped-query attention (GQA){group}: {a.heads} query heads share {a.kv_heads} "
            f"key/value heads, so each group of {a.heads / a.kv_heads:g} query heads reads the same keys "
            f"and values and the KV cache is {a.heads / a.kv_heads:g}× smaller than with one key/value "
            f"head per query head.{head}"
        )
    return Fact("Attention", text + _kv_cache_text(a, dtypes))


def _kv_cache_text(a: Architecture, dtypes: Iterable[str]) -> str:
    values = a.kv_values_per_token
    if values is None:
        return ""
    sizes = [f"{size_bytes(values * DTYPE_BYTES[d])} at {d}" for d in sorted(set(dtypes)) if d in DTYPE_BYTES]
    per_dtype = f" ({', '.join(sizes)})" if sizes else ""
    return (
        f" The KV cache holds 2 × {a.layers} layers × {a.kv_heads} heads × {a.head_dim} = "
        f"{values:,} values per token{per_dtype}."
    )


def _mlp_fact(a: Architecture) -> Fact | None:
    if a.hidden is None:
        return None
    act = _activation_name(a.activation)
    width = a.expert_intermediate if a.is_moe else a.intermediate
    size = f" ({a.hidden:,} → {width:,} → {a.hidden:,})" if width else " (width not stated)"
    if a.gated_mlp:
        glu = {"SiLU": " (SwiGLU)", "GELU": " (GeGLU)", "GELU (tanh approximation)": " (GeGLU)"}.get(
            act or "", ""
        )
        kind = f"Gated {act} MLP{glu}" if act else "Gated MLP (activation not stated)"
        text = (
            f"{kind}: a gate and an up projection{size}, multiplied element-wise "
            "after the activation on the gate, then a down projection back to the hidden size."
        )
    else:
        text = f"A two-layer MLP{size} with {act or 'an unstated activation'} between."
    if a.is_moe:
        text = "Each expert is a " + text[0].lower() + text[1:]
    return Fact("Feed-forward", text)


def _moe_fact(a: Architecture, total: int | None, active: int | None) -> Fact | None:
    if not a.is_moe:
        return None
    text = (
        f"Mixture of experts: {a.experts} experts in {a.sparse_layers} of {a.layers} layers; "
        f"a router scores them for each token and runs the top {a.top_k}."
    )
    if a.shared_expert_intermediate:
        text += f" A shared expert (width {a.shared_expert_intermediate:,}) runs for every token."
    if total and active:
        text += (
            f" So {count(active)} of {count(total)} parameters are active per token "
            f"({100 * active / total:.0f} %): compute follows the active count, memory the total."
        )
    return Fact("Experts", text)


def _rope_text(spec: RopeSpec) -> str:
    parts = [f"base theta {spec.theta:,.0f}" if spec.theta is not None else "base theta not stated"]
    if spec.scaling:
        factor = f" ×{spec.factor:g}" if spec.factor else ""
        origin = f" from {spec.original_context:,} tokens" if spec.original_context else ""
        parts.append(f"{spec.scaling} scaling{factor}{origin}")
    scope = f"{spec.scope.replace('_', ' ')} layers: " if spec.scope else ""
    return scope + ", ".join(parts)


def _positions_fact(a: Architecture) -> Fact:
    if a.positions == "learned":
        return Fact(
            "Positions", "Learned absolute position embeddings, one vector per position, added to the tokens."
        )
    if a.positions == "alibi":
        return Fact(
            "Positions", "ALiBi: a linear bias on attention scores by distance; no position embeddings."
        )
    if a.positions == "unknown":
        return Fact("Positions", "The config does not say how positions are encoded.")
    text = "Rotary position embeddings (RoPE) rotate queries and keys by position; " + "; ".join(
        _rope_text(spec) for spec in a.rope
    )
    if a.partial_rotary and a.partial_rotary < 1:
        text += f"; applied to {a.partial_rotary:.0%} of each head's dimensions"
    return Fact("Positions", text + ".")


def _sliding_fact(a: Architecture) -> Fact | None:
    if not a.sliding_window or not a.sliding_layers or not a.layers:
        return None
    which = "every layer" if a.sliding_layers == a.layers else f"{a.sliding_layers} of {a.layers} layers"
    rest = "" if a.sliding_layers == a.layers else "; the others attend to the whole context"
    return Fact(
        "Sliding window",
        f"{which[0].upper() + which[1:]} attend only to the last {a.sliding_window:,} tokens{rest}, "
        "which caps their KV cache at the window.",
    )


def _vocab_fact(a: Architecture) -> Fact | None:
    if a.vocab is None:
        return None
    head = (
        "the output head reuses the input embedding matrix (tied)"
        if a.tied_embeddings
        else "the output head is a separate matrix (not tied to the input embeddings)"
    )
    return Fact("Vocabulary", f"{a.vocab:,} tokens; {head}.")


def _context_fact(a: Architecture) -> Fact | None:
    if a.context is None:
        return None
    return Fact("Context", f"Up to {a.context:,} positions.")


def _norm_fact(a: Architecture) -> Fact | None:
    if a.hidden is None:
        return None
    where = "before and after each sublayer" if a.norms_per_layer == 4 else "before each sublayer"
    eps = f" (eps {a.norm_eps:g})" if a.norm_eps is not None else ""
    qk = "; queries and keys are normalised per head too" if a.qk_norm else ""
    return Fact("Normalisation", f"{a.norm} {where}{eps}{qk}.")


def _dtype_fact(
    a: Architecture, source: str | None, dtypes: Sequence[str], run_dtypes: Sequence[str] | None = None
) -> Fact | None:
    run = dtypes if run_dtypes is None else run_dtypes
    if run:
        measured = f"; measured at {', '.join(run)}"
    elif dtypes:  # every cell is an estimate: nothing ran
        measured = f"; estimated (not run) at {', '.join(dtypes)}"
    else:
        measured = ""
    # A result's config records the dtype its cell loaded the model at, not what a checkpoint
    # stores: only a config that never went through the bench says how the weights are stored.
    if source and source.startswith("arch:"):
        return Fact("Weights", f"Random, built from the configuration (no checkpoint){measured}.")
    if source:
        return Fact("Weights", f"From a checkpoint, loaded at the dtype of each cell{measured}.")
    if a.dtype is None:
        return None
    return Fact("Weights", f"Stored as {a.dtype} in the checkpoint's config{measured}.")


def explain(
    config: Mapping[str, Any],
    params: Params | None = None,
    dtypes: Iterable[str] = (),
    source: str | None = None,
    run_dtypes: Iterable[str] | None = None,
) -> Explanation:
    """Explain a model from its config dict; `params` are the bench's counts (preferred for the
    active/total figures), `dtypes` the dtypes of its cells (for KV cache sizes), `run_dtypes`
    those of the cells that ran (measured or imported; None: all of `dtypes`), `source` the
    result's model source ("arch:llama": random weights, so the config's dtype says nothing)."""
    a = read_architecture(config)
    parts = breakdown(a)
    computed_total = sum(p.params for p in parts) if parts else None
    computed_active = active_params(a, computed_total) if computed_total else None
    total = params.total if params else computed_total
    active = params.active if params else computed_active
    dtypes = list(dtypes)
    candidates = [
        _shape_fact(a),
        _attention_fact(a, dtypes),
        _mlp_fact(a),
        _moe_fact(a, total, active),
        _positions_fact(a),
        _sliding_fact(a),
        _vocab_fact(a),
        _context_fact(a),
        _norm_fact(a),
        _dtype_fact(a, source, dtypes, None if run_dtypes is None else sorted(set(run_dtypes))),
    ]
    exact = a.model_type in VERIFIED_TYPES and not a.multimodal
    notes = _breakdown_notes(a, parts, exact, computed_total, params)
    return Explanation(
        arch=a,
        facts=[fact for fact in candidates if fact is not None],
        breakdown=parts,
        exact=exact,
        computed_total=computed_total,
        computed_active=computed_active,
        measured=params,
        notes=notes,
    )


def _breakdown_notes(
    a: Architecture, parts: list[Part], exact: bool, computed: int | None, params: Params | None
) -> list[str]:
    if not parts:
        return ["The config lacks the dimensions needed to count parameters."]
    notes = []
    if not exact:
        kind = a.model_type or "an unnamed architecture"
        notes.append(f"Estimated: the counting rules are not verified for {kind}.")
    if a.multimodal:
        notes.append("Counts the language model only; the vision encoder is not included.")
    if params and computed is not None and params.total != computed:
        diff = params.total - computed
        notes.append(
            f"The bench counted {params.total:,} parameters on the loaded model, "
            f"{diff:+,} against this breakdown."
        )
    return notes
