"""Quiet libraries inside cell processes. Imported first by the fork server (bench.runner), because
tqdm reads its settings from the environment when it is imported: a per-tensor progress bar from
transformers' GGUF loader would otherwise tear the sweep's own progress display.

Two library warnings that say nothing about a measurement are dropped, so they do not repeat
between the sweep's progress lines for every cell: torchao's failure to load its CUDA-only
kernel libraries (`_C_mxfp8`, `_C_cutlass_90a`) on a machine without them, and torch's notice that
registering an Enum with pytree is deprecated (torchao does it at import). Every other warning of
those loggers, and bitsandbytes' note that its faster CPU 4-bit kernel is missing, still shows."""

import logging
import os

os.environ.setdefault("TQDM_DISABLE", "1")


class _DropNoise(logging.Filter):
    """Drops log records whose message starts with one of `prefixes` and contains `marker`."""

    def __init__(self, prefixes: tuple[str, ...], marker: str) -> None:
        super().__init__()
        self.prefixes, self.marker = prefixes, marker

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(self.prefixes) and self.marker in message)


logging.getLogger("torchao").addFilter(_DropNoise(("Failed to load",), "/torchao/_C"))
logging.getLogger("torch.utils._pytree").addFilter(_DropNoise(("<enum",), "is an Enum subclass"))
