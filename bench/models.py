"""Building and loading models, and counting what they hold. Runs inside a cell's process."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig

from bench import configkeys
from bench.schema import Params
from bench.suite import ModelSpec, resolve_folder

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Token ids inside any vocabulary: GPT-2 warns and Phi-3 fails without them (shared/NOTES.md).
SAFE_TOKEN_IDS = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
_EXPERT_PARAM = re.compile(r"\.experts\.")


def build_config(spec: ModelSpec) -> PretrainedConfig:
    """The config of an arch model: transformers' default for the model_type plus the overrides."""
    return AutoConfig.for_model(spec.arch, **{**SAFE_TOKEN_IDS, **spec.config})


def text_config(config: PretrainedConfig) -> PretrainedConfig:
    """The language-model part of a config (multimodal configs nest it)."""
    return getattr(config, "text_config", None) or config


@dataclass
class Loaded:
    model: torch.nn.Module
    load_s: float
    params: Params


def load_model(spec: ModelSpec, dtype: str, device: str, base_dir: Path) -> Loaded:
    """Build (arch) or load (path, package, hub) a causal LM on the device, timed."""
    torch_dtype = TORCH_DTYPES[dtype]
    start = time.perf_counter()
    if spec.arch:
        config = build_config(spec)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    else:
        kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": spec.trust_remote_code}
        if spec.gguf_file:
            kwargs["gguf_file"] = spec.gguf_file
        if spec.hub:
            source: str | Path = spec.hub
        else:
            source = resolve_folder(spec, base_dir)
            kwargs["local_files_only"] = True
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs).to(device)
    model.eval()
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    load_s = time.perf_counter() - start
    return Loaded(model=model, load_s=load_s, params=count_params(model))


def count_params(model: torch.nn.Module) -> Params:
    """Total, per-token active (MoE: shared weights + top-k of the routed experts) and embedding.

    Works on meta-device models too (numel needs no storage)."""
    params = dict(model.named_parameters())  # named_parameters skips tied duplicates
    total = sum(p.numel() for p in params.values())
    embedding = model.get_input_embeddings().weight.numel()
    output = model.get_output_embeddings()
    if output is not None and output.weight is not model.get_input_embeddings().weight:
        embedding += output.weight.numel()
    cfg = text_config(model.config)
    experts = configkeys.experts(cfg)
    top_k = configkeys.experts_per_token(cfg)
    active = total
    if experts and top_k and experts > 1:
        routed = sum(p.numel() for name, p in params.items() if _EXPERT_PARAM.search(name + "."))
        active = total - routed + routed * top_k // experts
    return Params(total=total, active=active, embedding=embedding)


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes held in parameters and buffers (quantized weights and scales included), each once."""
    seen: set[int] = set()
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        total += tensor.numel() * tensor.element_size()
    return total


def config_dict(model: torch.nn.Module) -> dict[str, Any]:
    """The model's config as plain JSON-safe data for the result file."""
    data = model.config.to_dict()
    return _json_safe(data)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
