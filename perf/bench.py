"""`python -m perf.bench`: the bench's own speed and accuracy, measured side by side in one run.

1. Bare torch, in this process: a plain greedy loop over each model and shape, no harness.
2. The same 6 cells through the real sweep (fork server, one process per cell, result files).
Prints the sweep's wall time, the per-cell overhead beyond the timed model work, and each cell's
decode tok/s next to bare torch's (ratio) with the coefficient of variation across repeats.
Targets (issue 2): sweep <= 30 s, overhead <= 2 s a cell, ratio within 10 %, CV < 5 %. The CV of
bare torch's own repeats is printed beside the sweep's: on a shared VM the machine sets the floor.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

TINY = {"hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4, "num_attention_heads": 8,
        "num_key_value_heads": 2, "vocab_size": 32000}  # fmt: skip
SUITE = {
    "name": "perf-six",
    "device": "cpu",
    "warmup": 2,
    "repeats": 5,
    "timeout_s": 300,
    "seed": 0,  # the bare-torch reference builds the same weights and prompts from it
    "models": [
        {"name": "Llama tiny", "family": "Llama", "arch": "llama", "config": TINY},
        {"name": "Qwen2 tiny", "family": "Qwen", "arch": "qwen2", "config": TINY},
        {
            "name": "Mixtral tiny",
            "family": "Mistral",
            "arch": "mixtral",
            "config": {**TINY, "intermediate_size": 512, "num_local_experts": 8, "num_experts_per_tok": 2},
        },
    ],  # fmt: skip
    "settings": {"dtype": ["float32"], "batch_size": [1, 4], "prompt_tokens": [128], "new_tokens": [32]},
}


def bare_torch_decode(
    arch: str, config: dict, batch: int, prompt: int, new: int, warmup: int, repeats: int, seed: int
) -> list[float]:
    """Decode tok/s of each repeat from a plain loop in this process: the figure to match."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache

    from bench.measure import forward_kwargs

    cfg = AutoConfig.for_model(arch, **config, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(seed)  # as the cell does: the same weights, so a MoE routes the same tokens alike
    model = AutoModelForCausalLM.from_config(cfg).eval()
    cache_kw, _ = forward_kwargs(model)
    ids = torch.randint(3, cfg.vocab_size, (batch, prompt), generator=torch.Generator().manual_seed(seed))
    rates = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            cache = DynamicCache(config=model.config)
            out = model(input_ids=ids, use_cache=True, **{cache_kw: cache})
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            t0 = time.perf_counter()
            for _ in range(new - 1):
                nxt = (
                    model(input_ids=nxt, use_cache=True, **{cache_kw: cache})
                    .logits[:, -1]
                    .argmax(-1, keepdim=True)
                )
            if i >= warmup:
                rates.append(batch * (new - 1) / (time.perf_counter() - t0))
    del model
    gc.collect()
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.bench", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    console = Console(soft_wrap=True, width=150)
    from bench import runner
    from bench.suite import plan

    settings = SUITE["settings"]
    bare: dict[tuple[str, int], list[list[float]]] = {}  # one list of rates per pass

    def measure_bare(when: str) -> None:
        console.print(f"bare torch, in process ({when} the sweep) ...")
        for model in SUITE["models"]:
            for batch in settings["batch_size"]:
                rates = bare_torch_decode(
                    model["arch"], model["config"], batch, settings["prompt_tokens"][0], settings["new_tokens"][0],
                    SUITE["warmup"], SUITE["repeats"], SUITE["seed"],
                )  # fmt: skip
                # the machine drifts over the minute the sweep takes: the reference pools both passes
                bare.setdefault((model["name"], batch), []).append(rates)

    measure_bare("before")

    with tempfile.TemporaryDirectory() as tmp:
        suite_path = Path(tmp) / "perf-six.yaml"
        suite_path.write_text(yaml.safe_dump(SUITE))
        console.print("the same cells through the sweep ...")
        start = time.perf_counter()
        p = plan(suite_path)
        server_s = runner.start_cell_server(p)
        reports = runner.sweep(p, Path(tmp) / "results")
        wall_s = time.perf_counter() - start
    measure_bare("after")

    table = Table(
        title="decode tok/s: gpuscape sweep vs bare torch (same shapes, same run)", title_justify="left"
    )
    columns = (
        "cell",
        "sweep",
        "bare",
        "ratio",
        "CV sweep",
        "CV bare",
        "cell wall s",
        "model work s",
        "overhead s",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "cell" else "right")
    overheads, ratios, cvs, bare_cvs, works = [], [], [], [], []
    for report in reports:
        r = report.result
        m = r.metrics
        if r.status != "ok":
            table.add_row(report.cell.label, r.status, "", "", "", f"{r.duration_s:.2f}", "", "")
            continue
        per_token = m.decode.per_token_s
        runs = r.protocol.warmup + m.e2e.latency_s.n
        work_s = runs * m.e2e.latency_s.mean  # warmup runs take as long as timed ones
        overhead = r.duration_s - work_s
        works.append(work_s)
        passes = bare[(r.model.name, r.setting.batch_size)]
        ref = statistics.median(rate for rates in passes for rate in rates)
        ratio = m.decode.tokens_per_s / ref
        cv = per_token.stdev / per_token.mean
        # per pass, as the sweep's CV is over one cell's repeats; latency CV ~ rate CV at this size
        bare_cv = statistics.mean(statistics.stdev(rates) / statistics.mean(rates) for rates in passes)
        overheads.append(overhead)
        ratios.append(ratio)
        cvs.append(cv)
        bare_cvs.append(bare_cv)
        table.add_row(
            report.cell.label, f"{m.decode.tokens_per_s:.1f}", f"{ref:.1f}", f"{ratio:.3f}", f"{cv:.1%}",
            f"{bare_cv:.1%}", f"{r.duration_s:.2f}", f"{work_s:.2f}", f"{overhead:.2f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"sweep wall time: {wall_s:.1f} s for {len(reports)} cells (target <= 30 s), of which {server_s:.1f} s "
        f"starting the fork server once (imports torch, transformers and the models' code)\n"
        f"per-cell overhead beyond timed model work (spawn + build + teardown): median {statistics.median(overheads):.2f} s, "
        f"max {max(overheads):.2f} s (target <= 2 s)\n"
        f"decode tok/s ratio sweep / bare torch: median {statistics.median(ratios):.3f}, "
        f"range {min(ratios):.3f}..{max(ratios):.3f} (target within 0.90..1.10)\n"
        f"coefficient of variation of per-token decode latency: median {statistics.median(cvs):.1%}, "
        f"max {max(cvs):.1%} (target < 5 %); bare torch's own repeats in the same run: median "
        f"{statistics.median(bare_cvs):.1%}, max {max(bare_cvs):.1%}\n"
        f"timed model work alone (warmup + repeats, every cell): {sum(works):.1f} s of the {wall_s:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
