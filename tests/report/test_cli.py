"""`python -m report` as a user runs it: files written, errors, exit statuses, determinism."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from report.export import find_browser
from report.views import VIEWS
from tests.report.chart_fixtures import XSS_NAME, failed, small_set, write_results

ROOT = Path(__file__).resolve().parents[2]
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def report(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "report", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = small_set()
    results.append(failed(results[3], "oom"))
    return write_results(results, tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def html_build(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    done = report(results_dir, "--out", out, "--formats", "html")
    assert done.returncode == 0, done.stderr
    return out


def test_help_explains_every_option() -> None:
    done = report("--help")
    assert done.returncode == 0
    for option in (
        "--out",
        "--formats",
        "--views",
        "--view",
        "--skip-invalid",
        "--theme",
        "--tabs",
        "--fast-3d",
    ):
        assert option in done.stdout
    assert "slides" in done.stdout  # other commands are listed


def test_html_for_every_view_with_every_model_and_no_cdn(html_build: Path) -> None:
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()  # its source names a map-data URL it never loads for these charts
    charts = html_build / "charts"
    names = {r.model.name for r in small_set() if r.status == "ok"}
    for view in VIEWS.values():
        page = (charts / f"{view.name}.html").read_text()
        assert page.count(plotly_js) == 1  # inlined once, from the installed package
        rest = page.replace(plotly_js, "")
        assert "http://" not in rest and "https://" not in rest  # nothing to fetch: works offline
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=", rest)
        if view.name in ("landscape", "memory-speed", "size-speed"):
            for name in names - {XSS_NAME}:
                assert name in page, (view.name, name)
        assert "<script>alert" not in page
    landscape = (charts / "landscape.html").read_text()
    assert "Failed cells (1), not plotted" in landscape  # listed under the chart
    assert html.escape(XSS_NAME, quote=True) in landscape or "\\u003cscript\\u003e" in landscape


def test_model_pages_get_path_safe_folders(html_build: Path) -> None:
    models = html_build / "charts" / "models"
    folders = sorted(p.name for p in models.iterdir())
    assert len(folders) == len({r.model.name for r in small_set()})
    assert all(SAFE_NAME.match(f) for f in folders), folders
    assert all(p.resolve().is_relative_to(models.resolve()) for p in models.rglob("*"))
    per_model = [v.name for v in VIEWS.values() if v.per_model != "none"]
    for folder in models.iterdir():
        assert sorted(p.stem for p in folder.glob("*.html")) == sorted(per_model)
        page = next(folder.glob("*.html")).read_text()
        assert 'src="../../plotly.min.js"' in page  # shared, shipped once in charts/
    assert (html_build / "charts" / "plotly.min.js").stat().st_size > 1_000_000


def test_same_results_give_byte_identical_html(results_dir: Path, html_build: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert report(results_dir, "--out", again, "--formats", "html").returncode == 0
    first = {p.relative_to(html_build): p.read_bytes() for p in html_build.rglob("*.html")}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*.html")}
    assert first.keys() == second.keys() and first == second


def test_bad_input_names_file_and_field_and_leaves_build_alone(results_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    bad = results / "bad.json"
    bad.write_text(
        (next(results_dir.rglob("*.json"))).read_text().replace('"status": "ok"', '"status": "fine"')
    )
    out = tmp_path / "out"
    (out / "charts").mkdir(parents=True)
    (out / "charts" / "old.html").write_text("previous build")
    done = report(results, "--out", out)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.json: status:" in lines[0], done.stderr
    assert sorted(p.name for p in out.rglob("*")) == ["charts", "old.html"]
    assert (out / "charts" / "old.html").read_text() == "previous build"


def test_skip_invalid_lists_what_was_skipped(results_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_results(small_set(xss=False), results)
    (results / "broken.json").write_text("{")
    out = tmp_path / "out"
    done = report(results, "--out", out, "--formats", "html", "--skip-invalid", "--view", "landscape")
    assert done.returncode == 0, done.stderr
    assert "skipped: " in done.stderr and "broken.json: not valid JSON" in done.stderr
    assert (out / "charts" / "landscape.html").exists()
    assert not (out / "charts" / "scaling.html").exists()  # --view picks views


def test_without_chromium_html_is_written_and_the_exit_status_says_so(
    results_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = report(
        results_dir, "--out", out, "--view", "memory-speed", env={"BROWSER_PATH": str(tmp_path / "missing")}
    )
    assert done.returncode == 3
    assert "apt-get install" in done.stderr and "BROWSER_PATH" in done.stderr
    assert (out / "charts" / "memory-speed.html").exists()
    assert not list(out.rglob("*.png"))


@pytest.mark.skipif(find_browser() is None, reason="no Chromium")
def test_images_for_views_and_model_pages(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = report(
        results_dir, "--out", out, "--formats", "png,html", "--view", "landscape", "--view", "size-speed"
    )
    assert done.returncode == 0, done.stderr
    for name in ("landscape", "size-speed"):
        assert Image.open(out / "charts" / f"{name}.png").size == (1920, 1080)
    model_pngs = list((out / "charts" / "models").rglob("landscape.png"))
    assert len(model_pngs) == len({r.model.name for r in small_set()})
    assert not list(out.rglob("*.svg")) and not list(out.glob(".gpuscape-build-*"))


def test_a_subcommand_is_dispatched_by_name() -> None:
    done = report("slides", "--help")
    assert done.returncode == 0 and "python -m report slides" in done.stdout
    serve = report("serve", "--help")
    assert serve.returncode == 0 and "python -m report serve" in serve.stdout
    missing = report("serve", "x")  # a missing results folder is refused before serving anything
    assert missing.returncode == 1 and "x: no such file or folder" in missing.stderr
