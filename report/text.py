"""Plain text about results, defined once: numbers, counts, bytes, values with units, settings,
hardware names and failure reasons. Every page, slide, chart and terminal line says these
things the same way because they all call this module.

No HTML, Markdown or pptx here (callers escape for their medium), and no torch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from bench.hardware import catalog
from bench.schema import Metric, Result, device_kind

ELLIPSIS = "…"
_COUNT_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def number(value: float | None) -> str:
    """Three significant digits without exponents, for table cells; '' for a missing value."""
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def count(n: float | None, *, space: bool = True) -> str:
    """12,345,678 -> '12.3 M' (three significant digits, SI-like suffixes); `space=False`
    writes '12.3M' for tight places (axis ticks, hover)."""
    if n is None:
        return "n/a"
    gap = " " if space else ""
    # rounded first, so 999.6M takes the next suffix ("1B"), never "1e+03M"
    n = float(f"{n:.3g}") if isinstance(n, float) or abs(n) >= 1000 else n
    for scale, suffix in _COUNT_SUFFIXES:
        if abs(n) >= scale:
            return f"{n / scale:.3g}{gap}{suffix}"
    return f"{n:.3g}" if isinstance(n, float) and not n.is_integer() else f"{int(n)}"


def size_bytes(n: float) -> str:
    """Binary units: 131072 -> '128 KiB'."""
    for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= scale:
            value = n / scale
            return f"{value:,.0f} {suffix}" if value >= 1000 else f"{value:.3g} {suffix}"
    return f"{n:.3g} bytes"


def metric_value(metric: Metric, value: float | None) -> str:
    """A display value with its unit: 3 significant figures (whole numbers from 1,000),
    milliseconds under 0.1 s, counts as 8.03B / 124M; 'n/a' where missing."""
    if value is None:
        return "n/a"
    if not metric.unit:
        return count(value, space=False) if value >= 1000 else f"{value:.4g}"
    if metric.unit == "s" and value < 0.1:
        return f"{value * 1000:.3g} ms"
    if abs(value) >= 1000:
        return f"{value:,.0f} {metric.unit}"  # 7,200 tok/s, not 7.2e+03
    return f"{value:.3g} {metric.unit}"


def result_value(metric: Metric, result: Result) -> str:
    """A result's value of a metric, in display units, with its unit."""
    return metric_value(metric, metric.display(result))


def precision_text(result: Result) -> str:
    """dtype + quantization, and the engine and KV-cache format where they are not the default:
    'bfloat16 · int4', 'bfloat16 · compiled · KV fp8'."""
    s = result.setting
    parts = [s.dtype]
    if s.quantization and s.quantization.lower() != "none":
        parts.append(s.quantization)
    return " · ".join(parts + variant_parts(result))


def variant_parts(result: Result) -> list[str]:
    """The engine and the KV-cache format where they are not the defaults (eager, the model's)."""
    s = result.setting
    parts = [s.engine] if s.engine != "eager" else []
    return parts + ([f"KV {s.kv_cache}"] if s.kv_cache != "model" else [])


def setting_text(result: Result, *, device: bool = True) -> str:
    """A cell's setting in one line: device · precision (report.text.precision_text) · batch ·
    prompt · new tokens (`device=False` where the hardware is named beside it)."""
    s = result.setting
    parts = [s.device, precision_text(result)] if device else [precision_text(result)]
    parts += [f"batch {s.batch_size}", f"prompt {s.prompt_tokens}", f"{s.new_tokens} new"]
    return " · ".join(parts)


def method_text(result: Result) -> str:
    """How a figure was obtained, in a few words: measured (with a reference kernel's caveat),
    estimated from the roofline, or imported from another tool's file (naming the tool)."""
    if result.method == "estimated":
        return "estimated: roofline upper bound, not a run"
    if result.method == "imported":
        source = result.source
        if source is None:
            return "imported"
        version = f" {source.version}" if source.version else ""
        return f"imported from {source.tool}{version} ({source.file})"
    if result.metrics.kernel == "reference":
        return "measured, reference kernel (its speed is not representative)"
    return "measured"


def hardware_name(result: Result) -> str:
    """The machine a result ran on: GPU name (with count), else CPU model, else the device;
    an estimate names the device it was estimated for."""
    env = result.environment
    if result.method == "estimated":
        known = catalog().get(result.setting.device)
        return f"{known.name if known is not None else result.setting.device} (estimated)"
    if device_kind(result) == "gpu" and env.gpu is not None:
        return env.gpu.name if env.gpu.count == 1 else f"{env.gpu.count}× {env.gpu.name}"
    if device_kind(result) == "cpu" and env.cpu is not None and env.cpu.model:
        return env.cpu.model
    return result.setting.device


def failure_reason(result: Result, limit: int = 300) -> str | None:
    """Why a cell failed, in one line of at most `limit` characters; None for a success."""
    if result.status == "ok":
        return None
    if result.error is None:
        return result.status
    return cut(" ".join(f"{result.error.type}: {result.error.message}".split()), limit)


def failure_line(result: Result) -> str:
    """One failed cell in a line: model, setting, status."""
    return f"{result.model.name} ({setting_text(result)}): {result.status}"


def status_counts(results: Iterable[Result]) -> str:
    """'2 error, 1 oom' for the cells that did not succeed; '' when all did."""
    counts = Counter(r.status for r in results if r.status != "ok")
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def plural(n: int, word: str) -> str:
    """'1 model', '3 models'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis where cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
