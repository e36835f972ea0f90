"""The one browser session: static images (PNG, SVG, PDF) of many figures, and the frames of a
turning 3D scene, all from one Chromium, fast.

kaleido's path (what `fig.write_image` and `plotly.io.write_images` use) starts a browser per
call, reloads its page and plotly.js after every image, and waits a fixed 500 ms inside
`Plotly.toImage` for any 3D scene. Here one Chromium (found the way kaleido finds it) opens a
few tabs on a page that loads plotly.js once (report/assets/render.html); each figure is drawn
once and PNG, SVG and PDF all come from that one snapshot. `python -m perf.report` measures both.

A turn (report.animate) is one more tab of the same browser, on the same page: turn.js draws the
figure once and each frame only moves the camera before the tab is captured.

The browser is driven through choreographer, the Chromium driver kaleido itself is built on, so
this needs nothing beyond the report extra.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from report.embed import plotly_js_path

ASSETS = Path(__file__).with_name("assets")
IMAGE_FORMATS = ("png", "svg", "pdf")
WIDTH, HEIGHT, SCALE = 960, 540, 2  # the layout size; PNG pixels are WIDTH*SCALE x HEIGHT*SCALE
DEFAULT_TABS = 2  # measured on 2 cores: the page's JavaScript and the GPU process overlap
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PAGE_TIMEOUT_S = 60.0
FIGURE_TIMEOUT_S = 120.0
FRAME_TIMEOUT_S = 30.0
CSS_PX_PER_INCH = 96.0

NO_BROWSER = (
    "Chromium was not found, so no PNG, SVG or PDF images were made (the HTML charts were). "
    "Install it with `apt-get install -y chromium` (Debian/Ubuntu; `sudo` if not root), or point "
    "BROWSER_PATH at an installed Chrome or Chromium executable, then run the report again."
)

T = TypeVar("T")


class BrowserNotFoundError(RuntimeError):
    """No Chromium to render with; the message says how to install one."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(f"{detail} {NO_BROWSER}" if detail else NO_BROWSER)


class ExportError(RuntimeError):
    """The browser could not render a figure (the message names the output file)."""


@dataclass(frozen=True)
class ImageJob:
    """One figure and the files to write from it, keyed by format ('png', 'svg', 'pdf')."""

    figure: Any  # a plotly Figure or a figure dict
    outputs: Mapping[str, Path]
    width: int = WIDTH
    height: int = HEIGHT
    scale: float = SCALE

    def __post_init__(self) -> None:
        unknown = set(self.outputs) - set(IMAGE_FORMATS)
        if unknown:
            raise ValueError(f"unknown image format(s) {sorted(unknown)}; known: {', '.join(IMAGE_FORMATS)}")


@dataclass(frozen=True)
class TurnJob:
    """A 3D figure to capture once per camera (report.animate.turn_cameras), each frame
    (width x scale) by (height x scale) pixels."""

    name: str
    figure: Any  # a plotly Figure or a figure dict
    cameras: Sequence[Mapping[str, Any]]
    width: int = WIDTH
    height: int = HEIGHT
    scale: int = SCALE


@dataclass
class ExportStats:
    """What export_images did and how long it took."""

    figures: int = 0
    files: list[Path] = field(default_factory=list)
    frames: dict[str, list[Any]] = field(default_factory=dict)  # TurnJob name -> PIL images
    start_s: float = 0.0  # browser start until the first tab is ready
    render_s: float = 0.0  # from then to the last file written
    tabs: int = 0

    @property
    def total_s(self) -> float:
        return self.start_s + self.render_s


def find_browser() -> str | None:
    """The Chromium to use: BROWSER_PATH if set, else the first Chrome/Chromium on PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured if _is_executable(configured) else None
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found and _is_executable(found):
            return found
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def export_images(
    jobs: Iterable[ImageJob],
    *,
    turns: Iterable[TurnJob] = (),
    tabs: int = DEFAULT_TABS,
    browser_path: str | None = None,
    antialias: bool = True,
    on_done: Callable[[ImageJob], None] | None = None,
) -> ExportStats:
    """Render every job in one browser and write its files, and capture every turn's frames
    (in `ExportStats.frames`) in the same browser; raises BrowserNotFoundError when there is no
    Chromium and ExportError when a figure fails (files already written stay).

    `antialias=False` draws the images' 3D scenes without WebGL multisampling: rougher edges,
    but on a machine without a GPU about a third less CPU per 3D figure (see perf.report)."""
    jobs, turns = list(jobs), list(turns)
    if not jobs and not turns:
        return ExportStats()
    path = browser_path or find_browser()
    if path is None:
        configured = os.environ.get("BROWSER_PATH")
        detail = f"BROWSER_PATH={configured!r} is not an executable file." if configured else None
        raise BrowserNotFoundError(detail)
    return _run(_export(jobs, turns, path, max(1, min(tabs, len(jobs))), antialias, on_done))


def _run(coroutine: Awaitable[T]) -> T:
    """asyncio.run, also from code that already runs an event loop (a notebook): in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)  # type: ignore[arg-type]
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="gpuscape-export")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _export(
    jobs: Sequence[ImageJob],
    turns: Sequence[TurnJob],
    browser_path: str,
    tabs: int,
    antialias: bool,
    on_done: Callable[[ImageJob], None] | None,
) -> ExportStats:
    import choreographer

    stats = ExportStats(figures=len(jobs), tabs=tabs)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpuscape-render-") as page_dir:
        _page_url = _page(Path(page_dir))
        page = _page_url + ("" if antialias else "?antialias=0")
        try:
            browser = choreographer.Browser(path=browser_path, headless=True)
        except Exception as error:  # choreographer's ChromeNotFoundError and friends
            raise BrowserNotFoundError(f"{browser_path} could not be used ({error}).") from None
        async with browser:
            queue: asyncio.Queue[ImageJob] = asyncio.Queue()
            for job in jobs:
                queue.put_nowait(job)

            async def open_and_work() -> None:
                tab = await _open_tab(browser, page)
                if not stats.start_s:  # each tab starts on the queue as soon as it is ready
                    stats.start_s = time.perf_counter() - started
                await _worker(tab, queue, stats, on_done)

            workers = [asyncio.create_task(open_and_work()) for _ in range(tabs if jobs else 0)]
            workers += [asyncio.create_task(_turn_tab(browser, page, turn, stats)) for turn in turns]
            try:
                await asyncio.gather(*workers)
            finally:
                for worker in workers:
                    worker.cancel()
            stats.render_s = time.perf_counter() - started - stats.start_s
    return stats


PAGE_FILES = ("render.html", "render.js", "turn.js")  # the renderer page, from report/assets


def renderer_version() -> str:
    """What makes a picture besides its figure: plotly.js and our page and scripts. Part of every
    cached image's key (report.cache), so a new plotly or a changed renderer renders afresh."""
    import hashlib

    digest = hashlib.sha256(plotly_js_path().read_bytes())
    for name in PAGE_FILES:
        digest.update((ASSETS / name).read_bytes())
    return digest.hexdigest()[:16]


def _page(folder: Path) -> str:
    """The renderer page in a temporary folder, next to the installed plotly.js; its file URL."""
    shutil.copyfile(plotly_js_path(), folder / "plotly.min.js")
    for name in PAGE_FILES:
        shutil.copyfile(ASSETS / name, folder / name)
    return (folder / "render.html").as_uri()


async def _open_tab(browser: Any, url: str, viewport: Mapping[str, Any] | None = None) -> Any:
    tab = await browser.create_tab("")
    loaded = tab.subscribe_once("Page.loadEventFired")
    _check(await tab.send_command("Page.enable"), "enable the page")
    # A tiny window: plotly's 3D render loop also draws into its detached offscreen canvas at
    # the window's size between snapshots; at 64x64 that costs nothing (measured: a fifth of
    # the CPU a 3D figure takes at the default window size). The figures set their own size.
    viewport = viewport or {"width": 64, "height": 64, "deviceScaleFactor": 1, "mobile": False}
    _check(await tab.send_command("Emulation.setDeviceMetricsOverride", params=viewport), "size the page")
    _check(await tab.send_command("Page.navigate", params={"url": url}), "open the renderer page")
    await asyncio.wait_for(loaded, PAGE_TIMEOUT_S)
    ready = await _evaluate(tab, "typeof window.gpuscape === 'object' && window.gpuscape.ready")
    if not ready:
        raise ExportError("the renderer page did not load plotly.js")
    return tab


async def _worker(
    tab: Any, queue: asyncio.Queue[ImageJob], stats: ExportStats, on_done: Callable[[ImageJob], None] | None
) -> None:
    while True:
        try:
            job = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        try:
            written = await asyncio.wait_for(_render(tab, job), FIGURE_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise ExportError(
                f"{_first_output(job)}: the browser took over {FIGURE_TIMEOUT_S:.0f} s"
            ) from None
        stats.files.extend(written)
        if on_done is not None:
            on_done(job)


async def _render(tab: Any, job: ImageJob) -> list[Path]:
    from plotly.io.json import to_json_plotly

    figure = job.figure.to_plotly_json() if hasattr(job.figure, "to_plotly_json") else job.figure
    formats = sorted(job.outputs)
    expression = (
        f"gpuscape.render({to_json_plotly(figure)}, {to_json_plotly(formats)}, "
        f"{int(job.width)}, {int(job.height)}, {float(job.scale)})"
    )
    try:
        out = await _evaluate(tab, expression)
    except ExportError as error:
        raise ExportError(f"{_first_output(job)}: {error}") from None
    written = []
    for fmt in formats:
        path = job.outputs[fmt]
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "png":
            path.write_bytes(base64.b64decode(out["png"]))
        elif fmt == "svg":
            path.write_text(out["svg"], encoding="utf-8")
        else:
            path.write_bytes(await _print_pdf(tab, job))
        written.append(path)
    return written


async def _print_pdf(tab: Any, job: ImageJob) -> bytes:
    params = {
        "printBackground": True,
        "preferCSSPageSize": True,
        "paperWidth": job.width / CSS_PX_PER_INCH,
        "paperHeight": job.height / CSS_PX_PER_INCH,
        "marginTop": 0,
        "marginBottom": 0,
        "marginLeft": 0,
        "marginRight": 0,
        "pageRanges": "1",
    }
    response = await tab.send_command("Page.printToPDF", params=params)
    _check(response, "print the PDF")
    await _evaluate(tab, "gpuscape.clearPrint()")
    return base64.b64decode(response["result"]["data"])


async def _evaluate(tab: Any, expression: str) -> Any:
    """Run JavaScript in the tab, await its promise, return its value (JSON-like)."""
    params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
    response = _check(await tab.send_command("Runtime.evaluate", params=params), "run the renderer")
    result = response.get("result", {})
    if "exceptionDetails" in result:
        details = result["exceptionDetails"]
        description = details.get("exception", {}).get("description") or details.get("text", "error")
        raise ExportError(f"plotly.js failed: {description.splitlines()[0]}")
    return result.get("result", {}).get("value")


def _check(response: Mapping[str, Any], doing: str) -> Mapping[str, Any]:
    if "error" in response:
        raise ExportError(
            f"the browser could not {doing}: {response['error'].get('message', response['error'])}"
        )
    return response


def _first_output(job: ImageJob) -> Path:
    return next(iter(job.outputs.values()))


# --------------------------------------------------------------------------- turns


async def _turn_tab(browser: Any, url: str, turn: TurnJob, stats: ExportStats) -> None:
    """Draw the turn's figure once in its own tab, at the output's size and pixel ratio, then
    move the camera and capture the plot for each frame (decoded while the next one draws)."""
    from plotly.io.json import to_json_plotly

    viewport = {"width": turn.width, "height": turn.height, "deviceScaleFactor": turn.scale, "mobile": False}
    tab = await _open_tab(browser, url, viewport)
    figure = turn.figure.to_plotly_json() if hasattr(turn.figure, "to_plotly_json") else turn.figure
    draw = f"gpuscapeTurn.draw({to_json_plotly(figure)}, {int(turn.width)}, {int(turn.height)})"
    origin = await asyncio.wait_for(_evaluate(tab, draw), PAGE_TIMEOUT_S)
    clip = {"x": origin["x"], "y": origin["y"], "width": turn.width, "height": turn.height, "scale": 1}
    loop = asyncio.get_running_loop()
    decoding = []
    for camera in turn.cameras:
        await asyncio.wait_for(
            _evaluate(tab, f"gpuscapeTurn.move({to_json_plotly(dict(camera))})"), FRAME_TIMEOUT_S
        )
        params = {"format": "png", "clip": clip, "optimizeForSpeed": True}
        response = _check(
            await asyncio.wait_for(
                tab.send_command("Page.captureScreenshot", params=params), FRAME_TIMEOUT_S
            ),
            "capture a frame",
        )
        png = base64.b64decode(response["result"]["data"])
        decoding.append(loop.run_in_executor(None, _decode, png))
    stats.frames[turn.name] = list(await asyncio.gather(*decoding))
    await _evaluate(tab, "gpuscapeTurn.clear()")


def _decode(png: bytes) -> Any:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")
