"""llama.cpp's llama-bench: `-o json` (an array of test objects) and `-o jsonl` (one per line).

Each object is one test (tools/llama-bench/llama-bench.cpp, json_printer / jsonl_printer): a
prompt-processing test (n_prompt > 0, n_gen = 0, "pp512"), a generation test (n_prompt = 0,
n_gen > 0, "tg128") or both (-pg). `samples_ns` holds one wall time per repetition for the whole
test; `avg_ts` is the mean over repetitions of tokens / seconds. llama-bench runs one sequence.

A pp test and a tg test of the same model and options (llama-bench's default pair) become one
result: prefill from pp, decode from tg. A pp test alone is a result with one new token; a tg
test alone one whose prompt is the single start token llama-bench decodes first (at depth 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.schema import Decode, Latency, Metrics, Stats

from .common import Draft, ImportProblem, SourceFile, number, numbers

TOOL = "llama-bench"
REQUIRED = ("build_commit", "model_type", "n_prompt", "n_gen", "avg_ns", "samples_ns", "avg_ts")
EXPECTED = f"llama-bench -o json or -o jsonl output (objects with {', '.join(REQUIRED)})"
# Per-test fields: everything else names the configuration a pp and a tg test share.
_PER_TEST = {
    "n_prompt",
    "n_gen",
    "test_time",
    "avg_ns",
    "stddev_ns",
    "avg_ts",
    "stddev_ts",
    "samples_ns",
    "samples_ts",
}
_FLOAT_TYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def detect(data: Any) -> bool:
    rows = data if isinstance(data, list) else None
    return bool(rows) and all(isinstance(r, dict) and all(k in r for k in REQUIRED) for r in rows)


def candidates(folder: Path) -> list[Path]:
    return sorted([*folder.rglob("*.json"), *folder.rglob("*.jsonl")])


def json_lines(path: Path) -> bool:
    return path.suffix == ".jsonl"


def read(source: SourceFile) -> list[Draft]:
    path, rows = source.path, source.data
    if not detect(rows):
        raise ImportProblem(path, f"not llama-bench output; expected {EXPECTED}")
    groups: dict[str, dict[str, list[int]]] = {}
    for index, row in enumerate(rows):
        key = json.dumps({k: v for k, v in row.items() if k not in _PER_TEST}, sort_keys=True)
        n_prompt, n_gen = (
            int(number(row["n_prompt"], path, f"[{index}].n_prompt")),
            int(number(row["n_gen"], path, f"[{index}].n_gen")),
        )
        kind = "pg" if n_prompt and n_gen else ("pp" if n_prompt else "tg")
        groups.setdefault(key, {}).setdefault(kind, []).append(index)
    drafts = []
    for tests in groups.values():
        pps, tgs = tests.get("pp", []), tests.get("tg", [])
        # Pair the n-th pp with the n-th tg of the same configuration (llama-bench's -p/-n order).
        for i in range(max(len(pps), len(tgs))):
            pp = pps[i] if i < len(pps) else None
            tg = tgs[i] if i < len(tgs) else None
            drafts.append(_draft(path, rows, pp, tg))
        drafts += [_draft_pg(path, rows, index) for index in tests.get("pg", [])]
    return sorted(drafts, key=lambda d: d.records)


def _samples_s(row: dict[str, Any], path: Path, index: int) -> list[float]:
    values = numbers(row["samples_ns"], path, f"[{index}].samples_ns")
    if any(v <= 0 for v in values):
        raise ImportProblem(path, f"[{index}].samples_ns: a timing must be positive")
    return [v / 1e9 for v in values]


def _draft(path: Path, rows: list[dict[str, Any]], pp: int | None, tg: int | None) -> Draft:
    base = rows[pp if pp is not None else tg]  # type: ignore[index]
    metrics = Metrics()
    notes: dict[str, str] = {}
    reported: dict[str, float] = {}
    records = [i for i in (pp, tg) if i is not None]
    prompt, new = 1, 1
    if pp is not None:
        row = rows[pp]
        prompt = int(row["n_prompt"])
        samples = _samples_s(row, path, pp)
        metrics.prefill = Latency(
            latency_s=Stats.of(samples), tokens_per_s=number(row["avg_ts"], path, f"[{pp}].avg_ts")
        )
        notes["metrics.prefill.latency_s"] = f"llama-bench pp{prompt} samples_ns (one per repetition), in s"
        notes["metrics.prefill.tokens_per_s"] = (
            "llama-bench avg_ts of the pp test: mean over repetitions of n_prompt / s"
        )
    else:
        notes["setting.prompt_tokens"] = "1: a tg test alone decodes from one start token (n_prompt 0)"
    if tg is not None:
        row = rows[tg]
        new = int(row["n_gen"])
        samples = _samples_s(row, path, tg)
        per_token = Stats.of([s / new for s in samples])
        metrics.decode = Decode(
            per_token_s=per_token, tokens_per_s=number(row["avg_ts"], path, f"[{tg}].avg_ts")
        )
        notes["metrics.decode.per_token_s"] = f"derived: each tg{new} sample (samples_ns) divided by n_gen"
        notes["metrics.decode.tokens_per_s"] = (
            "llama-bench avg_ts of the tg test: mean over repetitions of n_gen / s"
        )
    else:
        notes["setting.new_tokens"] = "1: a pp test alone generates no token; prefill ends at the first"
    for index in records:
        test = "pp" if index == pp else "tg"
        reported[f"{test}.avg_ts"] = number(rows[index]["avg_ts"], path, f"[{index}].avg_ts")
        if rows[index].get("stddev_ts") is not None:
            reported[f"{test}.stddev_ts"] = number(rows[index]["stddev_ts"], path, f"[{index}].stddev_ts")
    return _finish(
        path,
        base,
        records,
        prompt,
        new,
        metrics,
        notes,
        reported,
        "pp+tg" if len(records) == 2 else ("pp" if pp is not None else "tg"),
    )


def _draft_pg(path: Path, rows: list[dict[str, Any]], index: int) -> Draft:
    row = rows[index]
    samples = _samples_s(row, path, index)
    metrics = Metrics(e2e=Latency(latency_s=Stats.of(samples)))
    notes = {
        "metrics.e2e.latency_s": "llama-bench pg test samples_ns: prompt then generation, per repetition",
        "metrics.e2e.tokens_per_s": "null: llama-bench's avg_ts of a pg test counts prompt and generated "
        "tokens; kept in source.reported",
    }
    reported = {"pg.avg_ts": number(row["avg_ts"], path, f"[{index}].avg_ts")}
    return _finish(
        path, row, [index], int(row["n_prompt"]), int(row["n_gen"]), metrics, notes, reported, "pg"
    )


def _finish(
    path: Path,
    row: dict[str, Any],
    records: list[int],
    prompt: int,
    new: int,
    metrics: Metrics,
    notes: dict[str, str],
    reported: dict[str, float],
    kind: str,
) -> Draft:
    model_type = str(row["model_type"])  # "qwen2 7B Q4_K - Medium": arch, size label, file type
    arch, _, rest = model_type.partition(" ")
    _, _, ftype = rest.partition(" ")
    dtype = _FLOAT_TYPES.get(ftype.strip().upper())
    quant = None if dtype else (ftype.strip() or None)
    if dtype is None:
        notes["setting.dtype"] = (
            "llama.cpp computes in its own mixed precision; the weights' file type is the quantization"
        )
    backends = str(row.get("backends") or "")
    gpu_layers = row.get("n_gpu_layers")
    on_gpu = bool(backends) and backends.upper() not in ("CPU", "BLAS") and gpu_layers not in (0, None)
    device = backends.split(",")[0].strip().lower() if on_gpu else "cpu"
    params = row.get("model_n_params")
    size = row.get("model_size")
    if row.get("n_depth"):
        notes["setting.prompt_tokens"] = (
            f"the test ran at depth {row['n_depth']} (tokens already in the context)"
        )
    if isinstance(params, int) and params > 0:
        reported["model_n_params"] = float(params)
    notes["metrics.memory"] = (
        "llama-bench measures no memory; model_size (the weights' bytes) is model.weight_bytes"
    )
    build = row.get("build_number")
    commit = str(row["build_commit"])
    return Draft(
        records=records,
        kind=kind,
        version=f"b{build} ({commit})" if build is not None else commit,
        model=model_type,
        model_path=str(row.get("model_filename") or ""),
        family=arch or None,
        params=None,
        weight_bytes=int(size) if isinstance(size, int) and size >= 0 else None,
        setting={
            "device": device,
            "dtype": dtype,
            "quantization": quant,
            "batch_size": 1,
            "prompt_tokens": prompt if prompt > 1 else max(1, int(row.get("n_depth") or 0)),
            "new_tokens": max(1, new),
        },
        metrics=metrics,
        gpu=str(row["gpu_info"]) if on_gpu and row.get("gpu_info") else None,
        cpu=str(row["cpu_info"]) if row.get("cpu_info") else None,
        cpu_cores=None,
        started_at=str(row["test_time"]) if isinstance(row.get("test_time"), str) else None,
        reported=reported,
        notes={
            **notes,
            "model.params": "null: llama-bench records only the total (model_n_params, in source.reported); "
            "the active and embedding counts the contract needs are not in the file",
            "setting.batch_size": "llama-bench runs one sequence",
        },
    )
