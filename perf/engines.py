"""`python -m perf.engines`: engines, weight formats and KV caches of the tiny models, side by side.

Per tiny model of suites/cpu-small.yaml with full attention (quantized KV caches need it), in this
process, at bfloat16, batch 1, 128 prompt + 32 new tokens:
1. decode tok/s of the eager, static and compiled engines (median over repeats) and their ratio to
   eager; the compiled engine's first generation (compile included) as its compile time;
2. weight bytes under int8, int4, nf4 and qoq relative to bfloat16: the whole model (embedding
   and head stay bfloat16) and the quantized linear layers alone;
3. KV bytes the fp8 and int4 caches hold after a run relative to the bfloat16 cache.
Figures to print and explain, not thresholds. Timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import transformers
from rich.console import Console
from rich.table import Table

from bench.measure import CPUClock, cache_bytes, make_generator
from bench.methods import installed
from bench.models import load_model, random_checkpoint, weight_bytes
from bench.quant import head_names, tensor_bytes
from bench.suite import SUITES_DIR, load_suite

MODELS = ("Llama 3 (tiny)", "Qwen 2.5 (tiny)")
DTYPE, PROMPT, NEW = "bfloat16", 128, 32
WEIGHT_FORMATS = ("int8", "int4", "nf4", "qoq")
KV_FORMATS = ("fp8", "int4")


def _ids(vocab: int) -> torch.Tensor:
    return torch.randint(3, vocab, (1, PROMPT), generator=torch.Generator().manual_seed(0))


def engine_speeds(model: torch.nn.Module, repeats: int) -> dict[str, tuple[float, float | None]]:
    """engine -> (median decode tok/s, seconds of the first generation where it compiles)."""
    ids = _ids(model.get_input_embeddings().num_embeddings)
    engines = ("eager", "static", "compiled")
    generators, first_s = {}, {}
    for engine in engines:
        generators[engine] = make_generator(model, CPUClock(), engine, max_positions=PROMPT + NEW)
        start = time.perf_counter()
        generators[engine](ids, NEW)  # warm-up; compiles the decode step for `compiled`
        first_s[engine] = time.perf_counter() - start
        generators[engine](ids, NEW)
    per_token: dict[str, list[float]] = {engine: [] for engine in engines}
    for _ in range(repeats):  # interleaved, so a busy spell on a shared machine hits every engine
        for engine in engines:
            per_token[engine].append(generators[engine](ids, NEW).decode_per_token_s())
    return {
        engine: (1 / statistics.median(per_token[engine]), first_s[engine] if engine == "compiled" else None)
        for engine in engines
    }


def layer_bytes(model: torch.nn.Module) -> int:
    """Bytes of the linear layers a quantization converts (every one but the output head)."""
    skip = set(head_names(model))
    seen: set[int] = set()
    total = 0
    for name, module in model.named_modules():
        if name in skip or not hasattr(module, "in_features"):
            continue
        tensors = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        total += sum(tensor_bytes(t, seen) for t in tensors)
    return total


def weight_ratios(spec) -> dict[str, tuple[float, float] | str]:
    """format -> (whole model, quantized layers only) bytes relative to bfloat16."""
    base = load_model(spec, DTYPE, "cpu", Path("."), seed=0).model
    whole, layers = weight_bytes(base), layer_bytes(base)
    out: dict[str, tuple[float, float] | str] = {}
    for method in WEIGHT_FORMATS:
        if method == "nf4" and not installed("bitsandbytes"):
            out[method] = "bitsandbytes not installed"
            continue
        with random_checkpoint(spec, DTYPE, 0, method) as folder:
            model = load_model(spec, DTYPE, "cpu", Path("."), method, folder).model
        out[method] = (weight_bytes(model) / whole, layer_bytes(model) / layers)
    return out


def kv_ratios(model: torch.nn.Module) -> dict[str, float | str]:
    ids = _ids(model.get_input_embeddings().num_embeddings)
    held = {}
    for kv in ("model", *KV_FORMATS):
        if kv == "int4" and not installed("optimum.quanto"):
            held[kv] = None
            continue
        generate = make_generator(model, CPUClock(), kv_cache=kv)
        generate(ids, NEW)
        held[kv] = cache_bytes(generate.cache)
    return {
        kv: (held[kv] / held["model"] if held[kv] else "optimum-quanto not installed") for kv in KV_FORMATS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.engines", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed generations per engine")
    args = parser.parse_args(argv)
    console = Console(width=140)
    torch.set_grad_enabled(False)
    transformers.utils.logging.disable_progress_bar()
    specs = [m for m in load_suite(SUITES_DIR / "cpu-small.yaml").models if m.name in MODELS]
    speed = Table(title=f"Decode tok/s at {DTYPE}, batch 1, {PROMPT}+{NEW} tokens (median of {args.repeats})")
    for column in ("model", "eager", "static", "compiled", "static/eager", "compiled/eager", "compile s"):
        speed.add_column(column, justify="left" if column == "model" else "right")
    size = Table(title="Weight bytes relative to bfloat16: whole model / quantized layers only")
    size.add_column("model")
    for method in WEIGHT_FORMATS:
        size.add_column(method, justify="right")
    kv_table = Table(title=f"KV bytes held after {PROMPT}+{NEW} tokens, relative to bfloat16")
    kv_table.add_column("model")
    for kv in KV_FORMATS:
        kv_table.add_column(kv, justify="right")
    for spec in specs:
        model = load_model(spec, DTYPE, "cpu", Path("."), seed=0).model
        speeds = engine_speeds(model, args.repeats)
        eager = speeds["eager"][0]
        speed.add_row(
            spec.name,
            *(f"{speeds[e][0]:.1f}" for e in ("eager", "static", "compiled")),
            f"{speeds['static'][0] / eager:.2f}",
            f"{speeds['compiled'][0] / eager:.2f}",
            f"{speeds['compiled'][1]:.1f}",
        )
        kv = kv_ratios(model)
        kv_table.add_row(spec.name, *(f"{v:.3f}" if isinstance(v, float) else v for v in kv.values()))
        ratios = weight_ratios(spec)
        size.add_row(
            spec.name, *(f"{r[0]:.3f} / {r[1]:.3f}" if isinstance(r, tuple) else r for r in ratios.values())
        )
    for table in (speed, size, kv_table):
        console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
