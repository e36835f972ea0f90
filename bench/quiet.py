"""Quiet libraries inside cell processes. Imported first by the fork server (bench.runner), because
tqdm reads its settings from the environment when it is imported: a per-tensor progress bar from
transformers' GGUF loader would otherwise tear the sweep's own progress display."""

import os

os.environ.setdefault("TQDM_DISABLE", "1")
