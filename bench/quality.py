"""How much a cell's engine, quantization and KV cache move the model: KL divergence and top-1
agreement against the same weights at float32 with nothing quantized, and perplexity on a shipped
public-domain text for real checkpoints. Runs inside the cell's process, after its timed runs."""

from __future__ import annotations

import gc
from pathlib import Path

import torch

from bench import methods
from bench.measure import clock_for, make_generator
from bench.models import build_random, load_model
from bench.schema import Quality
from bench.suite import Cell

STREAM_TOKENS = 64  # the fixed token stream: seeded ids, the same for every cell of a model
STREAM_PREFIX = 32  # read in one prompt pass; the rest one decode step at a time through the cache
TEXT_FILE = Path(__file__).with_name("quality_text.txt")
TEXT_TOKENS = 256  # perplexity over the second half, given the first
TEXT_NAME = "Dickens, A Tale of Two Cities (1859), opening; public domain"


def stream(vocab: int, seed: int) -> torch.Tensor:
    """The fixed token stream of a model (batch 1): ids 3..vocab-1 from a seeded generator."""
    return torch.randint(3, vocab, (1, STREAM_TOKENS), generator=torch.Generator().manual_seed(seed))


def compare(reference: torch.Tensor, logprobs: torch.Tensor) -> tuple[float, float, float]:
    """(mean KL, p99 KL, top-1 agreement) of next-token log-probabilities, per position:
    KL(reference || cell) in nats."""
    kl = (reference.exp() * (reference - logprobs)).sum(dim=-1).clamp(min=0)
    top1 = (reference.argmax(dim=-1) == logprobs.argmax(dim=-1)).float().mean()
    return kl.mean().item(), torch.quantile(kl, 0.99).item(), top1.item()


def forced_logprobs(
    model: torch.nn.Module, cell: Cell, tokens: torch.Tensor, prefix: int, **engine
) -> torch.Tensor:
    """Next-token log-probabilities over `tokens` after `prefix`, through an engine and KV cache."""
    s = cell.setting
    generator = make_generator(model, clock_for(s.device), max_positions=tokens.shape[1], **engine)
    return generator.forced_logits(tokens.to(s.device), prefix).cpu()


def text_ids(cell: Cell) -> torch.Tensor | None:
    """The shipped text in the checkpoint's own tokenizer (None for arch models: no tokenizer)."""
    from transformers import AutoTokenizer

    from bench.suite import resolve_folder

    spec = cell.model
    if spec.arch:
        return None
    source = spec.hub or resolve_folder(spec, Path(cell.base_dir))
    kwargs = {"gguf_file": spec.gguf_file} if spec.gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=spec.trust_remote_code, **kwargs)
    except (OSError, ValueError) as exc:  # a checkpoint without a (loadable) tokenizer
        raise NoTokenizer(f"no tokenizer: {str(exc).splitlines()[0][:200]}") from None
    return tokenizer(TEXT_FILE.read_text(), return_tensors="pt").input_ids[:, :TEXT_TOKENS]


class NoTokenizer(Exception):
    """The checkpoint has no tokenizer to read the text with: perplexity stays null."""


def perplexity(logprobs: torch.Tensor, targets: torch.Tensor) -> float:
    """exp(mean negative log-likelihood of the targets)."""
    nll = -logprobs.gather(1, targets.view(-1, 1)).mean()
    return float(torch.exp(nll))


def reference_model(cell: Cell, folder: Path | None) -> torch.nn.Module:
    """The cell's weights at float32 with nothing quantized: the same seeded random weights (or
    checkpoint) before quantization, upcast."""
    s, spec = cell.setting, cell.model
    if folder is not None:  # the random checkpoint a library quantization loaded from
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(s.device).eval()
    if spec.arch:
        return build_random(spec, s.dtype, s.device, cell.seed).float()
    return load_model(spec, "float32", s.device, Path(cell.base_dir)).model


def measure(cell: Cell, held: list[torch.nn.Module], folder: Path | None) -> Quality:
    """The quality block of a cell. `held` holds the cell's own (quantized) model and nothing else
    should: it is taken out and released before the float32 reference is built."""
    s = cell.setting
    model = held.pop()
    engine = {"engine": s.engine, "kv_cache": s.kv_cache}
    result = Quality(
        reference="the same weights at float32, eager engine, no quantization",
        tokens=STREAM_TOKENS - STREAM_PREFIX,
    )
    tokens = stream(model.get_input_embeddings().num_embeddings, cell.seed)
    try:
        text = text_ids(cell)
    except NoTokenizer as exc:
        text, result.reason = None, f"perplexity: {exc}"
    if text is not None and text.shape[1] > 2:
        half = text.shape[1] // 2
        result.perplexity = perplexity(forced_logprobs(model, cell, text, half, **engine), text[0, half:])
        result.perplexity_text = TEXT_NAME
    elif text is None and result.reason is None:
        result.reason = "random weights: perplexity needs a real checkpoint"
    if methods.is_baseline(s.dtype, s.engine, s.quantization, s.kv_cache):
        result.reason = "the baseline itself: KL and agreement are measured against it" + (
            f"; {result.reason}" if result.reason else ""
        )
        return result
    logprobs = forced_logprobs(model, cell, tokens, STREAM_PREFIX, **engine)
    del model
    _release(s.device)
    reference = reference_model(cell, folder)
    expected = forced_logprobs(reference, cell, tokens, STREAM_PREFIX)
    del reference
    _release(s.device)
    result.kl_mean, result.kl_p99, result.top1_agreement = compare(expected, logprobs)
    return result


def _release(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
