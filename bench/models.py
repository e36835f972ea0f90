"""Building and loading models, and counting what they hold. Runs inside a cell's process."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def build_random(spec: ModelSpec, dtype: str, device: str, seed: int) -> torch.nn.Module:
    """An arch model with seeded random weights: the same seed, dtype and device give the same weights."""
    torch.manual_seed(seed)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(build_config(spec), dtype=TORCH_DTYPES[dtype]).eval()


def save_random(spec: ModelSpec, dtype: str, seed: int, folder: Path) -> None:
    """Write an arch model's seeded random weights (built on the CPU) as a checkpoint folder, so a
    library quantization can load it through from_pretrained (from_config ignores those configs)."""
    model = build_random(spec, dtype, "cpu", seed)
    model.save_pretrained(folder)
    del model


@contextmanager
def random_checkpoint(
    spec: ModelSpec, dtype: str, seed: int, quantization: str | None, base_dir: Path = Path(".")
) -> Iterator[Path | None]:
    """A temporary checkpoint folder that a library quantization (torchao, bitsandbytes) can load
    through from_pretrained: an arch model's seeded random weights, or a GGUF checkpoint
    dequantized at the dtype (transformers will not quantize while reading GGUF); None where the
    model loads as it is."""
    from bench.quant import LIBRARY_METHODS

    if quantization not in LIBRARY_METHODS or not (spec.arch or spec.gguf_file):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="gpuscape-") as tmp:
        if spec.arch:
            save_random(spec, dtype, seed, Path(tmp))
        else:
            load_model(spec, dtype, "cpu", base_dir).model.save_pretrained(tmp)
        yield Path(tmp)


def load_model(
    spec: ModelSpec,
    dtype: str,
    device: str,
    base_dir: Path,
    quantization: str | None = None,
    folder: Path | None = None,
    seed: int = 0,
) -> Loaded:
    """Build (arch) or load (path, package, hub, or `folder` written by save_random) a causal LM
    on the device, quantized as asked, timed. `params` are counted before quantizing."""
    from bench.quant import LIBRARY_METHODS, head_names, quantization_config, quantize_qoq

    torch_dtype = TORCH_DTYPES[dtype]
    start = time.perf_counter()
    library = quantization in LIBRARY_METHODS
    if spec.arch and folder is None:
        if library:
            raise ValueError(
                f"quantization {quantization} of an arch model loads from random_checkpoint's folder"
            )
        model = build_random(spec, dtype, device, seed)
    else:
        kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": spec.trust_remote_code}
        if folder is not None:
            source: str | Path = folder
        elif spec.hub:
            source = spec.hub
        else:
            source = resolve_folder(spec, base_dir)
            kwargs["local_files_only"] = True
        if spec.gguf_file and folder is None:
            kwargs["gguf_file"] = spec.gguf_file
        if library:
            config = AutoConfig.from_pretrained(source, **{k: v for k, v in kwargs.items() if k != "dtype"})
            skip = head_names(_meta_model(config))
            kwargs["quantization_config"] = quantization_config(quantization, torch_dtype, device, skip)
            kwargs["device_map"] = device
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs).to(device)
    model.eval()
    params = count_params(model) if not library else count_params(_meta_model(model.config))
    if quantization == "qoq":
        quantize_qoq(model)
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    load_s = time.perf_counter() - start
    return Loaded(model=model, load_s=load_s, params=params)


def _meta_model(config: PretrainedConfig) -> torch.nn.Module:
    """The model of a config on the meta device (no memory): its module names and parameter counts."""
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


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
    """Bytes held in parameters and buffers, each storage once, as stored: the inner tensors of
    quantized weights (torchao, bitsandbytes, QoQ's packed int4 and scales) included."""
    from bench.quant import tensor_bytes

    seen: set[int] = set()
    return sum(tensor_bytes(t, seen) for t in list(model.parameters()) + list(model.buffers()))


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
