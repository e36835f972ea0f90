"""The suite file: what to run. Validated whole before any cell starts; expanded into cells.

Imports no torch: validating a suite is fast and works on any machine.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bench import methods
from bench.methods import ENGINES, KV_CACHES, QUANTIZATIONS
from bench.safetext import headline
from bench.schema import MAX_BATCH, MAX_COUNT, MAX_TOKENS, Name, Protocol, Setting, slugify

DTYPES = ("float32", "float16", "bfloat16")
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
MAX_CELLS = 10_000  # a suite above this is refused unless asked (--max-cells): likely a typo


class SuiteError(ValueError):
    """An invalid suite; the message is one line naming the file, the model and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def _positive_list(values: list[int], below: int) -> list[int]:
    if not values:
        raise ValueError("must list at least one value")
    for v in values:
        if v < 1:
            raise ValueError(f"must be positive, got {v}")
        if v >= below:  # the result's bound (bench.schema): no cell could be recorded
            raise ValueError(
                f"must be below {below:,}, got {v if v < 10**30 else 'a ' + str(len(str(v))) + '-digit number'}"
            )
    return values


class SettingsMatrix(_Strict):
    """Every combination of these values is one cell per model."""

    dtype: list[str] = Field(default_factory=lambda: ["float32"])
    quantization: list[str] = Field(default_factory=lambda: ["none"])
    engine: list[str] = Field(default_factory=lambda: [methods.DEFAULT_ENGINE])
    kv_cache: list[str] = Field(default_factory=lambda: [methods.DEFAULT_KV_CACHE])
    batch_size: list[int] = Field(default_factory=lambda: [1])
    prompt_tokens: list[int] = Field(default_factory=lambda: [128])
    new_tokens: list[int] = Field(default_factory=lambda: [32])

    @field_validator(
        "dtype",
        "quantization",
        "engine",
        "kv_cache",
        "batch_size",
        "prompt_tokens",
        "new_tokens",
        mode="before",
    )
    @classmethod
    def _scalar_to_list(cls, v: Any) -> Any:
        return v if isinstance(v, list) else [v]

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, values: list[str]) -> list[str]:
        for v in values:
            if v not in DTYPES:
                raise ValueError(f"unknown dtype {v!r}; use one of {', '.join(DTYPES)}")
        return values

    @field_validator("quantization", mode="before")
    @classmethod
    def _null_is_none(cls, values: Any) -> Any:
        values = values if isinstance(values, list) else [values]
        return ["none" if v is None else str(v) for v in values]

    @field_validator("quantization")
    @classmethod
    def _known_quantization(cls, values: list[str]) -> list[str]:
        for v in values:
            if v not in QUANTIZATIONS:
                raise ValueError(f"unknown quantization {v!r}; use one of {', '.join(QUANTIZATIONS)}")
        return values

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, values: list[str] | None) -> list[str] | None:
        for v in values or []:
            if v not in ENGINES:
                raise ValueError(f"unknown engine {v!r}; use one of {', '.join(ENGINES)}")
        return values

    @field_validator("kv_cache")
    @classmethod
    def _known_kv_cache(cls, values: list[str] | None) -> list[str] | None:
        for v in values or []:
            if v not in KV_CACHES:
                raise ValueError(f"unknown kv_cache {v!r}; use one of {', '.join(KV_CACHES)}")
        return values

    @field_validator("batch_size", "prompt_tokens", "new_tokens")
    @classmethod
    def _positive(cls, values: list[int], info: ValidationInfo) -> list[int]:
        return _positive_list(values, MAX_BATCH if info.field_name == "batch_size" else MAX_TOKENS)


class PartialSettings(SettingsMatrix):
    """A model's own override of some matrix keys; unset keys follow the suite."""

    dtype: list[str] | None = None  # type: ignore[assignment]
    quantization: list[str] | None = None  # type: ignore[assignment]
    engine: list[str] | None = None  # type: ignore[assignment]
    kv_cache: list[str] | None = None  # type: ignore[assignment]
    batch_size: list[int] | None = None  # type: ignore[assignment]
    prompt_tokens: list[int] | None = None  # type: ignore[assignment]
    new_tokens: list[int] | None = None  # type: ignore[assignment]


class ModelSpec(_Strict):
    """One model of a suite: exactly one of arch, path, hub or package says where it comes from."""

    name: Name = Field(min_length=1)
    family: Name | None = None
    arch: str | None = None  # transformers model_type, built from its config with random weights
    path: str | None = None  # a local checkpoint folder (relative to the suite file)
    hub: str | None = None  # a hub id; needs the hub cache or the network
    package: str | None = None  # an installed Python package that carries a checkpoint folder
    gguf_file: str | None = None  # a GGUF file inside path/package
    config: dict[str, Any] = Field(default_factory=dict)  # overrides of the default config
    trust_remote_code: bool = False
    optional: bool = False  # skip with a note when the checkpoint is not installed
    # One override of the suite's matrix, or a list of them: their products' union (a slice such
    # as "int4 at batch 1 only" beside the full matrix), each cell once.
    settings: PartialSettings | list[PartialSettings] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        given = [k for k in ("arch", "path", "hub", "package") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of arch, path, hub, package"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.config and not self.arch:
            raise ValueError("config overrides apply to arch models only")
        return self

    @property
    def source(self) -> str:
        for key in ("arch", "path", "hub", "package"):
            if value := getattr(self, key):
                return f"{key}:{value}"
        raise AssertionError("validated to have one source")

    @property
    def slug(self) -> str:
        return slugify(self.name)

    @property
    def display_family(self) -> str:
        return self.family or self.name


class ClusterSettings(_Strict):
    """Where the cells run (`cluster:` in a suite; `bench run`'s options of the same names win).

    bench.cluster reads it; the cells and their ids do not depend on it."""

    executor: Literal["fork", "local", "slurm"] = "fork"
    slurm_partition: str | None = None
    slurm_gpus_per_node: int | None = Field(default=None, ge=0)
    slurm_time_min: int | None = Field(default=None, ge=1)  # per job; default: its cells' timeouts + 5
    slurm_account: str | None = None
    slurm_array_parallelism: int | None = Field(default=None, ge=1)  # jobs at once (local: default 1)
    slurm_setup: list[str] = Field(default_factory=list)  # shell lines before the job, e.g. module load
    cells_per_job: int = Field(default=1, ge=1)  # consecutive cells of one model share a job


class Suite(_Strict):
    name: Name = Field(min_length=1)
    description: str | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    warmup: int = Field(default=2, ge=0, le=MAX_COUNT)
    repeats: int = Field(default=5, ge=1, le=MAX_COUNT)
    min_duration_s: float = Field(default=0.0, ge=0)  # keep repeating until this much was timed
    timeout_s: float = Field(default=600.0, gt=0)
    memory_limit_gb: float | None = Field(default=None, gt=0)  # CPU: cap each cell's address space
    seed: int = 0
    models: list[ModelSpec] = Field(min_length=1)
    settings: SettingsMatrix = Field(default_factory=SettingsMatrix)
    cluster: ClusterSettings | None = None

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit()):
            return v
        raise ValueError(f"unknown device {v!r}; use auto, cpu, cuda or cuda:N")

    @property
    def slug(self) -> str:
        return slugify(self.name)


DEFAULT_SETTING = {"engine": methods.DEFAULT_ENGINE, "kv_cache": methods.DEFAULT_KV_CACHE}


@dataclass(frozen=True)
class Cell:
    """One point of the matrix: a model at one setting. Its id hashes everything that shapes it."""

    suite: str
    model: ModelSpec
    setting: Setting
    protocol: Protocol
    memory_limit_gb: float | None = None
    seed: int = 0
    base_dir: str = "."  # where relative model paths are resolved
    id: str = field(init=False)

    def __post_init__(self) -> None:
        spec = {
            "suite": self.suite,
            "model": self.model.model_dump(mode="json", exclude={"optional", "settings"}),
            # The engine and KV cache join the id only where not the default, so ids of cells
            # measured before these settings existed stay the same.
            "setting": self.setting.model_dump(
                mode="json",
                exclude={k for k, v in DEFAULT_SETTING.items() if getattr(self.setting, k) == v},
            ),
            "protocol": self.protocol.model_dump(mode="json"),
            "memory_limit_gb": self.memory_limit_gb,
            "seed": self.seed,
        }
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
        object.__setattr__(self, "id", digest)

    @property
    def label(self) -> str:
        s = self.setting
        quant = f" {s.quantization}" if s.quantization else ""
        engine = f" · {s.engine}" if s.engine != methods.DEFAULT_ENGINE else ""
        kv = f" · KV {s.kv_cache}" if s.kv_cache != methods.DEFAULT_KV_CACHE else ""
        return f"{self.model.name} · {s.dtype}{quant}{engine}{kv} · b{s.batch_size} p{s.prompt_tokens} n{s.new_tokens}"


@dataclass
class Plan:
    """What a suite expands to on a device: the cells, and models skipped with the reason."""

    suite: Suite
    path: Path
    cells: list[Cell]
    skipped: list[tuple[str, str]]
    dropped: list[tuple[str, str]] = field(default_factory=list)  # combinations that cannot run together


# --------------------------------------------------------------------------- loading


def _describe_location(data: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """'models[2] "Llama 3".config' style location from a pydantic error location."""
    parts: list[str] = []
    node: Any = data
    for key in loc:
        if isinstance(key, int):
            name = (
                node[key].get("name")
                if isinstance(node, list) and key < len(node) and isinstance(node[key], dict)
                else None
            )
            parts[-1] = f"{parts[-1]}[{key}]" + (f" {name!r}" if name else "")
        else:
            parts.append(str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def load_suite(path: str | Path, model: type[Suite] | None = None) -> Suite:
    """Parse and validate a suite file's structure; raise SuiteError with one clear line.

    `model` validates another kind of suite (bench.estimate's adds hardware and quantizations)."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SuiteError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a mapping with at least 'name' and 'models'")
    if model is None and "hardware" in data:  # bench.estimate's suites name GPUs to estimate for
        raise SuiteError(
            f"{path}: an estimate suite (it names hardware:); run: python -m bench estimate {path}"
        )
    try:
        suite = (model or Suite).model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _describe_location(data, tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SuiteError(f"{path}: {where}: {msg}{more}") from None
    _check_names(path, suite)
    return suite


def _check_names(path: Path, suite: Suite) -> None:
    seen: dict[str, str] = {}
    for i, model in enumerate(suite.models):
        for key in (model.name, model.slug):
            if key in seen:
                raise SuiteError(
                    f"{path}: models[{i}] {model.name!r}.name: duplicates {seen[key]!r} (names and their slugs must be unique)"
                )
        seen[model.name] = seen[model.slug] = model.name


def check_models(path: Path, suite: Suite) -> list[tuple[str, str]]:
    """Check what needs transformers or the disk: arch names, config keys, paths.

    Returns (model name, reason) for optional models that are not installed."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    skipped = []
    for i, model in enumerate(suite.models):
        where = f"{path}: models[{i}] {model.name!r}"
        if model.arch:
            if model.arch not in CONFIG_MAPPING_NAMES:
                close = difflib.get_close_matches(model.arch, list(CONFIG_MAPPING_NAMES), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SuiteError(f"{where}.arch: unknown architecture {model.arch!r}{hint}")
            _check_config_keys(where, model)
        elif model.path or model.package:
            folder = resolve_folder(model, path.parent)
            key = "path" if model.path else "package"
            if folder is None or not folder.is_dir():
                if model.optional:
                    skipped.append((model.name, f"{key} {getattr(model, key)!r} is not installed"))
                    continue
                raise SuiteError(f"{where}.{key}: no checkpoint folder at {getattr(model, key)!r}")
            if model.gguf_file and not (folder / model.gguf_file).is_file():
                raise SuiteError(f"{where}.gguf_file: {model.gguf_file!r} not found in {folder}")
    return skipped


def _check_config_keys(where: str, model: ModelSpec) -> None:
    from transformers import AutoConfig

    # head_dim: some config classes (qwen3_moe) leave it out while their attention reads it.
    known = set(AutoConfig.for_model(model.arch).to_dict()) | {"head_dim"}
    for key in model.config:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SuiteError(f"{where}.config.{key}: not a field of {model.arch}'s config{hint}")
    try:  # the config class checks its own values (heads dividing the hidden size ...): no weights
        AutoConfig.for_model(model.arch, **model.config)
    except Exception as exc:  # transformers raises ValueError, TypeError and its own classes
        raise SuiteError(f"{where}.config: {headline(str(exc)) or type(exc).__name__}") from None


def resolve_folder(model: ModelSpec, base_dir: Path) -> Path | None:
    """The checkpoint folder of a path or package model, or None when it cannot be found."""
    if model.path:
        folder = Path(model.path).expanduser()
        return folder if folder.is_absolute() else (base_dir / folder)
    if model.package:
        # find_spec locates the package without importing (and so without running) it.
        spec = importlib.util.find_spec(model.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(list(spec.submodule_search_locations)[0])
    return None


def resolve_device(requested: str) -> str:
    """'auto' becomes 'cuda' when NVML sees a GPU, else 'cpu' (without initialising CUDA here)."""
    if requested != "auto":
        return requested
    from bench.nvml import gpu_count

    return "cuda" if gpu_count() > 0 else "cpu"


def expand(suite: Suite, path: Path, device: str, skipped: list[tuple[str, str]] | None = None) -> Plan:
    """Every cell of the matrix, in suite order (model, then settings)."""
    skipped = skipped or []
    skipped_names = {name for name, _ in skipped}
    protocol = Protocol(
        warmup=suite.warmup,
        repeats=suite.repeats,
        min_duration_s=suite.min_duration_s,
        timeout_s=suite.timeout_s,
    )
    cells = []
    dropped: list[tuple[str, str]] = []  # matrix points that cannot run together, with the reason
    for model, matrix in _matrices(suite):
        if model.name in skipped_names:
            continue
        for dtype, quant, engine, kv, batch, prompt, new in itertools.product(
            matrix["dtype"],
            matrix["quantization"],
            matrix.get("engine") or [methods.DEFAULT_ENGINE],
            matrix.get("kv_cache") or [methods.DEFAULT_KV_CACHE],
            matrix["batch_size"],
            matrix["prompt_tokens"],
            matrix["new_tokens"],
        ):
            why = methods.incompatible(engine, quant, kv)
            if why:
                dropped.append((f"{model.name} · {quant} · {engine} · KV {kv}", why))
                continue
            if quant == "qoq":
                kv = methods.QOQ_KV_CACHE
            setting = Setting(
                device=device,
                dtype=dtype,
                quantization=None if quant == "none" else quant,
                engine=engine,
                kv_cache=kv,
                batch_size=batch,
                prompt_tokens=prompt,
                new_tokens=new,
            )
            cell = Cell(
                suite=suite.slug,
                model=model,
                setting=setting,
                protocol=protocol,
                memory_limit_gb=suite.memory_limit_gb,
                seed=suite.seed,
                base_dir=str(path.parent.resolve()),
            )
            if cell.id not in {c.id for c in cells}:  # overlapping slices name some cells twice
                cells.append(cell)
    return Plan(suite=suite, path=path, cells=cells, skipped=skipped, dropped=list(dict.fromkeys(dropped)))


def _matrices(suite: Suite) -> list[tuple[ModelSpec, dict[str, Any]]]:
    """(model, matrix) pairs: the suite's matrix under each of the model's overrides, in order."""
    out = []
    for model in suite.models:
        overrides = model.settings if isinstance(model.settings, list) else [model.settings]
        for own in overrides:
            mine = own.model_dump(exclude_none=True) if own is not None else {}
            out.append((model, {**suite.settings.model_dump(), **mine}))
    return out


def count_cells(suite: Suite) -> int:
    """How many cells a suite expands to, without building any (a product per model and override;
    an upper bound: incompatible engine/quantization pairs are dropped later)."""
    return sum(
        math.prod(len(values or [None]) for values in matrix.values()) for _, matrix in _matrices(suite)
    )


def check_size(path: Path, suite: Suite, max_cells: int | None = MAX_CELLS) -> int:
    """The cell count; SuiteError naming it and the keys that multiply it when above max_cells."""
    count = count_cells(suite)
    if max_cells is None or count <= max_cells:
        return count
    longest: dict[str, int] = {}
    for _, matrix in _matrices(suite):
        for key, values in matrix.items():
            longest[key] = max(longest.get(key, 0), len(values or [None]))
    n_models = len(suite.models)
    factors = [f"{n_models:,} model" + ("s" if n_models != 1 else "")] + [
        f"{key} {n:,}" for key, n in longest.items() if n > 1
    ]
    raise SuiteError(
        f"{path}: {count:,} cells ({' x '.join(factors)}) is above the limit of {max_cells:,}; "
        "shorten those lists or raise the limit with --max-cells"
    )


def plan(path: str | Path, device: str | None = None, max_cells: int | None = MAX_CELLS) -> Plan:
    """Load, validate fully and expand a suite: the one entry point for run and validate.

    The cells are counted before anything is built: above `max_cells` (None: no limit) the
    suite is refused with the count and the keys that multiply it."""
    path = Path(path)
    suite = load_suite(path)
    check_size(path, suite, max_cells)
    skipped = check_models(path, suite)
    return expand(suite, path, resolve_device(device or suite.device), skipped)


def default_suite_path() -> Path:
    """The embedded default: the GPU reference suite where a GPU is present, else the CPU suite."""
    name = "gpu-reference.yaml" if resolve_device("auto") == "cuda" else "cpu-small.yaml"
    return SUITES_DIR / name
