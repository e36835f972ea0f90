"""Trackers and their error paths, on this GPU-less machine (NVML's failures are real here)."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from bench.cell import classify
from bench.measure import CPUClock, EnergyMeter, NVMLSampler, RSSTracker, make_generator, track_memory
from bench.models import count_params

from .conftest import TINY_LLAMA


def test_nvml_sampler_records_why_without_a_gpu():
    sampler = NVMLSampler("cuda:0")
    sampler.start()
    sampler.stop()
    assert sampler.peak_process_bytes is None and sampler.peak_device_bytes is None
    assert sampler.reason.startswith("NVML unavailable")


def test_gpu_energy_is_null_with_a_reason_without_nvml():
    meter = EnergyMeter("cuda:0")
    with meter.track(lambda: 10) as energy:
        pass
    assert energy.joules is None and energy.source is None
    assert energy.reason.startswith("NVML energy counter unavailable")


def test_rapl_counter_delta_and_wraparound(tmp_path):
    (tmp_path / "energy_uj").write_text("999000000\n")
    (tmp_path / "max_energy_range_uj").write_text("1000000000\n")
    meter = EnergyMeter("cpu", rapl_dir=tmp_path)
    with meter.track(lambda: 4) as energy:
        (tmp_path / "energy_uj").write_text("3000000\n")  # wrapped past 1000 J: 1 J + 3 J used
    assert energy.source == "rapl-package"
    assert energy.joules == pytest.approx(4.0)
    assert energy.joules_per_token == pytest.approx(1.0)


def test_unreadable_rapl_gives_null_energy_with_the_reason(tmp_path):
    meter = EnergyMeter("cpu", rapl_dir=tmp_path / "absent")
    with meter.track(lambda: 1) as energy:
        pass
    assert energy.joules is None and "RAPL not readable" in energy.reason


def test_rss_tracker_sees_an_allocation_above_its_baseline():
    tracker = RSSTracker()
    tracker.start()
    block = torch.ones(64 * 1024 * 1024 // 4)  # 64 MiB, touched
    tracker.stop()
    assert tracker.peak_bytes - tracker.baseline_bytes >= 60 * 1024 * 1024
    del block


def test_cpu_memory_record_names_why_gpu_fields_are_empty():
    with track_memory("cpu") as memory:
        pass
    assert memory.peak_rss_bytes > 0 and memory.peak_allocated_bytes is None
    assert memory.reason == "CPU run: no GPU memory"


@pytest.mark.parametrize(
    "exc, status",
    [
        (MemoryError(), "oom"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "oom"),
        (
            RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory"),
            "oom",
        ),
        (RuntimeError("shape mismatch"), "error"),
        (ValueError("out of memory"), "error"),
    ],
)
def test_failures_are_classified(exc, status):
    assert classify(exc) == status


def _tiny_model(**over):
    config = AutoConfig.for_model(
        "llama", **{**TINY_LLAMA, **over}, pad_token_id=0, bos_token_id=1, eos_token_id=2
    )
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval()


def test_generator_makes_exactly_the_tokens_asked_and_matches_generate():
    model = _tiny_model()
    ids = torch.randint(3, 1000, (2, 12), generator=torch.Generator().manual_seed(0))
    generator = make_generator(model, CPUClock())
    run = generator(ids, 6)
    assert run.generated_tokens == 6
    assert 0 < run.prefill_s < run.e2e_s
    assert run.decode_per_token_s() == pytest.approx((run.e2e_s - run.prefill_s) / 5)
    reference = model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, min_new_tokens=6, do_sample=False
    )
    assert reference.shape == (2, 18)
    # token for token: the timed loop decodes exactly what transformers' greedy search does
    assert torch.equal(generator.tokens(ids, 6), reference[:, 12:])


def test_moe_active_parameters_count_top_k_experts():
    config = AutoConfig.for_model(
        "mixtral",
        **TINY_LLAMA,
        num_local_experts=8,
        num_experts_per_tok=2,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = AutoModelForCausalLM.from_config(config)
    params = count_params(model)
    h, i, n = TINY_LLAMA["hidden_size"], TINY_LLAMA["intermediate_size"], TINY_LLAMA["num_hidden_layers"]
    expert = 3 * h * i  # gate, up and down projections of one expert
    assert params.total - params.active == n * expert * (8 - 2)
