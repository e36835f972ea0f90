"""Charts described as data: which metric on which axis, log or linear, colour, symbol, filter.

The built-in views live in report/views.yaml; `load_views(path)` adds a user's YAML file on top
(new names add views, known names replace them, `extends:` starts from another view). One
function, report.charts.build_figure, draws any of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.schema import METRICS, Metric, Result

BUILTIN_VIEWS = Path(__file__).with_name("views.yaml")
VIEW_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # also a file name: path-safe by construction
RESERVED_VIEW_NAMES = ("index",)  # the site's Charts page is charts/index.md

Category = Literal[
    "family",
    "model",
    "precision",
    "dtype",
    "quantization",
    "engine",
    "kv_cache",
    "device",
    "device_kind",
    "suite",
    "method",
]
FILTER_KEYS = (
    "family",
    "model",
    "slug",
    "suite",
    "device",
    "device_kind",
    "dtype",
    "quantization",
    "precision",
    "batch_size",
    "prompt_tokens",
    "new_tokens",
    "method",
)

# Where the camera sits for each preset (plotly scene coordinates, z up). "slide" looks across
# the x axis from the front, a little right and above, so x runs along the bottom edge, y recedes
# to the right and z stands up: all three axes and their titles stay readable at 16:9, and with
# the "frame" aspect the scene fills its frame (tests/report/test_frame_fill.py measures it).
CAMERAS: dict[str, dict[str, dict[str, float]]] = {
    "slide": {"eye": {"x": 0.72, "y": -1.95, "z": 0.45}, "center": {"x": -0.05, "y": 0.0, "z": -0.3}},
    "iso": {"eye": {"x": 1.25, "y": 1.25, "z": 1.25}},
    "front": {"eye": {"x": 0.0, "y": -2.3, "z": 0.35}},
    "side": {"eye": {"x": 2.3, "y": 0.0, "z": 0.35}},
    "top": {"eye": {"x": 0.0, "y": 0.0, "z": 2.5}, "up": {"x": 0.0, "y": 1.0, "z": 0.0}},
}


class ViewError(ValueError):
    """A view file that cannot be used; `str()` names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Axis(_Strict):
    """One axis: a metric id (or ids in order of preference), log or linear, an optional title."""

    metric: tuple[str, ...]
    log: bool | None = None  # None: the registry's default for the metric
    title: str | None = None  # None: the registry's label and unit

    @field_validator("metric", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("metric")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one metric id")
        for metric_id in value:
            if metric_id not in METRICS:
                raise ValueError(f"unknown metric {metric_id!r}; known: {', '.join(METRICS)}")
        return value

    def choose(self, results: list[Result]) -> Metric:
        """The first metric in the list that any of `results` has a value for (else the first)."""
        for metric_id in self.metric:
            metric = METRICS[metric_id]
            if any(metric.value(r) is not None for r in results):
                return metric
        return METRICS[self.metric[0]]

    def is_log(self, metric: Metric) -> bool:
        return metric.log if self.log is None else self.log


class View(_Strict):
    """A chart described as data; report.charts.build_figure draws it."""

    name: str = Field(pattern=VIEW_NAME)
    title: str
    description: str = ""
    x: Axis
    y: Axis
    z: Axis | None = None  # present: a 3D scene
    color: Category = "family"
    symbol: Category | None = "precision"
    filter: dict[str, tuple[str | int | None, ...]] = Field(default_factory=dict)
    pareto: bool = False  # 2D only: join the cells no other cell beats on both axes
    camera: str | dict[str, dict[str, float]] = "slide"
    # "frame": a box wider than deep, shaped for a 16:9 frame (report.charts.FRAME_ASPECT)
    aspect: Literal["frame", "cube", "auto", "data"] | dict[str, float] = "frame"
    per_model: Literal["none", "highlight", "only"] = "none"
    legend: Literal["auto", "model", "family"] = "auto"

    @field_validator("x", "y", "z", mode="before")
    @classmethod
    def _axis_shorthand(cls, value: Any) -> Any:
        return {"metric": value} if isinstance(value, (str, list)) else value

    @field_validator("filter", mode="before")
    @classmethod
    def _filter_values(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in value.items()}

    @field_validator("filter")
    @classmethod
    def _filter_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key not in FILTER_KEYS:
                raise ValueError(f"unknown filter key {key!r}; known: {', '.join(FILTER_KEYS)}")
        return value

    @field_validator("camera")
    @classmethod
    def _camera(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in CAMERAS:
            raise ValueError(f"unknown camera preset {value!r}; known: {', '.join(CAMERAS)}")
        return value

    @model_validator(mode="after")
    def _pareto_needs_directions(self) -> View:
        if self.pareto:
            if self.is_3d:
                raise ValueError("pareto: a front is drawn on 2D views only")
            for axis in (self.x, self.y):
                # a fallback metric may lack a direction: the chart then leaves the front out
                if METRICS[axis.metric[0]].better is None:
                    raise ValueError(f"pareto: {axis.metric[0]!r} has no better direction")
        return self

    @property
    def is_3d(self) -> bool:
        return self.z is not None

    def axes(self) -> tuple[Axis, ...]:
        return (self.x, self.y, self.z) if self.z is not None else (self.x, self.y)

    def camera_layout(self) -> dict[str, dict[str, float]]:
        """The plotly scene camera for this view."""
        return dict(CAMERAS[self.camera]) if isinstance(self.camera, str) else dict(self.camera)


def load_views(
    path: str | os.PathLike[str] | None = None, base: Mapping[str, View] | None = None
) -> dict[str, View]:
    """The built-in views, plus (or overridden by) those in a user's YAML file at `path`."""
    views = dict(base) if base is not None else _parse_file(BUILTIN_VIEWS, {})
    if path is not None:
        views.update(_parse_file(Path(path), views))
    return views


def _parse_file(path: Path, known: Mapping[str, View]) -> dict[str, View]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ViewError(f"{path}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid"
        raise ViewError(f"{path}: not valid YAML: {problem}{where}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ViewError(f"{path}: expected a mapping of view names to views, found {type(document).__name__}")
    parsed: dict[str, View] = {}
    for name, spec in document.items():
        parsed[str(name)] = _parse_view(path, str(name), spec, {**known, **parsed})
    return parsed


def _parse_view(path: Path, name: str, spec: Any, known: Mapping[str, View]) -> View:
    if not isinstance(spec, dict):
        raise ViewError(f"{path}: {name}: expected a mapping of settings, found {type(spec).__name__}")
    if name in RESERVED_VIEW_NAMES:
        raise ViewError(
            f"{path}: {name}: the view name {name!r} is taken by the site's Charts page; pick another"
        )
    spec = dict(spec)
    parent_name = spec.pop("extends", None)
    if parent_name is not None:
        parent = known.get(str(parent_name))
        if parent is None:
            raise ViewError(
                f"{path}: {name}.extends: unknown view {parent_name!r}; known: {', '.join(known)}"
            )
        spec = {**parent.model_dump(exclude={"name"}, exclude_none=True), **spec}
    spec.setdefault("title", name)
    try:
        return View.model_validate({**spec, "name": name})
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"] if not str(part).startswith("function-"))
        message = str(problem["msg"]).removeprefix("Value error, ")
        if where == "name":
            where, message = "", "a view name is lowercase letters, digits, '-' and '_', at most 64"
        raise ViewError(f"{path}: {name}{'.' + where if where else ''}: {message}") from None


VIEWS: dict[str, View] = load_views()

# The views the deck (and the site's slide view) shows, in order; names a view set lacks are skipped.
DECK_VIEWS = ("landscape", "transfer", "scaling", "memory-speed")
DECK_HARDWARE = 6  # hardware panels (a slide each) the deck and the site's slide view show at most


def deck_views(views: Mapping[str, View] | None = None, names: Sequence[str] = DECK_VIEWS) -> list[View]:
    """The views the deck shows, in its order."""
    chosen = views if views is not None else VIEWS
    return [chosen[name] for name in names if name in chosen]
