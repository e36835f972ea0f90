"""Real sweeps: tiny models from configs, real child processes, real result files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import runner, store
from bench.cell import TEST_CRASH_ENV
from bench.cli import main
from bench.schema import Result
from bench.suite import plan

from .conftest import TINY_LLAMA, tiny_suite

REPO = Path(__file__).resolve().parents[2]


def llama_params_by_hand(c: dict) -> int:
    """Llama parameter count from its dimensions (independent of torch)."""
    h, i, n, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    head_dim = h // c["num_attention_heads"]
    attn = h * c["num_attention_heads"] * head_dim * 2 + h * c["num_key_value_heads"] * head_dim * 2
    mlp = 3 * h * i
    norms = 2 * h
    embed = v * h
    head = 0 if c.get("tie_word_embeddings") else v * h
    return embed + n * (attn + mlp + norms) + h + head


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One sweep of the tiny suite, shared by the value checks below."""
    folder = tmp_path_factory.mktemp("sweep")
    suite_path = folder / "suite.yaml"
    import yaml

    data = tiny_suite("values")
    data["models"][0]["settings"] = {"quantization": ["none", "int8"]}
    suite_path.write_text(yaml.safe_dump(data))
    p = plan(suite_path)
    reports = runner.sweep(p, folder / "results")
    return p, reports, folder / "results"


def test_every_cell_writes_one_valid_result(swept):
    p, reports, out = swept
    files = sorted((out / "values").glob("*.json"))
    assert len(files) == len(p.cells) == 6
    for f in files:
        result = Result.model_validate_json(f.read_text())
        assert result.status == "ok", result.error
        assert f.stem == result.cell


def test_values_are_plausible_and_consistent(swept):
    _, reports, _ = swept
    for report in reports:
        r = report.result
        m, s = r.metrics, r.setting
        assert m.generated_tokens == s.new_tokens
        for stats in (m.prefill.latency_s, m.decode.per_token_s, m.e2e.latency_s):
            assert stats.n == 3 and len(stats.values) == 3
            assert stats.min <= stats.median <= stats.max
            assert stats.min > 0
        assert m.decode.tokens_per_s == pytest.approx(s.batch_size / m.decode.per_token_s.median)
        assert m.prefill.tokens_per_s == pytest.approx(
            s.batch_size * s.prompt_tokens / m.prefill.latency_s.median
        )
        assert m.e2e.latency_s.median > m.prefill.latency_s.median
        # the cell's own peak resident set holds at least its weights above the pre-load baseline
        assert m.memory.peak_rss_bytes > m.memory.baseline_rss_bytes
        assert m.memory.peak_rss_bytes - m.memory.baseline_rss_bytes >= 0.5 * r.model.weight_bytes
        assert m.energy.joules is not None or m.energy.reason
        assert r.environment.torch and r.environment.cpu.cores >= 1


def test_parameter_counts_equal_an_independent_count(swept):
    _, reports, _ = swept
    by_name = {r.result.model.name: r.result for r in reports if r.result.setting.quantization is None}
    llama = by_name["Llama tiny"].model
    assert llama.params.total == llama_params_by_hand(TINY_LLAMA)
    assert llama.params.active == llama.params.total
    assert llama.params.embedding == 2 * TINY_LLAMA["vocab_size"] * TINY_LLAMA["hidden_size"]  # untied head
    qwen = by_name["Qwen tiny"].model
    assert qwen.params.embedding == TINY_LLAMA["vocab_size"] * TINY_LLAMA["hidden_size"]  # tied: once
    # float32 weights plus RoPE's inv_freq and original_inv_freq buffers: head_dim / 2 floats each
    head_dim = TINY_LLAMA["hidden_size"] // TINY_LLAMA["num_attention_heads"]
    assert llama.weight_bytes - llama.params.total * 4 == 2 * (head_dim // 2) * 4


def test_int8_weights_take_about_a_quarter_of_float32(swept):
    _, reports, _ = swept
    llama = [
        r.result for r in reports if r.result.model.name == "Llama tiny" and r.result.setting.batch_size == 1
    ]
    fp32 = next(r for r in llama if r.setting.quantization is None)
    int8 = next(r for r in llama if r.setting.quantization == "int8")
    linear = TINY_LLAMA["num_hidden_layers"] * (
        TINY_LLAMA["hidden_size"] * TINY_LLAMA["hidden_size"] * 2
        + TINY_LLAMA["hidden_size"] * 32 * 2
        + 3 * 64 * 128
    )
    # every decoder Linear shrinks from 4 bytes to 1 per weight; embeddings and head stay float32
    assert fp32.model.weight_bytes - int8.model.weight_bytes >= 3 * linear * 0.95
    assert int8.metrics.decode.tokens_per_s > 0


def test_rerun_reuses_results(swept, tmp_path):
    p, reports, out = swept
    again = runner.sweep(p, out)
    assert all(r.reused for r in again)
    assert [r.result for r in again] == [r.result for r in reports]


def test_redo_measures_the_cell_again(write_suite, tmp_path):
    """--redo runs a cell that already has a result: a new measurement, a new started_at, the file
    rewritten in place (the same cell id, so the same path)."""
    data = tiny_suite("redo", [{"name": "Llama", "arch": "llama", "config": TINY_LLAMA}])
    data["settings"]["batch_size"] = [1]
    path = write_suite(data)
    out = tmp_path / "results"
    (first,) = runner.sweep(plan(path), out)
    old_text = first.path.read_text()
    time.sleep(1.1)  # started_at has one-second resolution
    assert main(["run", str(path), "--out", str(out), "--no-progress", "--redo"]) == 0
    again = Result.model_validate_json(first.path.read_text())
    assert first.path.read_text() != old_text
    assert again.cell == first.result.cell and again.status == "ok"
    assert again.started_at > first.result.started_at
    assert again.metrics.decode.per_token_s.values != first.result.metrics.decode.per_token_s.values
    # without --redo the same command keeps the file as it is
    kept = first.path.read_text()
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    assert first.path.read_text() == kept


def test_failures_are_recorded_and_the_sweep_goes_on(write_suite, tmp_path, monkeypatch, capsys):
    big = {
        **TINY_LLAMA,
        "hidden_size": 512,
        "intermediate_size": 2048,
        "num_attention_heads": 8,
        "vocab_size": 32000,
    }
    models = [
        {"name": "Crasher", "arch": "llama", "config": TINY_LLAMA},
        {"name": "Too big", "arch": "llama", "config": big},
        {
            "name": "Slow",
            "arch": "llama",
            "config": TINY_LLAMA,
            "settings": {"prompt_tokens": [256], "new_tokens": [4000]},
        },
        {"name": "Fine", "arch": "llama", "config": TINY_LLAMA},
    ]
    suite = tiny_suite("faults", models, timeout_s=8, memory_limit_gb=0.05)
    suite["settings"]["batch_size"] = [1]
    monkeypatch.setenv(TEST_CRASH_ENV, "crasher")
    out = tmp_path / "results"
    code = main(["run", str(write_suite(suite)), "--out", str(out), "--no-progress"])
    assert code == 1  # an error and a timeout
    results = {
        r.model.name: r
        for r in (Result.model_validate_json(f.read_text()) for f in (out / "faults").glob("*.json"))
    }
    assert results["Crasher"].status == "error" and "SIGSEGV" in results["Crasher"].error.message
    assert results["Too big"].status == "oom", results["Too big"].error
    assert results["Slow"].status == "timeout" and "timeout_s=8" in results["Slow"].error.message
    assert results["Fine"].status == "ok"
    printed = capsys.readouterr().out
    assert "1 error" in printed and "1 oom" in printed and "1 timeout" in printed


def test_parent_killed_mid_sweep_leaves_no_corrupt_file_and_rerun_runs_only_the_rest(write_suite, tmp_path):
    data = tiny_suite("killed")
    data["settings"]["batch_size"] = [1, 2, 3]
    path = write_suite(data)
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench", "run", str(path), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = out / "killed"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < 2:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {f.name for f in folder.glob("*.json")}
    assert 2 <= len(done_before) < 6
    for f in folder.glob("*.json"):
        Result.model_validate_json(f.read_text())  # every file present is whole
    time.sleep(1)  # let the orphaned cell notice its parent is gone
    reports = runner.sweep(plan(path), out)
    reran = {r.path.name for r in reports if not r.reused}
    assert reran == {f"{c.id}.json" for c in plan(path).cells} - done_before
    assert not list(folder.glob("*.tmp"))


def test_a_second_sweep_on_the_same_folder_is_refused(write_suite, tmp_path, capsys):
    path = write_suite(tiny_suite("locked"))
    out = tmp_path / "results"
    with store.folder_lock(out):
        assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 3
    assert "another sweep is writing here" in capsys.readouterr().out


def test_path_route_loads_a_saved_checkpoint(write_suite, tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = tmp_path / "ckpt"
    config = AutoConfig.for_model("llama", **TINY_LLAMA, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    data = tiny_suite("pathroute", [{"name": "Saved", "path": str(folder)}])
    data["settings"]["batch_size"] = [1]
    reports = runner.sweep(plan(write_suite(data)), tmp_path / "results")
    (result,) = [r.result for r in reports]
    assert result.status == "ok", result.error
    assert result.model.source == f"path:{folder}"
    assert result.model.params.total == llama_params_by_hand(TINY_LLAMA)
    assert json.loads(result.to_json())["model"]["config"]["hidden_size"] == 64


def test_hub_route_loads_from_the_local_hub_cache_offline(write_suite, tmp_path, monkeypatch):
    """A hub id resolves through the Hugging Face cache layout with the network off."""
    from transformers import AutoConfig, AutoModelForCausalLM

    cache = tmp_path / "hub"
    snapshot = cache / "models--tiny-org--tiny-llama" / "snapshots" / ("0" * 40)
    config = AutoConfig.for_model("llama", **TINY_LLAMA, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    AutoModelForCausalLM.from_config(config).save_pretrained(snapshot)
    (cache / "models--tiny-org--tiny-llama" / "refs").mkdir()
    (cache / "models--tiny-org--tiny-llama" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tiny_suite("hubroute", [{"name": "From hub", "hub": "tiny-org/tiny-llama"}])
    data["settings"]["batch_size"] = [1]
    (result,) = [r.result for r in runner.sweep(plan(write_suite(data)), tmp_path / "results")]
    assert result.status == "ok", result.error
    assert result.model.source == "hub:tiny-org/tiny-llama"
    assert result.model.params.total == llama_params_by_hand(TINY_LLAMA)
