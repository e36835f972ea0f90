"""report.export with a real Chromium: one batch renders every image these tests look at."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from report.charts import MAX_STATIC_LEGEND_CHARS, family_color, figure_spec
from report.export import (
    BrowserNotFoundError,
    ImageJob,
    export_images,
    find_browser,
)
from report.views import VIEWS
from tests.report.chart_fixtures import XSS_NAME, small_set

needs_browser = pytest.mark.skipif(find_browser() is None, reason="no Chromium (apt-get install chromium)")


@dataclass
class Batch:
    folder: Path
    family: str  # a family drawn in the 3D landscape
    seconds: float


@pytest.fixture(scope="session")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """The landscape (3D) in PNG, SVG and PDF, a 2D view in PNG and a fast-3D PNG: one browser."""
    folder = tmp_path_factory.mktemp("export")
    results = small_set()
    spec_3d = figure_spec(VIEWS["landscape"], results, "presentation", static=True)
    spec_2d = figure_spec(VIEWS["memory-speed"], results, "presentation", static=True)
    jobs = [
        ImageJob(spec_3d, {fmt: folder / f"landscape.{fmt}" for fmt in ("png", "svg", "pdf")}),
        ImageJob(spec_2d, {"png": folder / "memory-speed.png"}),
    ]
    stats = export_images(jobs)
    assert sorted(p.name for p in stats.files) == sorted(
        ["landscape.png", "landscape.svg", "landscape.pdf", "memory-speed.png"]
    )
    export_images([ImageJob(spec_3d, {"png": folder / "landscape-fast.png"})], antialias=False)
    family = sorted({r.model.family for r in results if r.status == "ok"})[-1]
    return Batch(folder, family, stats.total_s)


def _not_blank(path: Path) -> Image.Image:
    image = Image.open(path)
    assert image.size == (1920, 1080)
    rgb = image.convert("RGB")
    stat = ImageStat.Stat(rgb)
    assert max(stat.stddev) > 20, f"{path.name} is nearly uniform: {stat.stddev}"
    colours = rgb.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 200, f"{path.name} has too few colours"
    background = max(colours)[1]
    drawn = sum(n for n, c in colours if c != background)
    assert drawn > 0.03 * 1920 * 1080, f"{path.name} is mostly background"
    return rgb


def _saturated_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels with a clear colour (markers); axes, text and background are grey."""
    hsv = image.crop(box).convert("HSV")
    return sum(1 for _, s, v in hsv.get_flattened_data() if s > 90 and v > 60)


@needs_browser
def test_3d_png_is_1920x1080_and_the_scene_is_drawn(batch: Batch) -> None:
    image = _not_blank(batch.folder / "landscape.png")
    # the WebGL scene (left three quarters; the legend sits right) holds coloured markers
    assert _saturated_pixels(image, (0, 200, 1400, 1000)) > 2000


@needs_browser
def test_the_family_colour_is_in_the_image(batch: Batch) -> None:
    image = Image.open(batch.folder / "memory-speed.png").convert("RGB")
    target = tuple(int(family_color(batch.family)[i : i + 2], 16) for i in (1, 3, 5))
    close = sum(
        1
        for px in image.get_flattened_data()
        if sum(abs(a - b) for a, b in zip(px, target, strict=True)) < 30
    )
    assert close > 200


@needs_browser
def test_2d_and_fast_3d_pngs_are_not_blank(batch: Batch) -> None:
    _not_blank(batch.folder / "memory-speed.png")
    fast = _not_blank(batch.folder / "landscape-fast.png")
    assert _saturated_pixels(fast, (0, 200, 1400, 1000)) > 2000


@needs_browser
def test_svg_is_valid_and_embeds_the_3d_scene(batch: Batch) -> None:
    root = ET.parse(batch.folder / "landscape.svg").getroot()
    assert root.tag.endswith("svg")
    images = [e for e in root.iter() if e.tag.endswith("image")]
    assert images, "a 3D scene is embedded as a picture"
    href = images[0].get("{http://www.w3.org/1999/xlink}href") or images[0].get("href") or ""
    assert href.startswith("data:image/png;base64,") and len(href) > 10_000
    # the hostile model name is text in a <text> element, not markup
    texts = ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]
    assert any(t.startswith(XSS_NAME[: MAX_STATIC_LEGEND_CHARS - 1]) for t in texts), texts  # cut to fit
    assert not [e for e in root.iter() if e.tag.endswith("script")]


@needs_browser
def test_pdf_is_one_page_of_the_figures_size(batch: Batch) -> None:
    data = (batch.folder / "landscape.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert box is not None
    assert abs(float(box.group(1)) - 720) < 2 and abs(float(box.group(2)) - 405) < 2  # 960x540 px in pt


def test_no_browser_gives_a_clear_message_without_a_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    assert find_browser() is None
    with pytest.raises(BrowserNotFoundError) as caught:
        export_images([ImageJob({"data": [], "layout": {}}, {"png": tmp_path / "x.png"})])
    message = str(caught.value)
    assert "apt-get install" in message and "BROWSER_PATH" in message
    assert "get_chrome" not in message and "download" not in message.lower()
    assert not (tmp_path / "x.png").exists()
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_browser() is None


def test_unknown_image_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown image format"):
        ImageJob({"data": []}, {"gif": tmp_path / "x.gif"})
