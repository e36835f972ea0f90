"""report.build as one pipeline: one run makes charts, site, deck and animation with every image
drawn once in one browser; a rebuild with nothing changed draws nothing; a changed value redraws
only the images it touches."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from bench.schema import slugify
from perf.synthetic import synthetic_results
from report.build import build
from report.export import find_browser
from tests.report.chart_fixtures import write_results

pytestmark = pytest.mark.skipif(find_browser() is None, reason="no Chromium (apt-get install chromium)")

FRAMES = 3


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pngs(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): _sha(p) for p in (out / "charts").rglob("*.png")}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """Results of three models and a full build of them (every step, PNG only: fewer images)."""
    results = write_results(synthetic_results(30, 3, seed=4), tmp_path_factory.mktemp("results"))
    out = tmp_path_factory.mktemp("build")
    report = build([results], out, formats=["html", "png"], frames=FRAMES)
    return results, out, report


def test_one_run_makes_every_output_and_draws_each_picture_once(first) -> None:
    _, out, report = first
    assert report.images_skipped is None
    pngs = _pngs(out)
    deck_pngs = {p.name: _sha(p) for p in (out / "slides" / "images").glob("*.png")}
    # each distinct picture drawn once: charts/<view>.png is its first hardware's image, copied
    assert report.rendered == len(set(pngs.values()) | set(deck_pngs.values())) > 0 and report.cached == 0
    frames = sorted(p.name for p in (out / "charts" / "hardware").iterdir())
    assert len(frames) >= 2  # the synthetic set has CPU, GPU and estimated cells: an image each
    assert any(pngs["charts/landscape.png"] == pngs[f"charts/hardware/{f}/landscape.png"] for f in frames)
    assert (out / "site" / "index.html").is_file() and (out / "site" / "slides.html").is_file()
    assert Image.open(out / "slides" / "landscape.gif").n_frames == FRAMES
    prs = Presentation(str(out / "slides" / "deck.pptx"))
    pictures = [sh for s in prs.slides for sh in s.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    chart_bytes = {p.read_bytes() for p in (out / "charts").rglob("*.png")}
    # a model slide shows its chart image with the chart's own title cropped away; the views and
    # hardware panels are drawn for the box they fill, without a title (the slide's names them)
    models = [pic for pic in pictures if pic.image.blob in chart_bytes]
    assert models and all(0.05 < pic.crop_top < 0.2 and pic.image.size == (1920, 1080) for pic in models)
    boxed = [pic for pic in pictures if pic.image.blob not in chart_bytes]
    assert len(boxed) == len(frames) + 4 and all(pic.crop_top == 0 for pic in boxed)
    assert all(Image.open(io.BytesIO(pic.image.blob)).size[1] < 1000 for pic in boxed)


def test_nothing_changed_renders_nothing(first, monkeypatch: pytest.MonkeyPatch) -> None:
    results, out, report = first
    before = _pngs(out)
    deck = _sha(out / "slides" / "deck.pptx")
    # no browser at all: the rebuild must not need one
    monkeypatch.setenv("BROWSER_PATH", str(out / "no-chromium"))
    same = build([results], out, formats=["html", "png"], frames=FRAMES)
    assert same.unchanged and same.rendered == 0 and not same.written  # the same inputs: nothing to do
    assert _pngs(out) == before and _sha(out / "slides" / "deck.pptx") == deck
    # forget that shortcut: the whole pipeline runs, and every picture comes from the cache
    published = out / ".cache" / "published.json"
    published.write_text(json.dumps({**json.loads(published.read_text()), "build": ""}))
    again = build([results], out, formats=["html", "png"], frames=FRAMES)
    assert not again.unchanged and again.images_skipped is None
    assert again.rendered == 0 and again.cached == report.rendered
    assert _pngs(out) == before and _sha(out / "slides" / "deck.pptx") == deck
    assert "site/ unchanged" in " ".join(again.notes)
    assert Image.open(out / "slides" / "landscape.gif").n_frames == FRAMES


def test_a_second_make_report_with_nothing_changed_does_nothing(first) -> None:
    """Another process (another hash seed) sees the same inputs as the last build."""
    results, out, _ = first
    command = [sys.executable, "-m", "report", str(results), "--out", str(out), "--formats", "html,png"]
    done = subprocess.run([*command, "--frames", str(FRAMES)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "nothing changed since the last build" in done.stdout


def test_one_changed_value_redraws_only_what_shows_it(first, tmp_path: Path) -> None:
    results, out, report = first
    before = _pngs(out)
    # a model's fastest cell decodes twice as fast: every view with that model changes, and the
    # other models' own charts ("only" views) do not
    files = sorted(results.rglob("*.json"))
    docs = [json.loads(p.read_text()) for p in files]
    target = next(d for d in docs if d["status"] == "ok" and d["method"] == "measured")
    changed = Path(next(p for p, d in zip(files, docs, strict=True) if d is target))
    target["metrics"]["decode"]["tokens_per_s"] *= 2
    changed.write_text(json.dumps(target), encoding="utf-8")
    again = build([results], out, formats=["html", "png"], frames=FRAMES)
    after = _pngs(out)
    redrawn = {name for name in after if after[name] != before.get(name)}
    assert again.rendered > 0 and again.rendered < report.rendered
    assert len({after[name] for name in redrawn}) <= again.rendered  # a copy is not drawn twice
    # the landscape of the changed cell's hardware (charts/landscape.png draws another one here)
    assert [n for n in redrawn if n.startswith("charts/hardware/") and n.endswith("/landscape.png")]
    own = f"charts/models/{slugify(target['model']['name'])}/"
    others = [n for n in after if n.startswith("charts/models/") and not n.startswith(own) and "scaling" in n]
    assert others and not redrawn & set(others)
