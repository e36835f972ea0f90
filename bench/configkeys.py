"""Config-key aliases and dtype sizes, defined once for bench and report.

transformers architectures name the same thing differently (`num_local_experts` in Mixtral,
`num_experts` in Qwen-MoE, `moe_num_experts` in ERNIE 4.5 and DBRX, ...). The bench counts
parameters and bounds speed from these keys and the report explains a model from them: both
read them here, so a model the page calls a mixture of experts is one the bench counts as one.

Standard library only: `report` imports this without torch or transformers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HIDDEN = ("hidden_size", "n_embd", "d_model")
LAYERS = ("num_hidden_layers", "n_layer", "num_layers")
HEADS = ("num_attention_heads", "n_head", "num_heads")
KV_HEADS = ("num_key_value_heads", "num_kv_heads", "n_head_kv")
INTERMEDIATE = ("intermediate_size", "n_inner", "ffn_dim")
# routed experts per MoE layer
EXPERTS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
# experts each token is routed to
EXPERTS_PER_TOKEN = ("num_experts_per_tok", "moe_top_k", "moe_topk", "top_k", "num_selected_experts", "moe_k")
EXPERT_INTERMEDIATE = ("moe_intermediate_size",)

# bytes per stored value: the dtypes a suite may ask for, and the storage types a page names
DTYPE_BYTES: dict[str, float] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8": 1,
    "int8": 1,
    "int4": 0.5,
}


def lookup(config: Mapping[str, Any] | object, *keys: str) -> Any:
    """The first of `keys` present with a value other than None, in a dict or on a config
    object (a transformers PretrainedConfig)."""
    for key in keys:
        value = config.get(key) if isinstance(config, Mapping) else getattr(config, key, None)
        if value is not None:
            return value
    return None


def positive_int(config: Mapping[str, Any] | object, *keys: str) -> int | None:
    """The first of `keys` holding a positive integer (bools and floats are not counts)."""
    for key in keys:
        value = config.get(key) if isinstance(config, Mapping) else getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def experts(config: Mapping[str, Any] | object) -> int | None:
    """Routed experts per MoE layer, or None for a dense model."""
    return positive_int(config, *EXPERTS)


def experts_per_token(config: Mapping[str, Any] | object) -> int | None:
    """Experts each token uses, or None where the config does not say."""
    return positive_int(config, *EXPERTS_PER_TOKEN)


def dtype_bytes(dtype: str) -> float:
    """Bytes per value of a dtype name ('bfloat16' -> 2); KeyError names the known ones."""
    try:
        return DTYPE_BYTES[dtype.removeprefix("torch.")]
    except KeyError:
        raise KeyError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}") from None


# A transformers `model_type` (or a GGUF architecture, llama-bench's "arch") -> the family name
# the suites use, so imported results sit under the same legend family as measured ones.
MODEL_TYPE_FAMILIES = {
    "llama": "Llama",
    "mistral": "Mistral",
    "mixtral": "Mistral",
    "gemma": "Gemma",
    "gemma2": "Gemma",
    "gemma3": "Gemma",
    "gemma3_text": "Gemma",
    "qwen2": "Qwen",
    "qwen2_moe": "Qwen",
    "qwen3": "Qwen",
    "qwen3_moe": "Qwen",
    "gpt2": "OpenAI GPT",
    "gpt_oss": "OpenAI GPT",
    "deepseek_v2": "DeepSeek",
    "deepseek_v3": "DeepSeek",
    "deepseek2": "DeepSeek",
    "phi": "Phi",
    "phi3": "Phi",
    "falcon": "Falcon",
}


def family_name(model_type: str) -> str:
    """The suites' family name for a model type ('gpt2' -> 'OpenAI GPT'); others as given."""
    return MODEL_TYPE_FAMILIES.get(model_type.strip().lower(), model_type)
