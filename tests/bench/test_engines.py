"""Engines and KV caches on a real tiny model: the same greedy tokens from every engine, the KV
bytes each cache holds, and the one line that refuses a method that is not installed."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from bench import methods
from bench.cli import main
from bench.measure import CPUClock, cache_bytes, make_generator
from bench.schema import Result

from .conftest import TINY_LLAMA, tiny_suite


def _model(dtype=torch.float32):
    config = AutoConfig.for_model("llama", **TINY_LLAMA, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, dtype=dtype).eval()


def test_static_and_compiled_engines_give_the_eager_tokens():
    model = _model()
    ids = torch.randint(3, 1000, (2, 12), generator=torch.Generator().manual_seed(1))
    eager = make_generator(model, CPUClock()).tokens(ids, 8)
    for engine in ("static", "compiled"):  # compiled: inductor's cache under ~/.cache/gpuscape
        generator = make_generator(model, CPUClock(), engine, max_positions=20)
        assert torch.equal(generator.tokens(ids, 8), eager), engine
        run = generator(ids, 8)  # the timed loop on the same static cache, reset between runs
        assert run.generated_tokens == 8 and int(generator.cache.get_seq_length()) == 19
        # the static cache holds all 20 positions it was sized for, at float32
        kv_heads, head_dim = TINY_LLAMA["num_key_value_heads"], 64 // 4
        assert cache_bytes(generator.cache) >= 2 * 2 * 2 * kv_heads * 20 * head_dim * 4


def test_fp8_kv_cache_holds_about_half_of_bf16():
    model = _model(torch.bfloat16)
    ids = torch.randint(3, 1000, (1, 64), generator=torch.Generator().manual_seed(2))
    held = {}
    for kv in ("model", "fp8"):
        generator = make_generator(model, CPUClock(), kv_cache=kv)
        generator(ids, 8)
        held[kv] = cache_bytes(generator.cache)
    layers, kv_heads, head_dim = TINY_LLAMA["num_hidden_layers"], TINY_LLAMA["num_key_value_heads"], 16
    assert held["model"] == 2 * layers * kv_heads * 71 * head_dim * 2  # K and V, 71 positions, bf16
    assert held["fp8"] / held["model"] == pytest.approx(0.5, abs=0.01)  # plus a scale per tensor


def test_engine_and_kv_cache_join_the_cell_id_only_when_set(write_suite):
    from bench.suite import plan

    data = tiny_suite(models=tiny_suite()["models"][:1])
    data["settings"].update(batch_size=[1])
    before = plan(write_suite(data)).cells
    data["settings"].update(engine=["eager", "static"], kv_cache=["model", "fp8"])
    after = plan(write_suite(data, "more.yaml"))
    assert before[0].id == after.cells[0].id  # eager + model: the id cells had before these keys
    assert [(c.setting.engine, c.setting.kv_cache) for c in after.cells] == [
        ("eager", "model"),
        ("eager", "fp8"),
        ("static", "model"),
    ]
    assert len({c.id for c in after.cells}) == 3
    assert after.dropped == [
        ("Llama tiny · none · static · KV fp8", methods.incompatible("static", "none", "fp8"))
    ]


def test_qoq_cells_carry_a_4bit_kv_cache(write_suite):
    from bench.suite import plan

    data = tiny_suite(models=tiny_suite()["models"][:1])
    data["settings"].update(batch_size=[1], quantization=["qoq"], kv_cache=["model", "fp8"])
    p = plan(write_suite(data))
    assert [c.setting.kv_cache for c in p.cells] == ["int4"]
    assert "qoq carries its own 4-bit KV cache" in p.dropped[0][1]


def test_an_uninstalled_method_is_refused_in_one_line_or_skipped(write_suite, tmp_path, capsys, monkeypatch):
    real = methods.installed
    monkeypatch.setattr(methods, "installed", lambda module: module != "bitsandbytes" and real(module))
    data = tiny_suite(models=tiny_suite()["models"][:1])
    data["settings"].update(batch_size=[1], quantization=["nf4"])
    path = write_suite(data)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("unavailable: cell ")
    assert "quantization nf4 needs bitsandbytes, which is not installed: pip install" in out[0]
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    # while another sweep holds the folder, nothing is written there, skipped cells included
    from bench.store import folder_lock

    with folder_lock(tmp_path / "r"):
        assert (
            main(["run", str(path), "--out", str(tmp_path / "r"), "--no-progress", "--skip-unavailable"]) == 3
        )
    assert not list((tmp_path / "r").rglob("*.json"))
    # --skip-unavailable records the cell as skipped, with the same reason
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--no-progress", "--skip-unavailable"]) == 0
    files = list((tmp_path / "r" / "t").glob("*.json"))
    assert len(files) == 1
    result = Result.model_validate(json.loads(files[0].read_text()))
    assert result.status == "skipped" and "bitsandbytes" in result.error.message
    assert result.setting.quantization == "nf4"


def test_a_sweep_records_engine_kv_kernel_compile_time_and_quality(write_suite, tmp_path):
    """Three cells through the real sweep (one process each): compiled, fp8 KV, and qoq."""
    from bench import runner
    from bench.suite import plan

    model = {"name": "Llama tiny", "family": "Llama", "arch": "llama", "config": TINY_LLAMA}
    data = tiny_suite("eng", [model], warmup=1, repeats=2, timeout_s=600)  # compiling, on a busy machine
    data["models"][0]["settings"] = [
        {"engine": ["compiled"]},
        {"kv_cache": ["fp8"]},
        {"quantization": ["qoq"]} if methods.installed("optimum.quanto") else {"kv_cache": ["fp8"]},
    ]
    data["settings"].update(batch_size=[1], dtype=["bfloat16"])
    reports = runner.sweep(plan(write_suite(data)), tmp_path / "results")
    by = {
        (r.result.setting.engine, r.result.setting.quantization, r.result.setting.kv_cache): r.result
        for r in reports
    }
    for result in by.values():
        assert result.status == "ok", result.error
        q = result.metrics.quality
        assert q.kl_mean is not None and q.kl_mean >= 0 and 0 <= q.top1_agreement <= 1
        kv = result.metrics.kv_cache
        assert kv.measured_bytes > 0 and kv.estimated_bytes > 0 and kv.positions == 16 + 8 - 1
    compiled = by[("compiled", None, "model")]
    assert compiled.metrics.compile_s > 0 and compiled.metrics.kernel is None
    fp8 = by[("eager", None, "fp8")]
    # fp8 holds one byte per cached value (plus a scale per tensor): as the roofline counts it
    assert fp8.metrics.kv_cache.measured_bytes == pytest.approx(
        fp8.metrics.kv_cache.estimated_bytes, rel=0.01
    )
    if ("eager", "qoq", "int4") in by:
        assert by[("eager", "qoq", "int4")].metrics.kernel == "reference"


def test_result_files_from_before_engines_still_load_as_eager():
    from bench.schema import Environment, ModelInfo, Setting

    new = Result(
        cell="0123456789",
        suite="t",
        status="ok",
        model=ModelInfo(name="m", slug="m", family="f", source="arch:llama"),
        setting=Setting(device="cpu", dtype="float32", batch_size=1, prompt_tokens=8, new_tokens=4),
        environment=Environment(gpuscape="0.1.0"),
        started_at="2026-01-01T00:00:00Z",
        duration_s=1.0,
    )
    old = json.loads(new.to_json())
    for key in ("engine", "kv_cache"):
        old["setting"].pop(key)
    for key in ("kv_cache", "quality", "compile_s", "kernel"):
        old["metrics"].pop(key)
    result = Result.model_validate(old)
    assert (result.setting.engine, result.setting.kv_cache) == ("eager", "model")
    assert result.metrics.quality is None and result.metrics.kernel is None
