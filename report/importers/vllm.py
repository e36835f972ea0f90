"""vLLM's benchmark files: `vllm bench latency --output-json`, `vllm bench throughput --output-json`
and `vllm bench serve --save-result` (vllm/benchmarks/{latency,throughput,serve}.py).

The latency and throughput files hold only timings: the model and the shapes come from the
`<stem>.pytorch.json` vLLM writes beside them when SAVE_TO_PYTORCH_BENCHMARK_FORMAT is set (its
`benchmark.extra_info.args`), else from `--set` on the import command line. The files record no
vLLM version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.schema import Decode, Latency, Metrics, Stats

from .common import Draft, ImportProblem, SourceFile, get, number, numbers, stats_s

TOOL = "vllm"
APPENDED = True  # `vllm bench serve --append-result` adds one JSON document per line to a file
LATENCY_KEYS = {"avg_latency", "std_latency", "latencies", "percentiles"}
THROUGHPUT_KEYS = {
    "elapsed_time",
    "num_requests",
    "total_num_tokens",
    "requests_per_second",
    "tokens_per_second",
}
SERVE_KEYS = {"date", "model_id", "duration", "completed", "total_input_tokens", "total_output_tokens"}
EXPECTED = (
    "a vllm bench latency/throughput --output-json file or a vllm bench serve --save-result file "
    f"(keys {sorted(LATENCY_KEYS)}, {sorted(THROUGHPUT_KEYS)} or {sorted(SERVE_KEYS)})"
)


def kind_of(data: Any) -> str | None:
    """'latency', 'throughput' or 'serve' by the keys vLLM writes, else None."""
    if not isinstance(data, dict):
        return None
    keys = set(data)
    if LATENCY_KEYS <= keys:
        return "latency"
    if THROUGHPUT_KEYS <= keys:
        return "throughput"
    if SERVE_KEYS <= keys:
        return "serve"
    return None


def detect(data: Any) -> bool:
    if isinstance(data, list):  # --append-result: serve results, one per line
        return bool(data) and all(kind_of(d) == "serve" for d in data)
    return kind_of(data) is not None


def candidates(folder: Path) -> list[Path]:
    """The JSON files under a folder, without vLLM's own `.pytorch.json` companions."""
    return sorted(p for p in folder.rglob("*.json") if not p.name.endswith(".pytorch.json"))


def read(source: SourceFile) -> list[Draft]:
    if isinstance(source.data, list) and detect(source.data):
        drafts = []
        for index, document in enumerate(source.data):
            draft = _serve(SourceFile(source.path, source.sha256, document, source.mtime))
            draft.records = [index]
            drafts.append(draft)
        return drafts
    kind = kind_of(source.data)
    if kind is None:
        raise ImportProblem(source.path, f"not a vLLM benchmark file; expected {EXPECTED}")
    if kind == "serve":
        return [_serve(source)]
    draft = _latency(source) if kind == "latency" else _throughput(source)
    _args_from_companion(source.path, draft)
    return [draft]


def _companion_args(path: Path) -> dict[str, Any]:
    """`benchmark.extra_info.args` of the .pytorch.json vLLM writes beside the file, if any."""
    companion = path.with_name(path.stem + ".pytorch.json")
    if not companion.is_file():
        return {}
    try:
        records = json.loads(companion.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ImportProblem(companion, "not valid JSON (vLLM's PyTorch-benchmark-format companion)") from None
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        raise ImportProblem(companion, "expected a list of PyTorch benchmark records")
    args = get(records[0], "benchmark.extra_info.args", companion, required=False)
    return args if isinstance(args, dict) else {}


def _args_from_companion(path: Path, draft: Draft) -> None:
    args = _companion_args(path)
    if not args:
        return
    where = f"{path.stem}.pytorch.json"
    if isinstance(args.get("model"), str):
        draft.model = args["model"]
        draft.model_path = args["model"]
    mapping = {"batch_size": "batch_size", "input_len": "prompt_tokens", "output_len": "new_tokens"}
    if draft.kind == "throughput":
        mapping = {"num_prompts": "batch_size", "input_len": "prompt_tokens", "output_len": "new_tokens"}
    for arg, key in mapping.items():
        value = args.get(arg)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            draft.setting[key] = value
            draft.notes[f"setting.{key}"] = f"vLLM's --{arg.replace('_', '-')} in {where}"
    if isinstance(args.get("dtype"), str) and args["dtype"] != "auto":
        draft.setting["dtype"] = args["dtype"]
    if isinstance(args.get("quantization"), str):
        draft.setting["quantization"] = args["quantization"]
    if isinstance(args.get("device"), str) and args["device"] != "auto":
        draft.setting["device"] = args["device"]


def _latency(source: SourceFile) -> Draft:
    path, data = source.path, source.data
    latencies = numbers(data["latencies"], path, "latencies")
    if any(v < 0 for v in latencies):
        raise ImportProblem(path, "latencies: a negative latency is not a timing")
    e2e = Stats.of(latencies)
    return Draft(
        records=[0],
        kind="latency",
        model="",
        setting={},
        metrics=Metrics(e2e=Latency(latency_s=e2e)),
        reported={"avg_latency": number(data["avg_latency"], path, "avg_latency")},
        notes={
            "metrics.e2e.latency_s": "vLLM's latencies: wall time of llm.generate over the whole batch "
            "(--batch-size prompts of --input-len tokens, --output-len new tokens, ignore_eos), per iteration",
            "metrics.e2e.tokens_per_s": "not recorded by vllm bench latency",
            "version": "vllm bench latency files record no vLLM version",
        },
        duration_s=sum(latencies),
    )


def _throughput(source: SourceFile) -> Draft:
    path, data = source.path, source.data
    elapsed = number(data["elapsed_time"], path, "elapsed_time")
    reported = {
        key: number(data[key], path, key)
        for key in ("requests_per_second", "tokens_per_second", "num_requests", "total_num_tokens")
    }
    return _throughput_draft(data, elapsed, reported, path)


def _throughput_draft(data: dict[str, Any], elapsed: float, reported: dict[str, float], path: Path) -> Draft:
    num_requests = int(number(data["num_requests"], path, "num_requests"))
    return Draft(
        records=[0],
        kind="throughput",
        model="",
        setting={"batch_size": num_requests} if num_requests >= 1 else {},
        metrics=Metrics(e2e=Latency(latency_s=Stats.of([elapsed]))),
        reported=reported,
        notes={
            "metrics.e2e.latency_s": "vLLM's elapsed_time: one llm.generate over all requests",
            "metrics.e2e.tokens_per_s": "null: vLLM's tokens_per_second counts prompt and output tokens "
            "(total_num_tokens / elapsed_time); it is kept in source.reported",
            "setting.batch_size": "vLLM's num_requests: all requests were given to one llm.generate",
            "version": "vllm bench throughput files record no vLLM version",
        },
        duration_s=elapsed,
    )


def _serve(source: SourceFile) -> Draft:
    """A serving run against an OpenAI-compatible server: per-request TTFT, TPOT and latency."""
    path, data = source.path, source.data
    completed = int(number(data["completed"], path, "completed"))
    if completed < 1:
        raise ImportProblem(path, "completed: no request completed, nothing was measured")
    total_in = number(data["total_input_tokens"], path, "total_input_tokens")
    total_out = number(data["total_output_tokens"], path, "total_output_tokens")
    notes: dict[str, str] = {
        "setting.prompt_tokens": "total_input_tokens / completed requests (vLLM records lengths per "
        "request only with --save-detailed), rounded",
        "setting.new_tokens": "total_output_tokens / completed requests, rounded",
    }
    concurrency = data.get("max_concurrency")
    if isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1:
        batch = concurrency
        notes["setting.batch_size"] = "vLLM's max_concurrency (requests in flight at most)"
    else:
        batch = completed
        notes["setting.batch_size"] = (
            f"no max_concurrency: all {completed} requests were sent at request rate "
            f"{data.get('request_rate')!s}; the batch is the request count"
        )
    metrics = Metrics()
    latencies = data.get("latencies")
    errors = data.get("errors")
    ok = [i for i in range(completed)]  # without errors recorded, every listed request counts
    if isinstance(errors, list):
        ok = [i for i, e in enumerate(errors) if not e]
    if isinstance(latencies, list) and latencies:
        values = numbers(latencies, path, "latencies")
        kept = [values[i] for i in ok if i < len(values) and values[i] > 0]
        metrics.e2e = Latency(latency_s=stats_s(kept))
        notes["metrics.e2e.latency_s"] = "vLLM's per-request latencies of the successful requests"
    ttfts = data.get("ttfts")
    if isinstance(ttfts, list) and ttfts:
        values = numbers(ttfts, path, "ttfts")
        kept = [values[i] for i in ok if i < len(values) and values[i] > 0]
        metrics.prefill = Latency(latency_s=stats_s(kept))
        notes["metrics.prefill.latency_s"] = "vLLM's per-request time to first token (ttfts), under load"
    else:
        notes["metrics.prefill.latency_s"] = (
            "null: the file keeps TTFT only as summaries (saved without --save-detailed); "
            "see source.reported median_ttft_ms"
        )
    output_lens = data.get("output_lens")
    if isinstance(ttfts, list) and isinstance(latencies, list) and isinstance(output_lens, list):
        per_token = []
        for i in ok:
            if i < min(len(ttfts), len(latencies), len(output_lens)):
                n = output_lens[i]
                if isinstance(n, int) and n > 1:
                    per_token.append(
                        (number(latencies[i], path, "latencies") - number(ttfts[i], path, "ttfts")) / (n - 1)
                    )
        per_token = [v for v in per_token if v > 0]
        if per_token:
            stats = Stats.of(per_token)
            metrics.decode = Decode(per_token_s=stats, tokens_per_s=batch / stats.median)
            notes["metrics.decode.per_token_s"] = (
                "derived per request as vLLM's TPOT: (latency - ttft) / (output_len - 1)"
            )
            notes["metrics.decode.tokens_per_s"] = (
                "derived: batch (max concurrency) / median per-token latency; an upper bound under "
                "load, see source.reported output_throughput for vLLM's measured figure"
            )
    if metrics.decode.per_token_s is None:
        notes["metrics.decode.per_token_s"] = (
            "null: the file keeps TPOT only as summaries; see source.reported median_tpot_ms"
        )
    reported: dict[str, float] = {}
    for key, value in data.items():
        if key.endswith(("_ms", "_throughput", "_goodput")) or key in ("duration", "max_output_tokens_per_s"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                reported[key] = number(value, path, key)
    if isinstance(data.get("date"), str):
        # vLLM's date is the client's local time with no zone: kept here, not passed off as UTC
        notes["started_at"] = (
            f"the file's modification time; vLLM's own date {data['date']!r} is the client's local "
            "time and the file records no time zone"
        )
    version = data.get("version") if isinstance(data.get("version"), str) else None
    if version is None:
        notes["version"] = (
            "vllm bench serve files record no vLLM version (unless given as --metadata version=...)"
        )
    return Draft(
        records=[0],
        kind="serve",
        model=str(data["model_id"]),
        model_path=str(data["model_id"]),
        setting={
            "batch_size": batch,
            "prompt_tokens": max(1, round(total_in / completed)),
            "new_tokens": max(1, round(total_out / completed)),
        },
        metrics=metrics,
        version=version,
        duration_s=number(data["duration"], path, "duration"),
        reported=reported,
        notes=notes,
    )
