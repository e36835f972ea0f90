"""Quantization methods on real tiny models: bytes held as computed by hand, QoQ's arithmetic,
and the quality figures (KL, top-1 agreement) against the float32 reference."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from bench import quality
from bench.methods import installed
from bench.models import load_model, random_checkpoint, weight_bytes
from bench.quant import QoQLinear, tensor_bytes
from bench.suite import ModelSpec

# Group-128 formats need input widths that are multiples of 128.
DIMS = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}
SPEC = ModelSpec(name="Llama q", arch="llama", config=DIMS)
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _load(quantization: str | None, dtype: str = "bfloat16") -> torch.nn.Module:
    with random_checkpoint(SPEC, dtype, 0, quantization) as folder:
        return load_model(SPEC, dtype, "cpu", Path("."), quantization, folder).model


def _layer_bytes(model: torch.nn.Module) -> list[tuple[int, int, int]]:
    """(rows, cols, bytes held) of each quantized linear layer, each counted on its own."""
    out = []
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in LINEARS:
            tensors = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
            rows, cols = module.out_features, module.in_features
            out.append((rows, cols, sum(tensor_bytes(t, set()) for t in tensors)))
    assert len(out) == len(LINEARS) * DIMS["num_hidden_layers"]
    return out


# Bytes per layer of `rows` x `cols` weights, by hand from each format's layout.
HAND = {
    None: lambda r, c: 2 * r * c,  # bfloat16
    # int8 per weight, a float32 scale and an int8 zero point per output row (torchao)
    "int8": lambda r, c: r * c + r * (4 + 1),
    "w8a8": lambda r, c: r * c + r * (4 + 1),
    # two 4-bit weights per byte, a bfloat16 scale and a bfloat16 zero per group of 128
    "int4": lambda r, c: r * c // 2 + r * (c // 128) * (2 + 2),
    # two 4-bit weights per byte, a float32 absmax per block of 64, the 16-value NF4 code table
    "nf4": lambda r, c: r * c // 2 + r * c // 64 * 4 + 16 * 4,
    # torchao keeps w4a8's 4-bit values unpacked, one per int8; bfloat16 scale, int8 zero per group
    "w4a8": lambda r, c: r * c + r * (c // 128) * (2 + 1),
    # packed uint4; uint8 group scale; 4-bit zeros packed in pairs; a bfloat16 scale per row
    "qoq": lambda r, c: r * c // 2 + r * (c // 128) + r * math.ceil(c // 128 / 2) + 2 * r,
}


@pytest.mark.parametrize("method", ["int8", "int4", "nf4", "w8a8", "w4a8", "qoq"])
def test_each_quantization_holds_the_bytes_computed_by_hand(method):
    if method == "nf4" and not installed("bitsandbytes"):
        pytest.skip("bitsandbytes is not installed")
    base, quantized = _load(None), _load(method)
    for (r, c, before), (r2, c2, after) in zip(_layer_bytes(base), _layer_bytes(quantized), strict=True):
        assert (r, c, before) == (r2, c2, HAND[None](r, c))
        assert after == HAND[method](r, c), (method, r, c)
    if method in ("int4", "qoq"):  # about 4.25/16 of bfloat16 per quantized layer
        ratio = sum(b for *_, b in _layer_bytes(quantized)) / sum(b for *_, b in _layer_bytes(base))
        assert ratio == pytest.approx(4.25 / 16, abs=0.01)
    # the whole model shrinks too (embedding and head stay bfloat16)
    assert weight_bytes(quantized) < weight_bytes(base)


def test_qoq_matmul_equals_a_float_matmul_with_its_dequantized_weights():
    torch.manual_seed(0)
    linear = torch.nn.Linear(384, 96, bias=True)
    q = QoQLinear(linear)
    w8 = q.int8_weight()
    assert w8.dtype == torch.int8 and int(w8.abs().max()) <= 128
    x = torch.randn(7, 384)
    expected = x @ q.dequantized_weight().t() + linear.bias
    got = q(x)
    assert ((got - expected).norm() / expected.norm()).item() < 0.01
    # and the weights it multiplies by are close to the original ones (4-bit error, not garbage)
    rel = (q.dequantized_weight() - linear.weight).norm() / linear.weight.norm()
    assert 0 < rel.item() < 0.15


def _cell(quantization: str | None, dtype: str = "float32", **setting):
    from bench.schema import Protocol, Setting
    from bench.suite import Cell

    return Cell(
        suite="t",
        model=SPEC,
        setting=Setting(
            device="cpu",
            dtype=dtype,
            quantization=quantization,
            batch_size=1,
            prompt_tokens=8,
            new_tokens=4,
            **setting,
        ),
        protocol=Protocol(warmup=0, repeats=1, min_duration_s=0, timeout_s=60),
    )


def test_kl_of_the_baseline_against_itself_is_exactly_zero():
    model = _load(None, "float32")
    tokens = quality.stream(DIMS["vocab_size"], 0)
    cell = _cell(None)
    first = quality.forced_logprobs(model, cell, tokens, quality.STREAM_PREFIX)
    again = quality.forced_logprobs(_load(None, "float32"), cell, tokens, quality.STREAM_PREFIX)
    kl_mean, kl_p99, top1 = quality.compare(first, again)
    assert (kl_mean, kl_p99, top1) == (0.0, 0.0, 1.0)
    assert first.shape == (quality.STREAM_TOKENS - quality.STREAM_PREFIX, DIMS["vocab_size"])


def test_int4_moves_the_model_by_a_positive_finite_kl():
    cell = _cell("int4", "bfloat16")
    with random_checkpoint(SPEC, "bfloat16", 0, "int4") as folder:
        model = load_model(SPEC, "bfloat16", "cpu", Path("."), "int4", folder).model
        result = quality.measure(cell, [model], folder)
    assert 0 < result.kl_mean < math.inf and result.kl_p99 >= result.kl_mean
    assert 0 <= result.top1_agreement <= 1
    assert result.perplexity is None and "real checkpoint" in result.reason
    # the bfloat16 weights alone (nothing quantized) move it less than int4 does
    plain = quality.measure(_cell(None, "bfloat16"), [_load(None)], None)
    assert 0 < plain.kl_mean < result.kl_mean
