import json
import math

import pytest
from pydantic import ValidationError

from bench.schema import METRICS, SCHEMA_FILE, Result, Stats, json_schema_text, metric, slugify


def test_committed_json_schema_matches_code():
    assert SCHEMA_FILE.read_text() == json_schema_text(), "run: python -m bench schema --write"


def test_stats_match_hand_computation():
    s = Stats.of([4.0, 1.0, 3.0, 2.0, 10.0])
    assert (s.n, s.min, s.max, s.median, s.mean) == (5, 1.0, 10.0, 3.0, 4.0)
    assert s.p90 == pytest.approx(4 + 0.6 * 6)  # linear interpolation between 4 and 10
    assert s.stdev == pytest.approx(math.sqrt(sum((v - 4) ** 2 for v in [4, 1, 3, 2, 10]) / 4))
    assert s.values == [4.0, 1.0, 3.0, 2.0, 10.0]  # raw order kept


@pytest.mark.parametrize(
    "name, slug",
    [
        ("Llama 3 (tiny)", "llama-3-tiny"),
        ("../../etc/passwd", "etc-passwd"),
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("..", "model"),
        ("Ünïcode Mödel", "unicode-model"),
    ],
)
def test_slugify_is_path_safe(name, slug):
    assert slugify(name) == slug
    assert "/" not in slug and slug not in (".", "..")


def _minimal(**over):
    data = {
        "schema": "gpuscape.result/1",
        "cell": "0123456789",
        "suite": "s",
        "status": "ok",
        "model": {"name": "m", "slug": "m", "family": "f", "source": "arch:llama"},
        "setting": {
            "device": "cpu",
            "dtype": "float32",
            "batch_size": 1,
            "prompt_tokens": 8,
            "new_tokens": 4,
        },
        "environment": {"gpuscape": "0.1.0"},
        "started_at": "2026-11-25T00:00:00Z",
        "duration_s": 1.0,
    }
    data.update(over)
    return data


def test_result_round_trips_with_schema_key_first():
    result = Result.model_validate(_minimal())
    text = result.to_json()
    assert text.lstrip().startswith('{\n  "schema": "gpuscape.result/1"')
    assert Result.model_validate_json(text) == result


@pytest.mark.parametrize(
    "over, field",
    [
        ({"schema": "gpuscape.result/2"}, "schema"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"metrics": {"load_s": float("nan")}}, "load_s"),
        ({"status": "fine"}, "status"),
        ({"extra_key": 1}, "extra_key"),
    ],
)
def test_result_rejects_bad_values(over, field):
    with pytest.raises(ValidationError) as info:
        Result.model_validate(json.loads(json.dumps(_minimal(**over), allow_nan=True)))
    assert field in str(info.value)


def test_metric_registry_describes_every_metric_once_with_units():
    assert len({m.label for m in METRICS.values()}) == len(METRICS)
    assert metric("peak_memory").title("cpu") == "Peak RSS (GiB)"
    assert metric("peak_memory").title("gpu") == "GPU memory (GiB)"
    with pytest.raises(KeyError, match="unknown metric"):
        metric("nope")


def test_peak_memory_picks_rss_on_cpu_and_nvml_on_gpu():
    cpu = Result.model_validate(_minimal(metrics={"memory": {"peak_rss_bytes": 2 * 2**30}}))
    assert metric("peak_memory").display(cpu) == pytest.approx(2.0)  # GiB
    gpu = Result.model_validate(
        _minimal(
            setting={**_minimal()["setting"], "device": "cuda"},
            metrics={
                "memory": {"peak_process_bytes": 3 * 2**30, "peak_reserved_bytes": 1, "peak_rss_bytes": 5}
            },
        )
    )
    assert metric("peak_memory").display(gpu) == pytest.approx(3.0)


def test_sweep_summary_takes_peak_memory_from_the_registry():
    """The end-of-sweep table and the report agree: a GPU cell whose NVML and allocator figures
    are missing shows no peak, never the host's RSS (the hand-written fallback did)."""
    from pathlib import Path
    from types import SimpleNamespace

    from bench.runner import CellReport, summary_rows
    from bench.schema import METRICS, device_kind
    from perf.synthetic import synthetic_results

    gpu = next(r for r in synthetic_results(40, 4) if r.status == "ok" and device_kind(r) == "gpu")
    cell = SimpleNamespace(label="a gpu cell")

    def row(result):
        return summary_rows([CellReport(cell=cell, result=result, reused=False, path=Path("x.json"))])[0]  # type: ignore[arg-type]

    rows = [row(gpu)]
    assert rows[0]["peak_memory"] == METRICS["peak_memory"].display(gpu) is not None
    memory = gpu.metrics.memory.model_copy(
        update={"peak_process_bytes": None, "peak_reserved_bytes": None, "peak_allocated_bytes": None,
                "peak_rss_bytes": 123_000_000}
    )  # fmt: skip
    blind = gpu.model_copy(update={"metrics": gpu.metrics.model_copy(update={"memory": memory})})
    assert row(blind)["peak_memory"] is None
