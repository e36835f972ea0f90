"""bench/configkeys.py: one list of config-key aliases, so the bench and the model page agree on
which models are mixtures of experts."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from bench import configkeys
from bench.models import count_params
from report.explain import explain

# Aria's text model names its experts `moe_num_experts` and its top-k `moe_topk`, with no
# attribute_map alias to num_experts / num_experts_per_tok: the keys the bench once missed.
ARIA_TINY = {
    "model_type": "aria_text",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "moe_num_experts": 4,
    "moe_topk": 1,
    "moe_num_shared_experts": 1,
}


def test_a_moe_num_experts_config_is_a_mixture_for_the_bench_and_the_page() -> None:
    config = AutoConfig.for_model(**ARIA_TINY)
    assert not hasattr(config, "num_experts") and not hasattr(config, "num_local_experts")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = count_params(model)
    routed = sum(p.numel() for name, p in model.named_parameters() if ".experts." in f".{name}.")
    assert routed > 0
    # one of four routed experts per token, everything else always
    assert params.active == params.total - routed + routed // 4 < params.total

    explanation = explain(config.to_dict(), params, ["float32"], "arch:aria_text")
    experts = next(f for f in explanation.facts if f.topic == "Experts")
    assert experts.text.startswith("Mixture of experts: 4 experts") and "runs the top 1" in experts.text


@pytest.mark.parametrize(
    ("config", "experts", "top_k"),
    [
        ({"num_local_experts": 8, "num_experts_per_tok": 2}, 8, 2),  # Mixtral
        ({"num_experts": 60, "num_experts_per_tok": 4}, 60, 4),  # Qwen-MoE
        ({"n_routed_experts": 64, "num_experts_per_tok": 6}, 64, 6),  # DeepSeek
        ({"moe_num_experts": 64, "moe_k": 6}, 64, 6),  # ERNIE 4.5
        ({"moe_num_experts": 16, "num_selected_experts": 2}, 16, 2),
        ({"hidden_size": 64}, None, None),  # dense
    ],
)
def test_aliases_read_dicts_and_config_objects_alike(config, experts, top_k) -> None:
    class Obj:
        pass

    obj = Obj()
    obj.__dict__.update(config)
    for source in (config, obj):
        assert configkeys.experts(source) == experts
        assert configkeys.experts_per_token(source) == top_k


def test_dtype_bytes_one_table() -> None:
    assert configkeys.dtype_bytes("bfloat16") == 2 and configkeys.dtype_bytes("torch.float32") == 4
    with pytest.raises(KeyError, match="unknown dtype 'float7'"):
        configkeys.dtype_bytes("float7")
