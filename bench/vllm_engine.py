"""The `vllm` engine: vLLM's offline LLM, timed from a 1-token and an N-token run of the same batch.

Runs only where `import vllm` works (a GPU host with the vllm wheel); elsewhere bench.methods
refuses the cell with the install line before it starts. An arch model gets random weights
(load_format="dummy") from its saved config; path and hub models load their real weights.
Written against vLLM's documented offline API (LLM, SamplingParams, TokensPrompt); this machine
cannot install vLLM, so it has not run here.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from bench.measure import Run
from bench.models import build_config
from bench.suite import Cell, resolve_folder


class VLLMGenerator:
    """A callable like bench.measure.Generator: (input_ids, new_tokens) -> Run."""

    def __init__(self, cell: Cell) -> None:
        from vllm import LLM

        s, spec = cell.setting, cell.model
        self._tmp = None
        if spec.arch:
            self._tmp = tempfile.TemporaryDirectory(prefix="gpuscape-vllm-")
            build_config(spec).save_pretrained(self._tmp.name)
            source, load_format = self._tmp.name, "dummy"
        else:
            source, load_format = str(spec.hub or resolve_folder(spec, Path(cell.base_dir))), "auto"
        start = time.perf_counter()
        self.llm = LLM(
            model=source,
            dtype=s.dtype,
            load_format=load_format,
            skip_tokenizer_init=True,
            seed=cell.seed,
            max_model_len=s.prompt_tokens + s.new_tokens,
            trust_remote_code=spec.trust_remote_code,
        )
        self.load_s = time.perf_counter() - start

    def _timed(self, prompts: list, tokens: int) -> float:
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=tokens, min_tokens=tokens, ignore_eos=True)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        made = {len(o.outputs[0].token_ids) for o in outputs}
        if made != {tokens}:
            raise RuntimeError(f"vllm generated {sorted(made)} tokens, asked for {tokens}")
        return elapsed

    def __call__(self, input_ids: torch.Tensor, new_tokens: int) -> Run:
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=row.tolist()) for row in input_ids.cpu()]
        prefill_s = self._timed(prompts, 1)  # time to the first token of the whole batch
        e2e_s = self._timed(prompts, new_tokens)
        return Run(prefill_s=prefill_s, e2e_s=e2e_s, generated_tokens=new_tokens)
