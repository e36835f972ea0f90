"""GuideLLM's `benchmarks.json` in the 0.3 layout (src/guidellm/benchmark/output.py
GenerativeBenchmarksReport: {"benchmarks": [GenerativeBenchmark, ...]}).

Each benchmark (one scheduling strategy: synchronous, concurrent, throughput, constant or
poisson) becomes one result. GuideLLM is a client of an HTTP server: it records the server's
model name and target, not the hardware, so the device comes from `--set device=...` or stays
"unknown". Per-request figures come from `requests.successful` (a sample when the run was saved
with a sample size; `request_samples` says so); summaries from `metrics`. The file records no
GuideLLM version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.schema import Decode, Latency, Metrics, Stats

from .common import Draft, ImportProblem, SourceFile, get, number, utc_iso

TOOL = "guidellm"
EXPECTED = (
    'a GuideLLM 0.3 benchmarks.json ({"benchmarks": [...]} with type_ "generative_benchmark" and '
    "metrics.time_to_first_token_ms)"
)


def detect(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or not data["benchmarks"]:
        return False
    return all(isinstance(b, dict) and b.get("type_") == "generative_benchmark" for b in data["benchmarks"])


def candidates(folder: Path) -> list[Path]:
    return sorted(folder.rglob("benchmarks.json"))


def read(source: SourceFile) -> list[Draft]:
    path, data = source.path, source.data
    if not detect(data):
        if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):
            kinds = sorted({str(b.get("type_")) for b in data["benchmarks"] if isinstance(b, dict)})
            raise ImportProblem(
                path,
                f"GuideLLM benchmarks of type {kinds} are not a layout this importer reads; expected {EXPECTED}",
            )
        raise ImportProblem(path, f"not a GuideLLM file; expected {EXPECTED}")
    return [_draft(path, index, bench) for index, bench in enumerate(data["benchmarks"])]


def _summary(bench: dict[str, Any], name: str, path: Path, index: int, stat: str = "median") -> float | None:
    value = get(bench, f"metrics.{name}.successful.{stat}", path, required=False)
    return (
        None
        if value is None
        else number(value, path, f"benchmarks[{index}].metrics.{name}.successful.{stat}")
    )


def _draft(path: Path, index: int, bench: dict[str, Any]) -> Draft:
    where = f"benchmarks[{index}]"
    strategy = get(bench, "args.strategy", path)
    kind = str(strategy.get("type_")) if isinstance(strategy, dict) else "unknown"
    notes: dict[str, str] = {}
    if kind == "synchronous":
        batch = 1
        notes["setting.batch_size"] = "GuideLLM synchronous strategy: one request at a time"
    elif kind == "concurrent" and isinstance(strategy.get("streams"), int) and strategy["streams"] >= 1:
        batch = int(strategy["streams"])
        notes["setting.batch_size"] = "GuideLLM concurrent strategy: its streams (requests in flight)"
    else:
        concurrency = _summary(bench, "request_concurrency", path, index, "mean")
        batch = max(1, round(concurrency or 1))
        notes["setting.batch_size"] = (
            f"GuideLLM {kind} strategy sets a rate, not a concurrency: mean request concurrency, rounded"
        )
    prompt = _summary(bench, "prompt_token_count", path, index)
    output = _summary(bench, "output_token_count", path, index)
    if prompt is None or output is None:
        raise ImportProblem(path, f"{where}.metrics: prompt_token_count and output_token_count missing")
    notes["setting.prompt_tokens"] = "GuideLLM prompt_token_count, median over successful requests, rounded"
    notes["setting.new_tokens"] = "GuideLLM output_token_count, median over successful requests, rounded"

    requests = get(bench, "requests.successful", path, required=False)
    requests = [r for r in requests if isinstance(r, dict)] if isinstance(requests, list) else []
    metrics = Metrics()

    def per_request(key: str, scale: float) -> list[float]:
        values = []
        for i, request in enumerate(requests):
            if request.get(key) is not None:
                value = number(request[key], path, f"{where}.requests.successful[{i}].{key}") * scale
                if value > 0:
                    values.append(value)
        return values

    sample = " (a sample of the requests: request_samples)" if bench.get("request_samples") else ""
    ttft = per_request("time_to_first_token_ms", 1e-3)
    if ttft:
        metrics.prefill = Latency(latency_s=Stats.of(ttft))
        notes["metrics.prefill.latency_s"] = (
            f"GuideLLM time_to_first_token_ms per successful request{sample}, in s"
        )
    itl = per_request("inter_token_latency_ms", 1e-3)
    if itl:
        stats = Stats.of(itl)
        metrics.decode = Decode(per_token_s=stats, tokens_per_s=batch / stats.median)
        notes["metrics.decode.per_token_s"] = (
            f"GuideLLM inter_token_latency_ms per successful request{sample} (first token excluded), in s"
        )
        notes["metrics.decode.tokens_per_s"] = (
            "derived: batch / median inter-token latency; GuideLLM's own output_tokens_per_second "
            "(whole run, includes prefill and waiting) is in source.reported"
        )
    latency = per_request("request_latency", 1.0)
    if latency:
        metrics.e2e = Latency(latency_s=Stats.of(latency))
        notes["metrics.e2e.latency_s"] = f"GuideLLM request_latency per successful request{sample}"
        notes["metrics.e2e.tokens_per_s"] = "null: see GuideLLM output_tokens_per_second in source.reported"
    reported: dict[str, float] = {}
    for name, stat in (
        ("requests_per_second", "mean"),
        ("output_tokens_per_second", "mean"),
        ("tokens_per_second", "mean"),
        ("time_to_first_token_ms", "median"),
        ("time_per_output_token_ms", "median"),
        ("inter_token_latency_ms", "median"),
        ("request_latency", "median"),
        ("request_concurrency", "mean"),
    ):
        value = _summary(bench, name, path, index, stat)
        if value is not None:
            reported[f"{name}.successful.{stat}"] = value
    worker = bench.get("worker") if isinstance(bench.get("worker"), dict) else {}
    model = worker.get("backend_model")
    if not isinstance(model, str) or not model:
        raise ImportProblem(path, f"{where}.worker.backend_model: missing (the model GuideLLM benchmarked)")
    start = bench.get("start_time")
    end = bench.get("end_time")
    started = utc_iso(number(start, path, f"{where}.start_time")) if start is not None else None
    duration = (
        number(end, path, f"{where}.end_time") - number(start, path, f"{where}.start_time")
        if start is not None and end is not None
        else 0.0
    )
    notes["setting.device"] = "GuideLLM measures a server over HTTP and does not record its hardware"
    notes["version"] = "GuideLLM 0.3 benchmarks.json records no GuideLLM version"
    return Draft(
        records=[index],
        kind=kind,
        model=model,
        model_path=model,
        setting={
            "batch_size": batch,
            "prompt_tokens": max(1, round(prompt)),
            "new_tokens": max(1, round(output)),
        },
        metrics=metrics,
        started_at=started,
        duration_s=max(0.0, duration),
        reported=reported,
        notes=notes,
    )
