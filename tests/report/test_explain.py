"""report.explain against real transformers configs and parameter counts (torch is fine in tests)."""

from __future__ import annotations

import pytest

from bench.schema import Params
from report.explain import VERIFIED_TYPES, explain, read_architecture

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

TINY = dict(
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    vocab_size=1000,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)
MOE = dict(num_experts_per_tok=2, moe_intermediate_size=32)
# One tiny config per architecture whose breakdown is claimed exact.
TINY_CASES = {
    "llama": dict(TINY, attention_bias=True, mlp_bias=True),
    "mistral": dict(TINY, sliding_window=16),
    "mixtral": dict(TINY, num_local_experts=4, num_experts_per_tok=2),
    "qwen2": TINY,
    "qwen2_moe": dict(TINY, **MOE, num_experts=4, shared_expert_intermediate_size=48, mlp_only_layers=[1]),
    "qwen3": TINY,
    "qwen3_moe": dict(TINY, **MOE, num_experts=4),
    "gemma": TINY,
    "gemma2": TINY,
    "gemma3_text": TINY,
    "phi3": {k: v for k, v in TINY.items() if k != "head_dim"},
    "gpt2": dict(
        n_embd=64, n_layer=3, n_head=4, n_positions=128, vocab_size=1000, bos_token_id=1, eos_token_id=2
    ),
}


def config_dict(model_type: str, **kwargs) -> dict:
    return transformers.AutoConfig.for_model(model_type, **kwargs).to_dict()


def transformers_param_count(config: dict) -> int:
    """Parameters as transformers builds the model (tied weights once), without allocating."""
    fields = dict(config)
    cfg = transformers.AutoConfig.for_model(fields.pop("model_type"), **fields)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in model.parameters())


def llama3_8b() -> dict:
    return config_dict(
        "llama",
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=131072,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
        dtype="bfloat16",
    )


def mixtral_8x7b() -> dict:
    return config_dict(
        "mixtral",
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=32000,
        num_local_experts=8,
        num_experts_per_tok=2,
    )


def test_every_verified_architecture_has_a_tiny_case():
    assert set(TINY_CASES) == VERIFIED_TYPES


@pytest.mark.parametrize("model_type", sorted(TINY_CASES))
def test_breakdown_matches_transformers_exactly(model_type):
    config = config_dict(model_type, **TINY_CASES[model_type])
    expected = transformers_param_count(config)
    explanation = explain(config)
    assert explanation.exact
    assert explanation.computed_total == expected
    assert sum(part.params for part in explanation.breakdown) == expected


def test_llama3_8b_is_gqa_with_group_size_4():
    explanation = explain(llama3_8b(), dtypes=["bfloat16"])
    arch = explanation.arch
    assert (arch.attention, arch.group_size, arch.head_dim) == ("GQA", 4, 128)
    attention = next(f.text for f in explanation.facts if f.topic == "Attention")
    assert "Grouped-query attention (GQA), group size 4" in attention
    assert "32 query heads share 8 key/value heads" in attention
    # 2 x 32 layers x 8 heads x 128 dims x 2 bytes = 128 KiB per token
    assert (
        "131,072 values per token" not in attention
        and "65,536 values per token (128 KiB at bfloat16)" in attention
    )
    positions = next(f.text for f in explanation.facts if f.topic == "Positions")
    assert "base theta 500,000" in positions and "llama3 scaling ×8 from 8,192 tokens" in positions
    assert explanation.computed_total == transformers_param_count(llama3_8b())
    assert arch.dtype == "bfloat16" and not arch.tied_embeddings


def test_old_field_names_read_like_new_ones():
    """transformers 4.x wrote rope_theta + rope_scaling and torch_dtype."""
    new = read_architecture(llama3_8b())
    old_config = {k: v for k, v in llama3_8b().items() if k not in ("rope_parameters", "dtype")}
    old_config |= {
        "rope_theta": 500000.0,
        "rope_scaling": {"type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192},
        "torch_dtype": "torch.bfloat16",
    }
    old = read_architecture(old_config)
    assert old.rope == new.rope
    assert old.dtype == new.dtype == "bfloat16"


def test_mixtral_says_8_experts_top_2_and_active_below_total():
    config = mixtral_8x7b()
    total = transformers_param_count(config)
    explanation = explain(config)
    arch = explanation.arch
    assert (arch.experts, arch.top_k, arch.sparse_layers) == (8, 2, 32)
    assert explanation.computed_total == total == 46_702_792_704
    assert explanation.computed_active is not None and explanation.computed_active < total
    experts = next(f.text for f in explanation.facts if f.topic == "Experts")
    assert "8 experts" in experts and "top 2" in experts
    assert "12.9 B of 46.7 B parameters are active per token (28 %)" in experts


def test_measured_params_win_and_a_mismatch_is_reported():
    config = mixtral_8x7b()
    measured = Params(total=46_702_792_704 + 10, active=12_000_000_000, embedding=131_072_000)
    explanation = explain(config, params=measured)
    assert (explanation.total, explanation.active) == (measured.total, measured.active)
    assert any("+10 against this breakdown" in note for note in explanation.notes)
    experts = next(f.text for f in explanation.facts if f.topic == "Experts")
    assert "12 B of 46.7 B" in experts


def test_gpt2_aliases_learned_positions_and_layer_norm():
    config = config_dict("gpt2", **TINY_CASES["gpt2"])
    arch = read_architecture(config)
    assert (arch.hidden, arch.layers, arch.heads, arch.kv_heads, arch.context) == (64, 3, 4, 4, 128)
    assert (arch.attention, arch.positions, arch.norm, arch.intermediate) == (
        "MHA",
        "learned",
        "LayerNorm",
        256,
    )
    assert arch.tied_embeddings and not arch.gated_mlp
    names = [p.name for p in explain(config).breakdown]
    assert "Position embeddings" in names and "Experts" not in names


def test_mqa_from_one_kv_head():
    arch = read_architecture(config_dict("llama", **dict(TINY, num_key_value_heads=1)))
    assert (arch.attention, arch.group_size) == ("MQA", 4)


def test_multimodal_text_config_and_sliding_layers():
    config = config_dict("gemma3")  # the vision-language model: text_config + vision_config
    explanation = explain(config)
    arch = explanation.arch
    assert arch.multimodal and arch.hidden == config["text_config"]["hidden_size"]
    assert arch.sliding_layers == sum(t == "sliding_attention" for t in config["text_config"]["layer_types"])
    assert 0 < arch.sliding_layers < arch.layers
    assert {spec.scope for spec in arch.rope} == {"sliding_attention", "full_attention"}
    assert not explanation.exact and any("vision encoder is not included" in n for n in explanation.notes)


def test_sliding_window_everywhere_or_nowhere():
    mistral = read_architecture(config_dict("mistral", **dict(TINY, sliding_window=16)))
    assert (mistral.sliding_window, mistral.sliding_layers) == (16, 3)
    qwen2 = read_architecture(config_dict("qwen2", **dict(TINY, sliding_window=16, use_sliding_window=False)))
    assert qwen2.sliding_layers == 0
    # transformers 4.x gemma2 configs had no layer_types: every other layer slides
    old_gemma2 = {k: v for k, v in config_dict("gemma2", **TINY).items() if k != "layer_types"}
    assert read_architecture(old_gemma2).sliding_layers == 2


@pytest.mark.parametrize(
    "config",
    [{}, {"hidden_size": "<script>", "num_hidden_layers": None, "rope_parameters": "x"}, {"text_config": 3}],
)
def test_incomplete_or_hostile_configs_explain_without_counting(config):
    explanation = explain(config)
    assert explanation.breakdown == [] and explanation.computed_total is None
    assert explanation.facts[0].topic == "Shape"
    assert explanation.notes == ["The config lacks the dimensions needed to count parameters."]


def test_weights_fact_tells_a_checkpoint_from_random_weights():
    def weights(source):
        ex = explain(llama3_8b(), dtypes=["float32", "bfloat16"], source=source)
        return next(f.text for f in ex.facts if f.topic == "Weights")

    # a result's config holds the dtype its cell loaded at, whatever the checkpoint stores
    assert weights("hub:meta-llama/Meta-Llama-3-8B") == (
        "From a checkpoint, loaded at the dtype of each cell; measured at float32, bfloat16."
    )
    assert weights(None) == "Stored as bfloat16 in the checkpoint's config; measured at float32, bfloat16."
    # an arch: model's config dtype is only what a cell loaded it at
    assert weights("arch:llama") == (
        "Random, built from the configuration (no checkpoint); measured at float32, bfloat16."
    )
