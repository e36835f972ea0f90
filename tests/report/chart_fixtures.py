"""Helpers for the chart, export and CLI tests: synthetic results on disk, hostile names."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.schema import Result, slugify
from perf.synthetic import synthetic_results

XSS_NAME = '<script>alert("x")</script> Evil & "Co"'
XSS_FAMILY = "<b>Bold</b> family"


def renamed(result: Result, name: str, family: str | None = None) -> Result:
    """A copy of a result as another model (name, slug and optionally family)."""
    update = {"name": name, "slug": slugify(name)}
    if family is not None:
        update["family"] = family
    return result.model_copy(update={"model": result.model.model_copy(update=update)})


def small_set(seed: int = 0, n_cells: int = 24, n_models: int = 4, xss: bool = True) -> list[Result]:
    """A few models, CPU and GPU, failures and estimates; the first model renamed with HTML."""
    results = synthetic_results(n_cells, n_models, seed)
    if not xss:
        return results
    first = results[0].model.name
    return [renamed(r, XSS_NAME, XSS_FAMILY) if r.model.name == first else r for r in results]


def write_results(results: Iterable[Result], folder: Path) -> Path:
    """Each result as <folder>/<suite>/<cell>.json, as the bench writes them."""
    for result in results:
        path = folder / result.suite / f"{result.cell}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.to_json(), encoding="utf-8")
    return folder


def failed(result: Result, status: str = "oom") -> Result:
    """A copy of a result that failed: no metrics, an error, the same model and setting."""
    from bench.schema import ErrorInfo, Metrics

    error = ErrorInfo(
        type="OutOfMemoryError" if status == "oom" else "RuntimeError", message=f"{status} <here>"
    )
    cell = f"{int(result.cell, 16) ^ 0xFFFFF:010x}"  # another cell id, still 10 hex digits
    return result.model_copy(update={"status": status, "error": error, "metrics": Metrics(), "cell": cell})
