"""optimum-benchmark 0.5 and 0.6: `benchmark.json` (config + report), or `benchmark_report.json`
beside `benchmark_config.json`; text-generation scenarios of the inference benchmark.

The report's targets (optimum_benchmark/scenarios/inference/scenario.py): load_model, prefill,
decode, per_token in 0.5; 0.6 adds first_generate and generate. Latencies are seconds with their
raw `values` (one per timed generate call); memory is MB (1e6 bytes); energy is kWh. Its
per_token latency list is not used: the logits-processor events it comes from are kept across
calls, so the list also holds the gaps between runs (seen in the 0.6.0 fixtures: 76 values for
4 runs of 8 tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.schema import Decode, Energy, Latency, Memory, Metrics, Stats

from .common import Draft, ImportProblem, SourceFile, get, number, numbers

TOOL = "optimum-benchmark"
VERSIONS = ("0.5.", "0.6.")
EXPECTED = "an optimum-benchmark benchmark.json (keys config and report) or benchmark_report.json"
MB = 1_000_000  # optimum-benchmark's MEMORY_UNIT "MB" is 1e6 bytes (psutil bytes / 1e6)
KWH_J = 3_600_000.0
_DEFAULT_NEW_TOKENS = 100  # TEXT_GENERATION_DEFAULT_KWARGS["max_new_tokens"] in 0.5 and 0.6


def detect(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if {"config", "report"} <= set(data):
        return isinstance(data["config"], dict) and "backend" in data["config"]
    return isinstance(data.get("decode"), dict) and isinstance(data.get("prefill"), dict)


def candidates(folder: Path) -> list[Path]:
    """benchmark.json files; a benchmark_report.json only where no benchmark.json is beside it."""
    found = sorted(folder.rglob("benchmark.json"))
    have = {p.parent for p in found}
    found += [p for p in sorted(folder.rglob("benchmark_report.json")) if p.parent not in have]
    return sorted(found)


def read(source: SourceFile) -> list[Draft]:
    path, data = source.path, source.data
    if not detect(data):
        raise ImportProblem(path, f"not an optimum-benchmark file; expected {EXPECTED}")
    if "config" in data:
        config, report = data["config"], data["report"]
    else:
        config_path = path.with_name("benchmark_config.json")
        if not config_path.is_file():
            raise ImportProblem(path, "a benchmark_report.json needs its benchmark_config.json beside it")
        config = SourceFile.read(config_path).data
        report = data
    if not isinstance(config, dict) or not isinstance(report, dict):
        raise ImportProblem(path, f"expected {EXPECTED}")
    version = get(config, "environment.optimum_benchmark_version", path, required=False)
    if not isinstance(version, str) or not version.startswith(VERSIONS):
        raise ImportProblem(
            path,
            f"optimum-benchmark version {version!r} is not one this importer reads "
            f"(environment.optimum_benchmark_version 0.5.x or 0.6.x)",
        )
    backend = get(config, "backend", path)
    scenario = get(config, "scenario", path)
    if get(scenario, "name", path, required=False) != "inference" or "decode" not in report:
        raise ImportProblem(
            path, "only text-generation inference scenarios are imported (report.decode missing)"
        )
    return [_draft(path, version, config, backend, scenario, report)]


def _draft(
    path: Path, version: str, config: dict, backend: dict, scenario: dict, report: dict[str, Any]
) -> Draft:
    shapes = get(scenario, "input_shapes", path)
    batch = int(number(get(shapes, "batch_size", path), path, "scenario.input_shapes.batch_size"))
    prompt = int(number(get(shapes, "sequence_length", path), path, "scenario.input_shapes.sequence_length"))
    notes: dict[str, str] = {}
    generate_kwargs = scenario.get("generate_kwargs") or {}
    new_tokens = generate_kwargs.get("max_new_tokens", scenario.get("new_tokens"))
    if new_tokens is None:
        new_tokens = _DEFAULT_NEW_TOKENS
        notes["setting.new_tokens"] = "optimum-benchmark's default max_new_tokens (100): the file sets none"
    new_tokens = int(number(new_tokens, path, "scenario.generate_kwargs.max_new_tokens"))
    if generate_kwargs.get("min_new_tokens", new_tokens) != new_tokens:
        notes["setting.new_tokens"] = "max_new_tokens; min_new_tokens differs, so runs may have stopped early"

    metrics = Metrics()
    prefill = _latency(report, "prefill", path)
    if prefill is not None:
        metrics.prefill = Latency(latency_s=prefill)
        notes["metrics.prefill.latency_s"] = (
            "optimum-benchmark prefill.latency.values: generate with 1 new token"
        )
        notes["metrics.prefill.tokens_per_s"] = (
            "null: optimum-benchmark reports prefill throughput in samples/s (batch / mean latency); "
            "kept in source.reported as prefill.throughput"
        )
    decode = _latency(report, "decode", path)
    decode_tps = _throughput(report, "decode", path)
    if decode is not None and new_tokens > 1:
        per_token = Stats.of([v / (new_tokens - 1) for v in decode.values])
        metrics.decode = Decode(per_token_s=per_token, tokens_per_s=decode_tps)
        notes["metrics.decode.per_token_s"] = (
            "derived: each optimum-benchmark decode.latency value (first to last token of one run) "
            "divided by new_tokens - 1"
        )
        notes["metrics.decode.tokens_per_s"] = (
            "optimum-benchmark decode.throughput.value: batch x (new_tokens - 1) / mean decode latency"
        )
    generate = _latency(report, "generate", path)
    if generate is not None:
        metrics.e2e = Latency(latency_s=generate)
        notes["metrics.e2e.latency_s"] = (
            "optimum-benchmark generate.latency.values (0.6: whole generate call)"
        )
        notes["metrics.e2e.tokens_per_s"] = (
            "null: optimum-benchmark reports generate throughput in samples/s; kept in source.reported"
        )
    load = _latency(report, "load_model", path)
    if load is not None:
        metrics.load_s = load.median
        notes["metrics.load_s"] = "optimum-benchmark load_model.latency (median of its values)"
    metrics.memory = _memory(report, path)
    metrics.energy = _energy(report, path, batch * (new_tokens - 1))
    reported = {}
    for target in ("prefill", "decode", "generate"):
        value = _throughput(report, target, path)
        if value is not None:
            unit = get(report, f"{target}.throughput.unit", path, required=False)
            reported[f"{target}.throughput ({unit})"] = value

    env = config.get("environment") or {}
    device = str(backend.get("device") or "unknown")
    gpus = env.get("gpu")
    gpu_name = gpus[0] if isinstance(gpus, list) and gpus and isinstance(gpus[0], str) else None
    gpu_vram = env.get("gpu_vram_mb")
    dtype = backend.get("torch_dtype")
    if not isinstance(dtype, str) or not dtype:
        dtype = None
        notes["setting.dtype"] = (
            "optimum-benchmark torch_dtype is null: the checkpoint's own dtype, not recorded"
        )
    quant = backend.get("quantization_scheme")
    model = str(get(backend, "model", path))
    return Draft(
        records=[0],
        kind="inference",
        version=version,
        model=model,
        model_path=model,
        family=backend.get("model_type") if isinstance(backend.get("model_type"), str) else None,
        setting={
            "device": device,
            "dtype": dtype,
            "quantization": quant if isinstance(quant, str) and quant else None,
            "batch_size": batch,
            "prompt_tokens": prompt,
            "new_tokens": new_tokens,
        },
        metrics=metrics,
        gpu=gpu_name if device.startswith("cuda") or gpu_name else None,
        gpu_count=int(env.get("gpu_count") or 1),
        gpu_memory_bytes=int(gpu_vram * MB) if isinstance(gpu_vram, (int, float)) and gpu_vram > 0 else None,
        cpu=str(env["cpu"]).strip() if isinstance(env.get("cpu"), str) else None,
        cpu_cores=int(env["cpu_count"])
        if isinstance(env.get("cpu_count"), int) and env["cpu_count"] > 0
        else None,
        python=env.get("python_version") if isinstance(env.get("python_version"), str) else None,
        torch=backend.get("version") if backend.get("name") == "pytorch" else None,
        transformers=env.get("transformers_version")
        if isinstance(env.get("transformers_version"), str)
        else None,
        platform=env.get("platform") if isinstance(env.get("platform"), str) else None,
        duration_s=sum(
            (lat.values and sum(lat.values)) or 0.0 for lat in (prefill, decode, generate) if lat is not None
        ),
        reported=reported,
        notes=notes,
    )


def _latency(report: dict[str, Any], target: str, path: Path) -> Stats | None:
    values = get(report, f"{target}.latency.values", path, required=False)
    if values is None:
        return None
    parsed = numbers(values, path, f"report.{target}.latency.values")
    if any(v < 0 for v in parsed):
        raise ImportProblem(path, f"report.{target}.latency.values: a negative latency is not a timing")
    return Stats.of(parsed)


def _throughput(report: dict[str, Any], target: str, path: Path) -> float | None:
    value = get(report, f"{target}.throughput.value", path, required=False)
    return None if value is None else number(value, path, f"report.{target}.throughput.value")


def _memory(report: dict[str, Any], path: Path) -> Memory:
    """The largest of each optimum-benchmark memory figure over the prefill and decode runs."""
    peaks: dict[str, float] = {}
    for target in ("prefill", "decode", "generate"):
        memory = get(report, f"{target}.memory", path, required=False)
        if not isinstance(memory, dict):
            continue
        for key in ("max_ram", "max_allocated", "max_reserved", "max_process_vram", "max_global_vram"):
            if memory.get(key) is not None:
                value = number(memory[key], path, f"report.{target}.memory.{key}")
                peaks[key] = max(peaks.get(key, 0.0), value)
    as_bytes = {key: int(round(value * MB)) for key, value in peaks.items()}
    gpu = any(k in as_bytes for k in ("max_allocated", "max_reserved", "max_process_vram", "max_global_vram"))
    return (
        Memory(
            peak_rss_bytes=as_bytes.get("max_ram"),
            peak_allocated_bytes=as_bytes.get("max_allocated"),
            peak_reserved_bytes=as_bytes.get("max_reserved"),
            peak_process_bytes=as_bytes.get("max_process_vram"),
            peak_device_bytes=as_bytes.get("max_global_vram"),
            reason=None
            if gpu or not peaks
            else "optimum-benchmark max_ram (process RSS sampled every 10 ms, the largest over prefill and "
            "decode runs); no GPU figures on this device",
        )
        if peaks
        else Memory(reason="optimum-benchmark memory tracking was off in this file")
    )


def _energy(report: dict[str, Any], path: Path, decode_tokens: int) -> Energy:
    total = get(report, "decode.energy.total", path, required=False)
    unit = get(report, "decode.energy.unit", path, required=False)
    if total is None:
        return Energy(reason="optimum-benchmark energy tracking was off in this file")
    if unit != "kWh":
        return Energy(reason=f"optimum-benchmark decode energy in {unit!r}, not kWh: not read")
    joules = number(total, path, "report.decode.energy.total") * KWH_J
    per_token = joules / decode_tokens if decode_tokens > 0 else None
    return Energy(
        joules=joules,
        joules_per_token=per_token,
        source="codecarbon",
        reason="optimum-benchmark decode.energy.total (codecarbon, per decode run) in kWh x 3.6e6; "
        "per token: divided by batch x (new_tokens - 1)",
    )
