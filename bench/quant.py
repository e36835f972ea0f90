"""Weight-only int8 quantization that runs on CPU and GPU with torch's own int8 kernels."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Int8WeightOnlyLinear(nn.Module):
    """A Linear whose weight is stored as int8 with one scale per output channel.

    The matmul runs in `torch._weight_int8pack_mm` (the kernel gpt-fast uses); where that kernel
    lacks the dtype or device, the weight is dequantized on the fly, which still reads int8 bytes."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.register_buffer(
            "weight_int8", torch.round(weight / scales[:, None]).clamp(-128, 127).to(torch.int8)
        )
        self.register_buffer("scales", scales.to(linear.weight.dtype))
        self.bias = linear.bias
        self._fused = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        if self._fused:
            try:
                out = torch._weight_int8pack_mm(flat.contiguous(), self.weight_int8, self.scales)
            except (RuntimeError, NotImplementedError):
                self._fused = False  # this dtype/device has no fused kernel; stay on the fallback
        if not self._fused:
            out = F.linear(flat, self.weight_int8.to(flat.dtype)) * self.scales
        out = out.reshape(*x.shape[:-1], self.out_features)
        return out + self.bias if self.bias is not None else out


def quantize(model: nn.Module, method: str | None) -> nn.Module:
    """Apply a suite's quantization in place; the output head stays at the model's dtype."""
    if method in (None, "none"):
        return model
    if method != "int8":
        raise ValueError(f"unknown quantization {method!r}")
    head = model.get_output_embeddings()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child is not head:
                setattr(parent, name, Int8WeightOnlyLinear(child))
    return model
