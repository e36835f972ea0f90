"""Estimated results: what every cell of a suite would do on GPUs this machine does not have.

`python -m bench estimate suites/estimate-h100.yaml --out results/` counts each model on the meta
device (no weights are allocated: a 70B config costs no memory) and writes one result file per cell
and per hardware, in the same contract as measured cells but with `method: "estimated"`: weight and
KV-cache bytes, a memory estimate and whether it fits (a cell that does not is an estimated OOM), and
prefill/decode times from the roofline (bench.roofline). Nothing is run.

An estimate suite is a suite (bench.suite) with `hardware:` (catalog ids, or this-cpu) and the
roofline's quantization schemes (bench.roofline.SCHEMES) and KV caches.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from bench import __version__, hardware
from bench.hardware import GiB, Hardware
from bench.roofline import (
    SCHEMES,
    ModelShape,
    decode_bound,
    memory_estimate,
    model_shape,
    prefill,
    roofline,
    scheme_for,
)
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
    Result,
    Setting,
    Stats,
)
from bench.store import folder_lock, result_path, write_atomic
from bench.suite import (
    MAX_CELLS,
    Cell,
    ModelSpec,
    PartialSettings,
    SettingsMatrix,
    Suite,
    check_models,
    check_size,
    expand,
    load_suite,
    resolve_folder,
)

# --------------------------------------------------------------------------- the estimate suite


def _known_schemes(values: list[str]) -> list[str]:
    for v in values:
        if v not in SCHEMES:
            raise ValueError(f"unknown quantization {v!r}; estimates know {', '.join(SCHEMES)}")
    return values


class EstimateSettings(SettingsMatrix):
    """The suite's matrix, with the roofline's quantization schemes instead of the runnable ones."""

    @field_validator("quantization")
    @classmethod
    def _known_quantization(cls, values: list[str]) -> list[str]:  # overrides the runnable set
        return _known_schemes(values)


class EstimatePartialSettings(PartialSettings):
    @field_validator("quantization")
    @classmethod
    def _known_quantization(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _known_schemes(values)


class EstimateModelSpec(ModelSpec):
    settings: EstimatePartialSettings | list[EstimatePartialSettings] | None = None  # type: ignore[assignment]


class EstimateSuite(Suite):
    """A suite plus the hardware to estimate it for."""

    hardware: list[str] = Field(min_length=1)
    models: list[EstimateModelSpec] = Field(min_length=1)  # type: ignore[assignment]
    settings: EstimateSettings = Field(default_factory=EstimateSettings)

    @field_validator("hardware")
    @classmethod
    def _known_hardware(cls, values: list[str]) -> list[str]:
        known = hardware.known_ids()
        for v in values:
            if v not in known:
                raise ValueError(f"unknown hardware {v!r}; the catalog has {', '.join(known)}")
        return values


@dataclass(frozen=True)
class EstimatePlan:
    suite: EstimateSuite
    path: Path
    cells: list[tuple[Hardware, Cell]]
    skipped: list[tuple[str, str]]


def plan_estimates(path: str | Path, max_cells: int | None = MAX_CELLS) -> EstimatePlan:
    """Load and validate an estimate suite; one cell per matrix point per hardware (at most
    `max_cells` matrix points, counted before any is built)."""
    path = Path(path)
    suite = load_suite(path, EstimateSuite)
    assert isinstance(suite, EstimateSuite)  # load_suite validated it with this model
    check_size(path, suite, max_cells)
    skipped = check_models(path, suite)
    cells = []
    for hw_id in suite.hardware:
        hw = hardware.resolve(hw_id)
        # The setting's device is the catalog id, so the cell id and the report tell GPUs apart.
        device = "cpu" if hw.kind == "cpu" else hw.id
        cells += [(hw, cell) for cell in expand(suite, path, device, skipped).cells]
    return EstimatePlan(suite=suite, path=path, cells=cells, skipped=skipped)


# --------------------------------------------------------------------------- one cell


def model_config(spec: ModelSpec, base_dir: Path):
    """The transformers config of a suite model, without loading any weights."""
    from transformers import AutoConfig

    from bench.models import build_config

    if spec.arch:
        return build_config(spec)
    kwargs: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    source = spec.hub or resolve_folder(spec, base_dir)
    return AutoConfig.from_pretrained(source, **kwargs)


def estimate_cell(
    cell: Cell, hw: Hardware, shape: ModelShape, config: dict[str, Any], commit: str | None
) -> Result:
    """The estimated result of one cell on one device."""
    start = time.perf_counter()
    started_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    s = cell.setting
    memory = memory_estimate(shape, s)
    block = roofline(shape, s, hw)
    usable = hw.usable_memory_bytes
    fits = None if usable is None else memory.total <= usable
    block = block.model_copy(update={"fits": fits})
    metrics = Metrics(
        memory=Memory(estimated_bytes=int(memory.total)),
        energy=Energy(reason="estimated: nothing was run"),
        roofline=block,
    )
    status, error = "ok", None
    if fits is False:
        status = "oom"
        error = ErrorInfo(
            type="EstimatedOOM",
            message=(
                f"needs {memory.total / GiB:.1f} GiB (weights {memory.weights / GiB:.1f}, KV cache "
                f"{memory.kv_cache / GiB:.1f}, activations {memory.activations / GiB:.1f}); {hw.id} has "
                f"{usable / GiB:.1f} GiB usable"
            ),
        )
    else:
        _fill_times(metrics, shape, s, hw)
    return Result(
        cell=cell.id,
        suite=cell.suite,
        status=status,
        error=error,
        method="estimated",
        model=ModelInfo(
            name=cell.model.name,
            slug=cell.model.slug,
            family=cell.model.display_family,
            source=cell.model.source,
            config=config,
            params=shape.params,
            weight_bytes=int(memory.weights),
        ),
        setting=s,
        protocol=None,
        metrics=metrics,
        environment=estimate_environment(hw, commit),
        started_at=started_at,
        duration_s=time.perf_counter() - start,
    )


def _fill_times(metrics: Metrics, shape: ModelShape, s: Setting, hw: Hardware) -> None:
    """Prefill, decode and end-to-end times from the roofline, as a measured cell reports them."""
    prefill_s, _ = prefill(shape, scheme_for(s), s.dtype, s.batch_size, s.prompt_tokens).seconds(hw)
    bound = decode_bound(shape, s, hw)
    e2e_s = prefill_s + (s.new_tokens - 1) * bound.seconds_per_step
    metrics.prefill = Latency(
        latency_s=Stats.of([prefill_s]), tokens_per_s=s.batch_size * s.prompt_tokens / prefill_s
    )
    metrics.decode = Decode(per_token_s=Stats.of([bound.seconds_per_step]), tokens_per_s=bound.tokens_per_s)
    metrics.e2e = Latency(latency_s=Stats.of([e2e_s]), tokens_per_s=s.batch_size * s.new_tokens / e2e_s)


def estimate_environment(hw: Hardware, commit: str | None) -> Environment:
    """Software that made the estimate, and the device it is for (not the machine it ran on)."""
    import torch
    import transformers

    return Environment(
        gpuscape=__version__,
        git_commit=commit,
        python=platform.python_version(),
        torch=torch.__version__,
        transformers=transformers.__version__,
        gpu=GPUInfo(name=hw.name, memory_bytes=hw.memory_bytes) if hw.kind == "gpu" else None,
        cpu=CPUInfo(model=hw.name) if hw.kind == "cpu" else None,
    )


# --------------------------------------------------------------------------- the whole suite


@dataclass
class Written:
    hardware: Hardware
    cell: Cell
    result: Result
    path: Path
    changed: bool  # False: an identical estimate was already there (file left untouched)


def estimate(path: str | Path, out_dir: str | Path, max_cells: int | None = MAX_CELLS) -> list[Written]:
    """Estimate every cell of a suite on each of its hardware; write results/<suite>/<cell>.json."""
    from bench.environment import git_commit
    from bench.models import _json_safe

    p = plan_estimates(path, max_cells)
    out_dir = Path(out_dir)
    commit = git_commit()
    shapes: dict[str, tuple[ModelShape, dict[str, Any]]] = {}
    written = []
    with folder_lock(out_dir):
        for hw, cell in p.cells:
            if cell.model.name not in shapes:
                config = model_config(cell.model, Path(cell.base_dir))
                shapes[cell.model.name] = (model_shape(config), _json_safe(config.to_dict()))
            shape, config_data = shapes[cell.model.name]
            result = estimate_cell(cell, hw, shape, config_data, commit)
            target = result_path(out_dir, cell)
            changed = not _same_estimate(target, result)
            if changed:
                write_atomic(target, result.to_json())
            written.append(Written(hw, cell, result, target, changed))
    return written


_VOLATILE = {"started_at": True, "duration_s": True, "environment": {"git_commit"}}


def _same_estimate(path: Path, result: Result) -> bool:
    """True when the file holds this estimate already (ignoring when and from which commit),
    so re-estimating an unchanged suite leaves committed files alone."""
    try:
        old = Result.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return False
    return old.model_dump(exclude=_VOLATILE) == result.model_dump(exclude=_VOLATILE)
