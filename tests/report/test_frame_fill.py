"""Every static 3D image's scene fills its frame (issue 15): rendered in one browser session, the
scene's bounding box takes at least 80 % of the width left of the legend and of the height under
the title, and is not cut at the frame's edge. `pytest -s` prints the ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf.synthetic import synthetic_results
from report.charts import figure_spec
from report.export import ImageJob, export_images, find_browser
from report.views import VIEWS
from tests.report.chart_fixtures import renamed, small_set
from tests.report.frame_fill import scene_fill

LONG_NAME = "Qwen2.5-Coder-32B-Instruct-AWQ-int4-group128-experimental-v2"  # 60 characters
MIN_FILL = 0.8
EDGE_PX = 3  # a scene this close to its frame's edge is cut there


def _sets() -> dict[str, tuple[list, dict]]:
    """Name -> (results, figure_spec options): a realistic mix, 50 models, a 60-character name,
    one model in colour among grey others, and one model alone."""
    mixed = small_set(n_cells=60, n_models=6, xss=False)
    long = [
        renamed(r, LONG_NAME) if i % 3 == 0 else r for i, r in enumerate(synthetic_results(40, 4, seed=1))
    ]
    assert len(LONG_NAME) == 60
    return {
        "mixed": (mixed, {}),
        "50 models": (synthetic_results(400, 50, seed=3), {}),
        "60-char name": (long, {}),
        "highlight": (long, {"highlight": LONG_NAME}),
        "only": (long, {"only": LONG_NAME}),
    }


@pytest.mark.skipif(find_browser() is None, reason="no Chromium (apt-get install chromium)")
def test_every_static_3d_scene_fills_its_frame(tmp_path: Path) -> None:
    jobs, cases = [], []
    for name, (results, options) in _sets().items():
        for view in VIEWS.values():
            spec = figure_spec(view, results, "presentation", static=True, **options)
            if "scene" not in spec["layout"]:
                continue
            stem = tmp_path / f"{name.replace(' ', '-')}-{view.name}"
            outputs = {"png": stem.with_suffix(".png"), "svg": stem.with_suffix(".svg")}
            jobs.append(ImageJob(spec, outputs))
            cases.append((name, view.name, spec, outputs))
    assert len(cases) >= 12
    export_images(jobs)
    failures = []
    for name, view, spec, outputs in cases:
        fill = scene_fill(outputs["png"].read_bytes(), outputs["svg"].read_text(), spec["layout"])
        (left, top, _, bottom), box = fill.frame, fill.box
        cut = box[1] - top < EDGE_PX or bottom - box[3] < EDGE_PX or box[0] - left < EDGE_PX
        print(
            f"{name:13s} {view:22s} width {fill.width_ratio:.2f} height {fill.height_ratio:.2f}{' cut' * cut}"
        )
        if fill.width_ratio < MIN_FILL or fill.height_ratio < MIN_FILL or cut:
            failures.append((name, view, round(fill.width_ratio, 2), round(fill.height_ratio, 2), cut))
    assert not failures, failures


@pytest.mark.skipif(find_browser() is None, reason="no Chromium (apt-get install chromium)")
def test_the_sites_3d_charts_fill_their_frame(tmp_path: Path) -> None:
    """The interactive charts of the site (960 wide, their own height, the camera stepped back
    a little so a turn stays inside): the scene takes at least 80 % of the width left of the
    legend and of the height under the title, key and hardware selector."""
    jobs, cases = [], []
    for name in ("mixed", "50 models"):
        results, _ = _sets()[name]
        for view in VIEWS.values():
            spec = figure_spec(view, results, "light")
            if "scene" not in spec["layout"]:
                continue
            stem = tmp_path / f"site-{name.replace(' ', '-')}-{view.name}"
            outputs = {"png": stem.with_suffix(".png"), "svg": stem.with_suffix(".svg")}
            jobs.append(ImageJob(spec, outputs, 960, spec["layout"]["height"]))
            cases.append((name, view.name, spec, outputs))
    assert len(cases) >= 6 and any("updatemenus" in spec["layout"] for _, _, spec, _ in cases)
    export_images(jobs)
    failures = []
    for name, view, spec, outputs in cases:
        fill = scene_fill(outputs["png"].read_bytes(), outputs["svg"].read_text(), spec["layout"])
        print(f"site {name:9s} {view:22s} width {fill.width_ratio:.2f} height {fill.height_ratio:.2f}")
        if fill.width_ratio < MIN_FILL or fill.height_ratio < MIN_FILL:
            failures.append((name, view, round(fill.width_ratio, 2), round(fill.height_ratio, 2)))
    assert not failures, failures
