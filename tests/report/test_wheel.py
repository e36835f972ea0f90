"""A wheel install (not editable) builds the site from any folder: templates, pages, mkdocs.yml
and theme overrides ship inside the package, and the report's dependencies need no torch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perf.synthetic import synthetic_results
from tests.report.chart_fixtures import write_results

REPO = Path(__file__).resolve().parents[2]


def _run(command: list[str], cwd: Path, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_a_wheel_builds_the_site_in_an_empty_folder(tmp_path: Path) -> None:
    # built from a copy of the sources, so setuptools' build/ folder stays out of the checkout
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copyfile(REPO / name, source / name)
    for package in ("bench", "report"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)], tmp_path)
    wheel = next(wheels.glob("gpuscape-*.whl"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    # the report's dependencies only (the pip cache makes this quick after the first time)
    _run([str(python), "-m", "pip", "install", "-q", f"{wheel}[report]"], tmp_path)
    missing = subprocess.run([str(python), "-c", "import torch"], capture_output=True, cwd=tmp_path)
    assert missing.returncode != 0, "the report's install pulled in torch"

    # HTML and the site only: no Chromium needed, as on a docs-only machine
    report = [
        str(python),
        "-m",
        "report",
        "results",
        "--out",
        "build",
        "--formats",
        "html",
        "--steps",
        "charts,site",
    ]
    work = tmp_path / "work"  # holds nothing but results/
    write_results(synthetic_results(24, 3, seed=2), work / "results")
    done = _run(
        report,
        work,
    )
    assert "results ->" in done.stdout
    site = work / "build" / "site"
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "gpuscape: LLM inference, measured" in home  # the packaged intro (site/index.md)
    assert "javascripts/plotly.min.js" in home  # the packaged theme override loads plotly.js
    assert len(list((site / "models").glob("*.html"))) == 3
    assert sorted(p.name for p in work.iterdir()) == ["build", "results"]  # nothing else written

    # a project's own intro, from its working folder, replaces the packaged one
    (work / "site").mkdir()
    (work / "site" / "index.md").write_text("# Our own fleet\n\nNotes of ours.\n", encoding="utf-8")
    _run(
        report,
        work,
    )
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Notes of ours." in home and "LLM inference, measured" not in home
