"""Fixtures for bench tests: tiny real models, suites written to temporary folders."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

# Small enough that a cell takes about a second on 2 cores, big enough to be a real transformer.
TINY_LLAMA = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}
TINY_QWEN = {**TINY_LLAMA, "tie_word_embeddings": True}


def tiny_suite(name: str = "t", models: list[dict] | None = None, **top) -> dict:
    """A suite dict with fast defaults (a fresh copy each call); override any top-level key."""
    return copy.deepcopy(
        {
            "name": name,
            "device": "cpu",
            "warmup": 1,
            "repeats": 3,
            "timeout_s": 120,
            "models": models
            or [
                {"name": "Llama tiny", "family": "Llama", "arch": "llama", "config": TINY_LLAMA},
                {"name": "Qwen tiny", "family": "Qwen", "arch": "qwen2", "config": TINY_QWEN},
            ],
            "settings": {
                "dtype": ["float32"],
                "batch_size": [1, 2],
                "prompt_tokens": [16],
                "new_tokens": [8],
            },
            **top,
        }
    )


@pytest.fixture
def write_suite(tmp_path: Path):
    """Write a suite dict to a YAML file and return its path."""

    def write(data: dict, name: str = "suite.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
