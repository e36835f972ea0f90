"""Weight quantization, one definition per name in bench.methods.QUANTIZATIONS.

int8, int4, w8a8 and w4a8 go through torchao and nf4 through bitsandbytes, both by way of
transformers' `from_pretrained(..., quantization_config=...)` (from_config ignores quantization
configs, so a random model is saved and reloaded first: bench.models). qoq is a pure-torch
reference of QServe's W4A8 arithmetic (its 4-bit KV cache is bench.measure's quantized cache).
The output head stays at the model's dtype under every method (as bench.roofline counts it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# Methods that need transformers' from_pretrained with a quantization config.
LIBRARY_METHODS = ("int8", "int4", "w8a8", "w4a8", "nf4")
GROUP_SIZE = 128


def head_names(model: nn.Module) -> list[str]:
    """Module names of the output head (left unquantized)."""
    head = model.get_output_embeddings()
    return [name for name, module in model.named_modules() if module is head]


def quantization_config(method: str, dtype: torch.dtype, device: str, skip: list[str]) -> Any:
    """transformers' quantization config for a library method on a device."""
    if method == "nf4":
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            llm_int8_skip_modules=skip,
        )
    from torchao.quantization import (
        Int8DynamicActivationInt8WeightConfig,
        Int8DynamicActivationIntxWeightConfig,
        Int8WeightOnlyConfig,
        PerGroup,
    )
    from transformers import TorchAoConfig

    if method == "int8":  # int8 weights, one scale per output channel; activations at the model dtype
        config: Any = Int8WeightOnlyConfig()
    elif method == "w8a8":  # int8 weights per channel, int8 activations per token (dynamic)
        config = Int8DynamicActivationInt8WeightConfig()
    elif method == "w4a8":  # int4 weights in groups of 128, int8 activations per token (dynamic)
        config = Int8DynamicActivationIntxWeightConfig(
            weight_dtype=torch.int4, weight_granularity=PerGroup(GROUP_SIZE)
        )
    elif method == "int4" and device.startswith("cuda"):
        from torchao.quantization import Int4WeightOnlyConfig

        config = Int4WeightOnlyConfig(group_size=GROUP_SIZE)
    elif method == "int4":  # the default int4 layout needs a CUDA-only package (shared/NOTES.md)
        from torchao.prototype.quantization.int4 import PrototypeInt4WeightOnlyConfig

        config = PrototypeInt4WeightOnlyConfig(group_size=GROUP_SIZE)
    else:
        raise ValueError(f"unknown library quantization {method!r}")
    return TorchAoConfig(config, modules_to_not_convert=skip)


def kernel(method: str | None, device: str) -> str | None:
    """'reference' where the matmuls run on a reference kernel, whose speed is not representative:
    qoq everywhere; w4a8, whose int4 weights torchao keeps unpacked in int8 without a fused kernel
    on x86 CPUs and CUDA."""
    return "reference" if method in ("qoq", "w4a8") else None


# --------------------------------------------------------------------------- QoQ reference

QOQ_INT8_RANGE = 119  # per-channel int8 range that leaves room for the integer group step


def _pack_uint4(values: torch.Tensor) -> torch.Tensor:
    """Two 4-bit values per byte along the last dimension (padded to even)."""
    if values.shape[-1] % 2:
        values = torch.nn.functional.pad(values, (0, 1))
    values = values.to(torch.uint8)
    return values[..., 0::2] | (values[..., 1::2] << 4)


def _unpack_uint4(packed: torch.Tensor, count: int) -> torch.Tensor:
    low, high = packed & 0x0F, packed >> 4
    return torch.stack([low, high], dim=-1).flatten(-2)[..., :count]


class QoQLinear(nn.Module):
    """QoQ's W4A8 linear layer (QServe), as a pure-torch reference.

    Progressive weight quantization: per output channel symmetric int8 in +-119 (a float scale),
    then per group of 128 unsigned 4-bit with an integer (uint8) scale and a 4-bit zero, so the
    int4 -> int8 step is integer arithmetic. Activations are quantized per token to int8 at run
    time and the product runs int8 x int8 -> int32 in `torch._int_mm`."""

    def __init__(self, linear: nn.Linear, group_size: int = GROUP_SIZE) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        out_features, in_features = weight.shape
        self.in_features, self.out_features, self.group_size = in_features, out_features, group_size
        channel_scale = weight.abs().amax(dim=1).clamp(min=1e-8) / QOQ_INT8_RANGE
        w8 = torch.round(weight / channel_scale[:, None]).clamp(-QOQ_INT8_RANGE, QOQ_INT8_RANGE)
        groups = -(-in_features // group_size)
        padded = torch.nn.functional.pad(w8, (0, groups * group_size - in_features))
        grouped = padded.view(out_features, groups, group_size)
        low, high = grouped.amin(dim=2), grouped.amax(dim=2)
        scale = torch.ceil((high - low) / 15).clamp(min=1)  # an integer group scale
        zero = torch.round(-low / scale).clamp(0, 15)
        q4 = torch.round(grouped / scale[..., None]) + zero[..., None]
        # Keep (q4 - zero) * scale inside int8 so the integer step never overflows.
        lo = torch.ceil(-128 / scale) + zero
        hi = torch.floor(127 / scale) + zero
        q4 = torch.maximum(torch.minimum(q4, hi[..., None]), lo[..., None]).clamp(0, 15)
        self.register_buffer("qweight", _pack_uint4(q4.view(out_features, -1)))
        self.register_buffer("group_scales", scale.to(torch.uint8))
        self.register_buffer("group_zeros", _pack_uint4(zero))
        self.register_buffer("channel_scales", channel_scale.to(linear.weight.dtype))
        self.bias = linear.bias

    def int8_weight(self) -> torch.Tensor:
        """The int8 weights the int4 ones expand to (integer arithmetic only)."""
        groups = self.group_scales.shape[1]
        q4 = _unpack_uint4(self.qweight, groups * self.group_size).view(self.out_features, groups, -1)
        zero = _unpack_uint4(self.group_zeros, groups)
        w8 = (q4.to(torch.int16) - zero[..., None].to(torch.int16)) * self.group_scales[..., None].to(
            torch.int16
        )
        return w8.view(self.out_features, -1)[:, : self.in_features].to(torch.int8)

    def dequantized_weight(self) -> torch.Tensor:
        """The float weights this layer multiplies by (for checks)."""
        return self.int8_weight().float() * self.channel_scales.float()[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).float()
        token_scale = flat.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127
        x8 = torch.round(flat / token_scale).clamp(-128, 127).to(torch.int8)
        rows = x8.shape[0]
        if x8.is_cuda and rows <= 16:  # cuBLAS int8 GEMM wants more than 16 rows
            x8 = torch.nn.functional.pad(x8, (0, 0, 0, 32 - rows))
        acc = torch._int_mm(x8, self.int8_weight().t())[:rows]
        out = acc.float() * token_scale * self.channel_scales.float()[None, :]
        out = out.to(x.dtype).reshape(*x.shape[:-1], self.out_features)
        return out + self.bias if self.bias is not None else out


def quantize_qoq(model: nn.Module) -> nn.Module:
    """Replace every Linear but the output head with QoQLinear, in place."""
    head = model.get_output_embeddings()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child is not head:
                setattr(parent, name, QoQLinear(child))
    return model


# --------------------------------------------------------------------------- bytes held


def tensor_bytes(tensor: Any, seen: set[int] | None = None) -> int:
    """Bytes a tensor really holds: the inner tensors of a quantized tensor subclass (torchao,
    quanto), a bitsandbytes 4-bit weight's packed bytes plus its quantization state; each
    storage once."""
    seen = set() if seen is None else seen
    if isinstance(tensor, (tuple, list)):
        return sum(tensor_bytes(t, seen) for t in tensor)
    if not isinstance(tensor, torch.Tensor):
        return 0
    total = 0
    if hasattr(tensor, "__tensor_flatten__") and type(tensor) not in (torch.Tensor, nn.Parameter):
        names, _ = tensor.__tensor_flatten__()
        return sum(tensor_bytes(getattr(tensor, name), seen) for name in names)
    key = tensor.untyped_storage().data_ptr() if tensor.device.type != "meta" else id(tensor)
    if key not in seen or key == 0:
        seen.add(key)
        total += tensor.numel() * tensor.element_size()
    state = getattr(tensor, "quant_state", None)  # bitsandbytes Params4bit
    if state is not None:
        total += tensor_bytes([state.absmax, state.code], seen)
        if getattr(state, "nested", False) and state.state2 is not None:
            total += tensor_bytes([state.state2.absmax, state.state2.code], seen)
    return total
