"""A small mixed result set for the site tests: CPU and GPU, failures, estimates, a model with
no successful cell, names that collide after slugify, and names that carry HTML."""

from __future__ import annotations

import hashlib

from bench.schema import (
    CPUInfo,
    Decode,
    Energy,
    Environment,
    ErrorInfo,
    GPUInfo,
    Latency,
    Memory,
    Metrics,
    ModelInfo,
    Params,
    Protocol,
    Result,
    Roofline,
    Setting,
    Stats,
    slugify,
)
from report.explain import explain

XSS_NAME = '</title><script>alert("x")</script> Evil'
XSS_FAMILY = '"><img src=x onerror=alert(1)>'

# Trimmed from transformers 5.24 `AutoConfig.for_model(...).to_dict()` at tiny sizes.
LLAMA_TINY = {
    "model_type": "llama",
    "vocab_size": 32000,
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-06,
    "tie_word_embeddings": False,
    "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"},
    "attention_bias": False,
    "mlp_bias": False,
    "dtype": "float32",
}
MIXTRAL_TINY = {
    "model_type": "mixtral",
    "vocab_size": 32000,
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": None,
    "hidden_act": "silu",
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-05,
    "tie_word_embeddings": False,
    "sliding_window": None,
    "num_experts_per_tok": 2,
    "num_local_experts": 8,
    "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
}
# transformers 4.x field names (torch_dtype, rope_theta) and GPT-2 aliases.
GPT2_OLD = {
    "model_type": "gpt2",
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 256,
    "n_layer": 4,
    "n_head": 4,
    "n_inner": None,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-05,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}
GEMMA2_TINY = {
    "model_type": "gemma2",
    "vocab_size": 256000,
    "hidden_size": 256,
    "intermediate_size": 1024,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 64,
    "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-06,
    "tie_word_embeddings": True,
    "rope_theta": 10000.0,
    "sliding_window": 4096,
    "layer_types": ["sliding_attention", "full_attention"] * 2,
}

CPU_ENV = Environment(
    gpuscape="0.1.0",
    git_commit="abc1234",
    python="3.11.7",
    torch="2.13.0+cpu",
    transformers="5.24.0",
    cpu=CPUInfo(model="AMD EPYC 7B13", cores=2),
    host="runner-1",
    platform="Linux-6.1-x86_64",
)
GPU_ENV = Environment(
    gpuscape="0.1.0",
    git_commit="abc1234",
    python="3.11.7",
    torch="2.13.0",
    transformers="5.24.0",
    cuda="12.8",
    driver="570.86",
    gpu=GPUInfo(name="NVIDIA H100 80GB HBM3", memory_bytes=85_000_000_000),
    cpu=CPUInfo(model="Intel Xeon Platinum 8480+", cores=16),
    host="gpu-1",
)


def _cell(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def make_result(
    name: str,
    family: str,
    config: dict,
    params: Params | None,
    *,
    suite: str,
    device: str,
    dtype: str = "float32",
    batch: int = 1,
    prompt: int = 128,
    speed: float = 100.0,
    memory_gb: float = 1.0,
    status: str = "ok",
    method: str = "measured",
    joules_per_token: float | None = None,
    day: int = 25,
) -> Result:
    """One cell; throughput and memory are given, the rest follows from them."""
    setting = Setting(device=device, dtype=dtype, batch_size=batch, prompt_tokens=prompt, new_tokens=32)
    gpu = device.startswith("cuda")
    env = GPU_ENV if gpu else CPU_ENV
    cell = _cell(name, suite, device, dtype, batch, prompt, method)
    model = ModelInfo(
        name=name, slug=slugify(name), family=family, source="arch:" + str(config.get("model_type")),
        config=config, params=params, weight_bytes=params.total * 4 if params else None,
    )  # fmt: skip
    common = dict(suite=suite, cell=cell, model=model, setting=setting, environment=env, method=method)
    started = f"2026-11-{day:02d}T03:00:00Z"
    if status != "ok":
        error = ErrorInfo(
            type="OutOfMemoryError" if status == "oom" else "RuntimeError",
            message=f"{status} <at> batch {batch}",
        )
        return Result(status=status, error=error, started_at=started, duration_s=1.0, **common)
    per_token = batch / speed
    memory_bytes = int(memory_gb * 1e9)
    memory = (
        Memory(estimated_bytes=memory_bytes)
        if method == "estimated"
        else Memory(peak_process_bytes=memory_bytes, peak_allocated_bytes=memory_bytes // 2)
        if gpu
        else Memory(peak_rss_bytes=memory_bytes, baseline_rss_bytes=200_000_000)
    )
    energy = (
        Energy(joules=joules_per_token * 32 * batch * 5, joules_per_token=joules_per_token, source="nvml")
        if joules_per_token
        else Energy(reason="no NVML" if not gpu else "not supported")
    )
    prefill = Stats.of([0.01 * prompt / 128 * k for k in (1.0, 1.1, 0.9)])
    metrics = Metrics(
        load_s=0.5,
        generated_tokens=32,
        prefill=Latency(latency_s=prefill, tokens_per_s=batch * prompt / prefill.median),
        decode=Decode(
            per_token_s=Stats.of([per_token, per_token * 1.05, per_token * 0.95]), tokens_per_s=speed
        ),
        e2e=Latency(latency_s=Stats.of([prefill.median + 31 * per_token]), tokens_per_s=speed * 0.9),
        memory=memory,
        energy=energy,
        roofline=Roofline(hardware=device, bound_tokens_per_s=speed * 2, efficiency=0.5)
        if method == "estimated"
        else Roofline(),
    )
    protocol = (
        Protocol(warmup=2, repeats=5, min_duration_s=0.0, timeout_s=600) if method == "measured" else None
    )
    return Result(
        status="ok", metrics=metrics, protocol=protocol, started_at=started, duration_s=3.0, **common
    )


def counted(config: dict) -> Params:
    """What the bench would count for a verified architecture (tests/report/test_explain.py)."""
    ex = explain(config)
    embedding = next(p.params for p in ex.breakdown if p.name == "Token embeddings")
    head = next(p.params for p in ex.breakdown if p.name == "Output head")
    return Params(total=ex.computed_total, active=ex.computed_active, embedding=embedding + head)


def mixed_results() -> list[Result]:
    """About thirty cells over five models, two machines and three result sets."""
    llama_p, mixtral_p = counted(LLAMA_TINY), counted(MIXTRAL_TINY)
    gpt2_p = Params(total=16_000_000, active=16_000_000, embedding=13_128_000)  # off on purpose
    results = []
    for batch in (1, 4):
        for dtype in ("float32", "bfloat16"):
            f = 2 if dtype == "bfloat16" else 1
            results += [
                make_result("Llama 3 (tiny)", "Llama", LLAMA_TINY, llama_p, suite="cpu-small", device="cpu",
                            dtype=dtype, batch=batch, speed=200 * batch * f, memory_gb=0.4 / f + 0.05 * batch),
                make_result("llama-3 tiny", "Llama", LLAMA_TINY, llama_p, suite="cpu-small", device="cpu",
                            dtype=dtype, batch=batch, speed=150 * batch * f, memory_gb=0.5 / f + 0.05 * batch),
                make_result("GPT-2 (old config)", "OpenAI GPT", GPT2_OLD, gpt2_p, suite="cpu-small", device="cpu",
                            dtype=dtype, batch=batch, speed=220 * batch * f, memory_gb=0.35 / f + 0.05 * batch),
                make_result("Mixtral (tiny)", "Mixtral", MIXTRAL_TINY, mixtral_p, suite="gpu-reference",
                            device="cuda", dtype=dtype, batch=batch, speed=900 * batch * f,
                            memory_gb=2.0 / f + 0.2 * batch, joules_per_token=0.4 / (batch * f), day=26),
                make_result(XSS_NAME, XSS_FAMILY, GEMMA2_TINY, None, suite="gpu-reference", device="cuda",
                            dtype=dtype, batch=batch, status="error" if batch == 1 else "oom", day=26),
            ]  # fmt: skip
    results.append(
        make_result("Mixtral (tiny)", "Mixtral", MIXTRAL_TINY, mixtral_p, suite="cpu-small", device="cpu",
                    batch=16, status="timeout")
    )  # fmt: skip
    for batch in (1, 8):
        results.append(
            make_result("Llama 3 (tiny)", "Llama", LLAMA_TINY, llama_p, suite="estimates", device="a100-80gb",
                        dtype="bfloat16", batch=batch, speed=3000 * batch, memory_gb=0.2 + 0.01 * batch,
                        method="estimated", day=27)
        )  # fmt: skip
    return results
