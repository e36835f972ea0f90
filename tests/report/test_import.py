"""`report import`: real optimum-benchmark files and faithfully sourced vLLM, llama-bench and
GuideLLM files (tests/fixtures/imports/README.md) become valid results with the source's numbers."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from bench.configkeys import family_name
from bench.schema import Result
from report.cli import main
from report.importers import ImportProblem, import_paths, read_results
from report.load import load_results

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
OB = FIXTURES / "optimum-benchmark"
MB = 1_000_000


def imported(tool: str, *paths: Path, overrides: dict[str, str] | None = None) -> list[Result]:
    return read_results(tool, paths, "t", overrides)


def only(results: list[Result]) -> Result:
    assert len(results) == 1
    return results[0]


# --------------------------------------------------------------------------- optimum-benchmark


@pytest.mark.parametrize("cell", sorted(p.name for p in (OB / "0.6.0").iterdir()))
def test_optimum_benchmark_06_numbers_equal_the_report(cell):
    folder = OB / "0.6.0" / cell
    document = json.loads((folder / "benchmark.json").read_text())
    config, report = document["config"], document["report"]
    result = only(imported("optimum-benchmark", folder / "benchmark.json"))
    m = result.metrics
    assert result.method == "imported"
    assert result.source.tool == "optimum-benchmark" and result.source.version == "0.6.0"
    assert result.source.sha256 == hashlib.sha256((folder / "benchmark.json").read_bytes()).hexdigest()
    assert result.source.records == [0]
    assert m.decode.tokens_per_s == report["decode"]["throughput"]["value"]
    assert m.prefill.latency_s.values == report["prefill"]["latency"]["values"]
    assert m.e2e.latency_s.values == report["generate"]["latency"]["values"]
    new = config["scenario"]["generate_kwargs"]["max_new_tokens"]
    assert m.decode.per_token_s.values == pytest.approx(
        [v / (new - 1) for v in report["decode"]["latency"]["values"]]
    )
    peak = max(report[t]["memory"]["max_ram"] for t in ("prefill", "decode"))
    assert m.memory.peak_rss_bytes == round(peak * MB)
    assert m.load_s == report["load_model"]["latency"]["values"][0]
    s = result.setting
    assert (s.device, s.dtype, s.quantization) == ("cpu", "float32", None)
    assert s.batch_size == config["scenario"]["input_shapes"]["batch_size"]
    assert s.prompt_tokens == config["scenario"]["input_shapes"]["sequence_length"]
    assert s.new_tokens == new
    assert result.model.name == Path(config["backend"]["model"]).name
    # the suites' family name for the model type: under one legend family with measured cells
    assert result.model.family == family_name(config["backend"]["model_type"])
    assert result.model.family in {"Llama", "OpenAI GPT"}
    assert result.environment.transformers == "4.57.6"
    # prefill throughput is samples/s in optimum-benchmark: not ours, so null with the reason
    assert m.prefill.tokens_per_s is None
    assert "samples/s" in result.source.notes["metrics.prefill.tokens_per_s"]
    assert (
        result.source.reported["prefill.throughput (samples/s)"] == report["prefill"]["throughput"]["value"]
    )
    assert "derived" in result.source.notes["metrics.decode.per_token_s"]
    assert m.energy.joules is None and m.energy.reason


@pytest.mark.parametrize("cell", sorted(p.name for p in (OB / "0.5.0").iterdir()))
def test_optimum_benchmark_05_has_no_generate_target(cell):
    folder = OB / "0.5.0" / cell
    report = json.loads((folder / "benchmark_report.json").read_text())
    assert "generate" not in report  # the 0.5 layout
    result = only(imported("optimum-benchmark", folder / "benchmark.json"))
    assert result.source.version == "0.5.0"
    assert result.metrics.decode.tokens_per_s == report["decode"]["throughput"]["value"]
    assert result.metrics.prefill.latency_s.values == report["prefill"]["latency"]["values"]
    assert result.metrics.e2e.latency_s is None
    assert result.source.notes["metrics.e2e.latency_s"].startswith("not measured by optimum-benchmark")


def test_optimum_benchmark_report_beside_config_reads_the_same(tmp_path):
    src = OB / "0.6.0" / "llama-tiny-b2"
    for name in ("benchmark_report.json", "benchmark_config.json"):
        shutil.copy(src / name, tmp_path / name)
    pair = only(imported("optimum-benchmark", tmp_path))  # a folder without benchmark.json
    whole = only(imported("optimum-benchmark", src / "benchmark.json"))
    assert pair.metrics == whole.metrics
    assert pair.setting == whole.setting
    assert pair.source.file == "benchmark_report.json"


def test_a_folder_imports_every_version(tmp_path):
    report = import_paths("optimum-benchmark", [OB], tmp_path / "ob")
    assert len(report.written.written) == 6
    loaded = load_results([tmp_path / "ob"])  # the report reads them as any result
    assert len(loaded) == 6
    assert {r.source.version for r in loaded} == {"0.5.0", "0.6.0"}
    assert {r.suite for r in loaded} == {"ob"}


# --------------------------------------------------------------------------- vLLM


def test_vllm_latency_takes_the_setting_from_its_pytorch_json():
    data = json.loads((FIXTURES / "vllm" / "latency.json").read_text())
    result = only(imported("vllm", FIXTURES / "vllm" / "latency.json"))
    assert result.source.kind == "latency" and result.source.version is None
    assert result.metrics.e2e.latency_s.values == data["latencies"]
    assert result.source.reported["avg_latency"] == data["avg_latency"]
    assert result.model.name == "meta-llama/Llama-3.1-8B-Instruct"
    assert (result.setting.batch_size, result.setting.prompt_tokens, result.setting.new_tokens) == (
        8,
        32,
        128,
    )
    assert "latency.pytorch.json" in result.source.notes["setting.batch_size"]
    assert result.metrics.decode.tokens_per_s is None


def test_vllm_throughput_needs_the_shapes_it_does_not_record():
    path = FIXTURES / "vllm" / "throughput.json"
    with pytest.raises(ImportProblem) as problem:
        imported("vllm", path)
    assert str(problem.value).startswith(
        str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
    )
    assert "--set model=..." in str(problem.value) and "\n" not in str(problem.value)
    data = json.loads(path.read_text())
    result = only(
        imported(
            "vllm",
            path,
            overrides={"model": "org/m", "prompt_tokens": "512", "new_tokens": "256", "device": "cuda"},
        )
    )
    assert result.metrics.e2e.latency_s.values == [data["elapsed_time"]]
    assert result.setting.batch_size == data["num_requests"]
    assert result.setting.device == "cuda"
    assert result.source.reported["tokens_per_second"] == data["tokens_per_second"]
    assert result.metrics.e2e.tokens_per_s is None  # vLLM's counts prompt tokens too
    assert "command line" in result.source.notes["setting.prompt_tokens"]


def test_vllm_serve_detailed_keeps_per_request_values():
    data = json.loads((FIXTURES / "vllm" / "serve-detailed.json").read_text())
    result = only(imported("vllm", FIXTURES / "vllm" / "serve-detailed.json"))
    m = result.metrics
    assert m.prefill.latency_s.values == data["ttfts"]
    assert m.e2e.latency_s.values == data["latencies"]
    tpots = [
        (lat - t) / (n - 1)
        for lat, t, n in zip(data["latencies"], data["ttfts"], data["output_lens"], strict=True)
    ]
    assert m.decode.per_token_s.values == pytest.approx(tpots)
    # the same per-token latency vLLM summarised itself
    assert m.decode.per_token_s.median * 1000 == pytest.approx(data["median_tpot_ms"])
    assert m.decode.tokens_per_s == pytest.approx(8 / m.decode.per_token_s.median)
    assert "derived" in result.source.notes["metrics.decode.tokens_per_s"]
    assert result.setting.batch_size == data["max_concurrency"]
    assert result.source.reported["output_throughput"] == data["output_throughput"]


def test_vllm_serve_summary_only_leaves_prefill_null_with_reason():
    data = json.loads((FIXTURES / "vllm" / "serve.json").read_text())
    result = only(imported("vllm", FIXTURES / "vllm" / "serve.json"))
    assert result.metrics.prefill.latency_s is None
    assert "--save-detailed" in result.source.notes["metrics.prefill.latency_s"]
    assert result.source.reported["median_ttft_ms"] == data["median_ttft_ms"]
    assert result.metrics.e2e.latency_s.values == data["latencies"]


def test_vllm_serve_appended_results_are_one_record_each(tmp_path):
    one = (FIXTURES / "vllm" / "serve.json").read_text()
    path = tmp_path / "appended.json"
    path.write_text(one + "\n" + one)  # what --append-result writes on a second run
    results = imported("vllm", path)
    assert [r.source.records for r in results] == [[0], [1]]
    assert results[0].metrics == results[1].metrics


# --------------------------------------------------------------------------- llama-bench


@pytest.mark.parametrize("name", ["bench.json", "bench.jsonl"])
def test_llama_bench_pairs_pp_and_tg(name):
    rows = json.loads((FIXTURES / "llama-bench" / "bench.json").read_text())
    results = imported("llama-bench", FIXTURES / "llama-bench" / name)
    by_records = {tuple(r.source.records): r for r in results}
    assert set(by_records) == {(0, 1), (2, 3), (4,)}
    gpu = by_records[(0, 1)]
    pp, tg = rows[0], rows[1]
    assert gpu.metrics.prefill.latency_s.values == [v / 1e9 for v in pp["samples_ns"]]
    assert gpu.metrics.prefill.tokens_per_s == pp["avg_ts"]
    assert gpu.metrics.decode.tokens_per_s == tg["avg_ts"]
    assert gpu.metrics.decode.per_token_s.values == pytest.approx([v / 1e9 / 128 for v in tg["samples_ns"]])
    assert (gpu.setting.prompt_tokens, gpu.setting.new_tokens, gpu.setting.batch_size) == (512, 128, 1)
    assert (gpu.setting.device, gpu.setting.quantization) == ("cuda", "Q4_K - Medium")
    assert gpu.environment.gpu.name == "NVIDIA GeForce RTX 4080"
    assert gpu.model.weight_bytes == pp["model_size"]
    assert gpu.source.reported["model_n_params"] == pp["model_n_params"]
    assert gpu.source.version == "b5163 (8cf427ff)"
    assert gpu.started_at == pp["test_time"]
    cpu = by_records[(2, 3)]
    assert (cpu.setting.device, cpu.setting.dtype, cpu.setting.quantization) == ("cpu", "float16", None)
    pg = by_records[(4,)]
    assert pg.metrics.e2e.latency_s.values == [v / 1e9 for v in rows[4]["samples_ns"]]
    assert pg.metrics.e2e.tokens_per_s is None and pg.source.reported["pg.avg_ts"] == rows[4]["avg_ts"]


# --------------------------------------------------------------------------- GuideLLM


def test_guidellm_benchmarks_become_one_result_each():
    data = json.loads((FIXTURES / "guidellm" / "benchmarks.json").read_text())
    results = imported("guidellm", FIXTURES / "guidellm")
    assert [r.source.records for r in results] == [[0], [1]]
    for result, bench in zip(results, data["benchmarks"], strict=True):
        ok = bench["requests"]["successful"]
        assert result.metrics.prefill.latency_s.values == pytest.approx(
            [r["time_to_first_token_ms"] / 1000 for r in ok]
        )
        assert result.metrics.decode.per_token_s.values == pytest.approx(
            [r["inter_token_latency_ms"] / 1000 for r in ok]
        )
        assert result.metrics.e2e.latency_s.values == [r["request_latency"] for r in ok]
        assert result.model.name == bench["worker"]["backend_model"]
        assert result.setting.device == "unknown"  # GuideLLM does not know the server's hardware
        assert result.source.kind == bench["args"]["strategy"]["type_"]
    assert [r.setting.batch_size for r in results] == [1, 4]


# --------------------------------------------------------------------------- the command


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["import", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_rerun_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results" / "ob"
    code, stdout, _ = run_cli(capsys, "optimum-benchmark", str(OB / "0.6.0"), "--out", str(out))
    assert code == 0 and "4 new result file(s)" in stdout
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    code, stdout, _ = run_cli(capsys, "optimum-benchmark", str(OB / "0.6.0"), "--out", str(out))
    assert code == 0 and "0 new result file(s)" in stdout and "4 already imported" in stdout
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["nosuchtool", str(OB)],
            "nosuchtool: unknown tool; expected one of optimum-benchmark, vllm, llama-bench, guidellm",
        ),
        (["vllm", str(FIXTURES / "llama-bench" / "bench.json")], "bench.json: a llama-bench file, not vllm"),
        (
            ["llama-bench", str(FIXTURES / "guidellm" / "benchmarks.json")],
            "benchmarks.json: a guidellm file, not llama-bench",
        ),
        (["guidellm", str(FIXTURES / "vllm" / "latency.json")], "latency.json: a vllm file, not guidellm"),
        (["optimum-benchmark", str(FIXTURES / "nowhere")], "nowhere: no such file or folder"),
        (
            ["vllm", str(FIXTURES / "vllm" / "throughput.json"), "--set", "batch_size=two"],
            "--set batch_size=two: expected a whole number",
        ),
        (["vllm", str(FIXTURES / "vllm" / "serve.json"), "--set", "colour=red"], "--set colour: unknown key"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, expected):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, *argv, "--out", str(out))
    assert code == 2
    assert stderr.count("\n") == 1 and expected in stderr, stderr
    assert not out.exists()


def test_unknown_version_and_broken_files(tmp_path, capsys):
    document = json.loads((OB / "0.6.0" / "llama-tiny-b1" / "benchmark.json").read_text())
    document["config"]["environment"]["optimum_benchmark_version"] = "0.4.0"
    old = tmp_path / "old" / "benchmark.json"
    old.parent.mkdir()
    old.write_text(json.dumps(document))
    broken = tmp_path / "broken.json"
    broken.write_text('{"avg_latency": 1.0, ')
    good = OB / "0.6.0" / "gpt2-tiny-b1" / "benchmark.json"
    out = tmp_path / "out"
    code, _, stderr = run_cli(capsys, "optimum-benchmark", str(good), str(old), "--out", str(out))
    assert code == 2 and "version '0.4.0' is not one this importer reads" in stderr
    assert not out.exists()  # the good file before it was not written either
    code, _, stderr = run_cli(capsys, "vllm", str(broken), "--out", str(out))
    assert code == 2 and "broken.json: not valid JSON" in stderr


def test_untrusted_names_stay_path_safe_and_on_one_line(tmp_path):
    data = json.loads((FIXTURES / "vllm" / "serve.json").read_text())
    data["model_id"] = "evil/../<script>alert(1)</script>"
    path = tmp_path / "serve.json"
    path.write_text(json.dumps(data))
    report = import_paths("vllm", [path], tmp_path / "results" / "evil")
    (written,) = report.written.written
    assert written.parent == tmp_path / "results" / "evil"
    result = Result.model_validate_json(written.read_text())
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", result.model.slug) and "/" not in result.model.slug
    assert result.model.name == data["model_id"]  # kept as given; the report escapes it


def test_config_is_read_offline_from_the_hub_cache(tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--acme--tiny-lm" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 2}))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    data = json.loads((FIXTURES / "vllm" / "serve.json").read_text())
    data["model_id"] = "acme/tiny-lm"
    path = tmp_path / "serve.json"
    path.write_text(json.dumps(data))
    result = only(imported("vllm", path))
    assert result.model.source == "hub:acme/tiny-lm"
    assert result.model.config == {"model_type": "llama", "num_hidden_layers": 2}
    assert result.model.family == "Llama"


def test_imported_points_have_their_own_marker_and_name_the_tool():
    """The report draws imported cells with a heavy outline keyed "imported (tool)" in the
    symbol legend, and their hover names the tool, its version and the file. (memory-speed:
    these files name no parameter count, so the 3D landscape leaves them out, saying so.)"""
    from report.charts import IMPORTED_OUTLINE, figure_spec
    from report.views import load_views

    results = imported("optimum-benchmark", FIXTURES / "optimum-benchmark" / "0.6.0")
    spec = figure_spec(load_views()["memory-speed"], results)
    data = [t for t in spec["data"] if t.get("mode") == "markers" and (t.get("x") or [None])[0] is not None]
    assert data, "no data trace drawn for imported results"
    for trace in data:
        assert trace["marker"]["line"]["color"] == IMPORTED_OUTLINE
        assert all("imported from optimum-benchmark 0.6.0" in text for text in trace["text"])
    keys = [t["name"] for t in spec["data"] if t.get("legend") == "legend2"]
    assert "imported (optimum-benchmark)" in keys


def test_a_bidi_control_in_a_tools_version_is_refused_in_one_line(tmp_path, capsys):
    """The source block's tool, version, file and kind are names like any other: a file whose
    build commit holds U+202E (which would show 'abcexe.png' on pages) is refused, naming it."""
    data = json.loads((FIXTURES / "llama-bench" / "bench.json").read_text())
    (data[0] if isinstance(data, list) else data)["build_commit"] = "abc\u202egnp.exe"
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "llama-bench", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    err = err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "version" in err[0] and "U+202E" in err[0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.json"))
