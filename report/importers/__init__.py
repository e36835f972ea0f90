"""Other tools' result files -> gpuscape results (method "imported"): one module per tool.

Each tool module has `TOOL`, `EXPECTED` (what its files look like, for error lines),
`detect(data) -> bool`, `candidates(folder) -> [paths]` and `read(SourceFile) -> [Draft]`;
`import_paths` runs one of them over files and folders and writes nothing unless every file
was read. `common` holds what they share.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from bench.schema import Result, slugify

from . import guidellm, llama_bench, optimum_benchmark, vllm
from .common import (
    SETTABLE,
    ImportProblem,
    SourceFile,
    Written,
    apply_overrides,
    check_overrides,
    to_result,
    write_results,
)

TOOLS: dict[str, ModuleType] = {
    optimum_benchmark.TOOL: optimum_benchmark,
    vllm.TOOL: vllm,
    llama_bench.TOOL: llama_bench,
    guidellm.TOOL: guidellm,
}

__all__ = ["TOOLS", "SETTABLE", "ImportProblem", "ImportReport", "import_paths", "read_results"]


@dataclass
class ImportReport:
    results: list[Result]
    written: Written
    out_dir: Path


def tool_module(tool: str) -> ModuleType:
    try:
        return TOOLS[tool]
    except KeyError:
        raise ImportProblem(tool, f"unknown tool; expected one of {', '.join(TOOLS)}") from None


def _files(module: ModuleType, paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                p
                for p in module.candidates(path)
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
            ]
            if not found:
                raise ImportProblem(path, f"no {module.TOOL} file in this folder; expected {module.EXPECTED}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ImportProblem(path, "no such file or folder")
    return files


def _read(module: ModuleType, path: Path) -> SourceFile:
    lines = getattr(module, "json_lines", None)
    appended = bool(getattr(module, "APPENDED", False))
    return SourceFile.read(path, json_lines=bool(lines and lines(path)), appended=appended)


def _another_tool(data: object, tool: str) -> str | None:
    for name, other in TOOLS.items():
        if name != tool and other.detect(data):
            return name
    return None


def read_results(
    tool: str, paths: Iterable[str | os.PathLike[str]], suite: str, overrides: Mapping[str, str] | None = None
) -> list[Result]:
    """Every configuration in the given files as results of `suite`; the first problem raises."""
    module = tool_module(tool)
    check_overrides(dict(overrides or {}))
    results: list[Result] = []
    seen: set[str] = set()
    for path in _files(module, paths):
        source = _read(module, path)
        if not module.detect(source.data):
            other = _another_tool(source.data, tool)
            if other is not None:
                raise ImportProblem(path, f"a {other} file, not {tool}; expected {module.EXPECTED}")
        drafts = module.read(source)  # raises with the tool's own line where the file is not its own
        for draft in drafts:
            apply_overrides(draft, dict(overrides or {}), path, tool)
            result = to_result(tool, source, draft, suite)
            if result.cell not in seen:  # the same file given twice
                seen.add(result.cell)
                results.append(result)
    return results


def import_paths(
    tool: str,
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    overrides: Mapping[str, str] | None = None,
) -> ImportReport:
    """Read every file first, then write results/<name>/<cell>.json; a rerun writes nothing new."""
    out = Path(out_dir)
    suite = slugify(out.resolve().name, max_len=64)
    results = read_results(tool, paths, suite, overrides)
    return ImportReport(results, write_results(results, out), out)
