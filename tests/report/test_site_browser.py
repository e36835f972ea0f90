"""The built site in a real headless Chromium, served by a local HTTP server under a sub-path
(as GitHub Pages serves a project site): charts render, and nothing is fetched from elsewhere."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from report.site import build_site
from tests.report.site_chrome import Chrome, find_chromium
from tests.report.site_fixtures import XSS_NAME, mixed_results

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install chromium")

SUB_PATH = "/gpuscape/"
# Every plotly div on the page has drawn its SVG layer (and a 3D scene its WebGL canvas).
CHARTS_DRAWN = (
    "(() => { const divs = [...document.querySelectorAll('.plotly-graph-div')];"
    " return divs.length > 0 && divs.every(d => d.querySelector('.main-svg') && (d.data || []).every("
    " t => !String(t.type).endsWith('3d') || d.querySelector('.gl-container canvas'))); })()"
)


class Server:
    """A local HTTP server for one folder that remembers every path asked of it."""

    def __init__(self, root: Path) -> None:
        self.paths: list[str] = []
        log = self.paths

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                log.append(self.path)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp("www")
    server = Server(root)
    site = build_site(mixed_results(), tmp_path_factory.mktemp("out"), site_url=server.base + SUB_PATH)
    shutil.copytree(site, root / SUB_PATH.strip("/"))
    yield server, site
    server.close()


@pytest.fixture(scope="module")
def chrome() -> Iterator[Chrome]:
    assert CHROMIUM is not None
    browser = Chrome(CHROMIUM, width=1400, height=1000)
    yield browser
    browser.close()


def drawn_share(png: Path) -> tuple[float, int]:
    """Share of pixels that are not page white, and how many colours there are."""
    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    white = sum(n for n, rgb in colours if min(rgb) >= 245)
    return 1 - white / (image.width * image.height), len(colours)


def open_page(chrome: Chrome, server: Server, page: str, shots: Path) -> None:
    """Open a page under the sub-path, wait for every chart, and save a full-page screenshot."""
    chrome.events.clear()
    chrome.open(server.base + SUB_PATH + page, ready=CHARTS_DRAWN)
    chrome.screenshot(shots / (page.replace("/", "_") + ".png"))
    assert chrome.exceptions() == []


def check_chart(chrome: Chrome, chart_id: str, shots: Path) -> Path:
    """Check the pixels inside one chart's box: drawn, not a blank or white box."""
    chrome.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top, off the chart
    box = chrome.box(f"#{chart_id}")
    assert box["width"] > 300 and box["height"] > 150, box
    chart = chrome.screenshot(shots / f"{chart_id}.png", clip=box)
    share, colours = drawn_share(chart)
    # a blank or white box is ~0 %; a sparse one-model 3D chart draws about 2 %
    assert share > 0.01 and colours > 20, (chart_id, share, colours)
    return chart


def assert_all_local(chrome: Chrome, server: Server) -> None:
    requests = chrome.requests()
    assert requests
    outside = [u for u in requests if not (u.startswith(server.base + SUB_PATH) or u.startswith("data:"))]
    assert outside == []
    assert all(path.startswith(SUB_PATH) for path in server.paths), server.paths


def test_home_shows_the_landscape_and_fetches_nothing_from_elsewhere(served, chrome, tmp_path):
    server, _ = served
    open_page(chrome, server, "index.html", tmp_path)
    check_chart(chrome, "chart-landscape", tmp_path)
    assert chrome.evaluate("document.querySelector('#chart-landscape .gl-container canvas') !== null")
    assert_all_local(chrome, server)
    assert any(u.endswith("/javascripts/plotly.min.js") for u in chrome.requests())


def test_model_page_shows_its_charts_and_fetches_nothing_from_elsewhere(served, chrome, tmp_path):
    server, _ = served
    open_page(chrome, server, "models/mixtral-tiny.html", tmp_path)
    check_chart(chrome, "chart-mixtral-tiny-params", tmp_path)
    charts = chrome.evaluate("[...document.querySelectorAll('.plotly-graph-div')].map(d => d.id)")
    measured = [c for c in charts if c != "chart-mixtral-tiny-params"]
    assert "chart-mixtral-tiny-params" in charts and len(measured) >= 2, charts  # report.charts' too
    for chart in measured:
        check_chart(chrome, chart, tmp_path)
    assert_all_local(chrome, server)
    text, chart = chrome.box(".gs-beside-text"), chrome.box(".gs-beside-chart")
    assert chart["x"] >= text["x"] + text["width"] and chart["y"] < text["y"] + text["height"]  # side by side
    assert chrome.box(f"#{measured[0]}")["x"] == chart["x"]  # the first model chart is the one beside


def test_dark_palette_switch_keeps_charts_drawn(served, chrome, tmp_path):
    server, _ = served
    chrome.open(server.base + SUB_PATH + "models/mixtral-tiny.html", ready=CHARTS_DRAWN)
    chrome.evaluate("document.querySelector('label[for=__palette_1]').click()")
    assert chrome.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    shot = chrome.screenshot(tmp_path / "dark.png", clip=chrome.box("#chart-mixtral-tiny-params"))
    image = Image.open(shot).convert("L")
    mean = ImageStat.Stat(image).mean[0]
    assert mean < 128, mean  # a dark chart, not a white box


def test_html_in_a_name_stays_text_in_the_browser(served, chrome, tmp_path):
    server, site = served
    [page] = [p.name for p in (site / "models").glob("*evil*.html")]
    chrome.events.clear()
    chrome.open(server.base + SUB_PATH + "models/" + page, ready=CHARTS_DRAWN)
    assert chrome.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    assert chrome.evaluate("document.title") == f"{XSS_NAME} - gpuscape"
    assert chrome.evaluate("document.querySelector('h1').firstChild.textContent") == XSS_NAME
    dialogs = [e for e in chrome.events if e.get("method") == "Page.javascriptDialogOpening"]
    assert dialogs == [] and chrome.exceptions() == []


def test_lean_charts_hover_exactly_like_the_originals(chrome, tmp_path):
    """lean_figure rewrites hover text as template + customdata; the browser shows the same."""
    import copy

    import plotly
    import plotly.io as pio

    from report import charts
    from report.site import embed

    results = mixed_results()
    spec = charts.figure_spec(charts.VIEWS["memory-speed"], results, "light", highlight="Mixtral (tiny)")
    original = pio.to_html(
        copy.deepcopy(spec), full_html=False, include_plotlyjs=False, div_id="a", validate=False
    )
    lean = str(embed(spec, "b"))
    assert "customdata" in lean and "customdata" not in original
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", tmp_path)
    page = tmp_path / "hover.html"
    page.write_text(
        f'<html><head><script src="plotly.min.js"></script></head><body>{original}{lean}</body></html>'
    )
    chrome.open(page.as_uri(), ready="window.Plotly && document.querySelectorAll('.main-svg').length >= 4")
    # Fx.hover is throttled: clear the last label and give the new one time to draw.
    hover = (
        "async (id, c, p) => { const gd = document.getElementById(id); Plotly.Fx.unhover(gd);"
        " await new Promise(r => setTimeout(r, 60)); Plotly.Fx.hover(gd, [{curveNumber: c, pointNumber: p}]);"
        " await new Promise(r => setTimeout(r, 60));"
        " const label = gd.querySelector('.hoverlayer .hovertext'); return label ? label.textContent : null; }"
    )
    checked = 0
    for curve, trace in enumerate(spec["data"]):
        for point in range(min(4, len(trace.get("x") or []))):
            if trace.get("hoverinfo") == "skip" or trace["x"][point] is None:
                continue
            if trace.get("visible") is False:  # another frame (hardware, method): shown by the selector
                continue
            a = chrome.evaluate(f"({hover})('a', {curve}, {point})")
            b = chrome.evaluate(f"({hover})('b', {curve}, {point})")
            if trace.get("legendgroup") == "context":  # other models: their name only, by design
                assert a and b and a.startswith(b) and len(b) < len(a), (curve, point, a, b)
            else:
                assert a and a == b, (curve, point, a, b)
            checked += 1
    # the first frame's grey points of other models and cells of Mixtral (tiny), up to 4 a trace
    shown = [
        t
        for t in spec["data"]
        if t.get("visible", True) and t.get("hoverinfo") != "skip" and (t.get("x") or [None])[0] is not None
    ]
    assert len({t["legendgroup"] for t in shown}) == 2 and checked == sum(min(4, len(t["x"])) for t in shown)
