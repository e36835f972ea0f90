"""The 3D landscape turning once around its vertical axis: cameras, a GIF and an MP4.

The frames come from report.export's one browser session: the figure is drawn once with
plotly.js (report/assets/turn.js), then for each frame the camera moves (`Plotly.relayout`) and
Chromium captures the plot at device scale 2, so a 960x540 layout gives 1920x1080 frames drawn
like the report's static PNGs. In the report's pipeline the turn is one more job of the session
that renders every image; `animate_figure` runs it alone.
Measured on the shared 2-core machine for 48 frames of the landscape: kaleido's batch API
(`write_fig_from_object`, one browser) about 2.4 s a frame; a fresh plot per figure about 1.4 s
a frame; moving the camera of one plot about 0.2-0.3 s a frame.

The GIF is assembled with pillow on one shared palette; the MP4 needs an ffmpeg (on PATH, or
the one imageio-ffmpeg ships).
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

TURN_S = 10.0  # one turn, slow enough to talk over (8-12 s)
DEFAULT_FRAMES = 240  # 24 frames a second in the MP4
GIF_FRAMES = 80  # the GIF shows every third of them (8 a second): a third of the file, same turn
WIDTH, HEIGHT, SCALE = 960, 540, 2  # the report's static PNG: 960x540 layout at scale 2
DEFAULT_EYE = {"x": 1.25, "y": 1.25, "z": 1.25}  # plotly's own default camera
# Seen from a corner the scene's box is wider than from the preset: step back a little so the
# axis titles stay inside the picture all the way round.
TURN_DISTANCE = 1.1
GIF_COLORS = 255  # one palette entry stays free for pillow's transparency optimisation

NO_BROWSER = (
    "Chromium was not found, so the animation cannot be rendered. Install it "
    "(`apt-get install chromium`) or point BROWSER_PATH at a Chrome/Chromium binary."
)


class AnimationError(RuntimeError):
    """The browser could not render the frames (missing, crashed or timed out)."""


@dataclass(frozen=True)
class Animation:
    """What `animate_figure` wrote, and how long each stage took."""

    gif: Path
    mp4: Path | None
    mp4_note: str | None  # why there is no MP4
    frames: int
    size: tuple[int, int]
    render_s: float  # browser start to last frame captured
    gif_s: float
    mp4_s: float


# --------------------------------------------------------------------------- cameras


def _vec(d: Mapping[str, Any] | None, default: Mapping[str, float]) -> tuple[float, float, float]:
    d = d or {}
    return tuple(float(d[k]) if d.get(k) is not None else float(default[k]) for k in "xyz")  # type: ignore[return-value]


def _as_dict(v: Sequence[float]) -> dict[str, float]:
    return {"x": round(v[0], 6), "y": round(v[1], 6), "z": round(v[2], 6)}


def turn_cameras(
    camera: Mapping[str, Any] | None, n_frames: int, distance: float = 1.0
) -> list[dict[str, Any]]:
    """Cameras for one full turn around the scene's up axis, starting at `camera` (the view's
    preset; plotly's default where absent), `distance` times as far from the centre. The last
    frame stops one step short of the first, so a looping GIF turns without a stutter."""
    if n_frames < 2:
        raise ValueError(f"an animation needs at least 2 frames, not {n_frames}")
    camera = camera or {}
    eye = _vec(camera.get("eye"), DEFAULT_EYE)
    center = _vec(camera.get("center"), {"x": 0.0, "y": 0.0, "z": 0.0})
    up = _vec(camera.get("up"), {"x": 0.0, "y": 0.0, "z": 1.0})
    norm = math.sqrt(sum(c * c for c in up)) or 1.0
    k = tuple(c / norm for c in up)
    rel = tuple(distance * (e - c) for e, c in zip(eye, center, strict=True))
    cameras = []
    for i in range(n_frames):
        angle = 2 * math.pi * i / n_frames
        cameras.append(
            {
                "eye": _as_dict([c + r for c, r in zip(center, _rotate(rel, k, angle), strict=True)]),
                "center": _as_dict(center),
                "up": _as_dict(up),
                **({"projection": dict(camera["projection"])} if camera.get("projection") else {}),
            }
        )
    return cameras


def _rotate(v: Sequence[float], k: Sequence[float], angle: float) -> tuple[float, float, float]:
    """Rodrigues' rotation of v around the unit axis k."""
    cos, sin = math.cos(angle), math.sin(angle)
    cross = (k[1] * v[2] - k[2] * v[1], k[2] * v[0] - k[0] * v[2], k[0] * v[1] - k[1] * v[0])
    dot = sum(a * b for a, b in zip(k, v, strict=True))
    return tuple(v[i] * cos + cross[i] * sin + k[i] * dot * (1 - cos) for i in range(3))  # type: ignore[return-value]


# --------------------------------------------------------------------------- rendering


def render_frames(
    fig: Any,
    cameras: Sequence[Mapping[str, Any]],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    scale: int = SCALE,
) -> list[Image.Image]:
    """PNG frames of a 3D figure, one per camera, from one browser and one plot (report.export's
    session; the report's pipeline queues its turn beside every other image instead).
    Each frame is (width x scale) by (height x scale) pixels, RGB."""
    from report.export import BrowserNotFoundError, ExportError, TurnJob, export_images

    job = TurnJob("turn", fig, list(cameras), width, height, scale)
    try:
        frames = export_images([], turns=[job]).frames["turn"]
    except BrowserNotFoundError as error:
        raise AnimationError(f"{NO_BROWSER} ({error})") from None
    except ExportError as error:
        raise AnimationError(f"the browser failed to render the animation: {error}") from None
    except (TimeoutError, asyncio.TimeoutError):
        raise AnimationError("the browser timed out rendering the animation") from None
    return check_frames(frames, (width * scale, height * scale))


def check_frames(frames: Sequence[Image.Image], expected: tuple[int, int]) -> list[Image.Image]:
    """The frames, if each has the expected size; AnimationError otherwise."""
    wrong = [f.size for f in frames if f.size != expected]
    if wrong:
        raise AnimationError(f"frames came back {wrong[0]} instead of {expected}")
    return list(frames)


# --------------------------------------------------------------------------- assembling


def shared_palette(
    frames: Sequence[Image.Image], samples: int = 4, colors: Sequence[str] = ()
) -> Image.Image:
    """One palette for every frame (no colour flicker between frames), from a few frames
    spread over the turn, tiled at half size, holding `colors` (the figure's marker colours,
    "#rrggbb") exactly: median cut alone averages a family's colour with its neighbours."""
    picks = [frames[round(i * len(frames) / samples)] for i in range(min(samples, len(frames)))]
    w, h = picks[0].size[0] // 2, picks[0].size[1] // 2
    tiles = Image.new("RGB", (w * len(picks), h), "white")
    for i, frame in enumerate(picks):
        tiles.paste(frame.resize((w, h), Image.Resampling.BILINEAR), (i * w, 0))
    exact = list(dict.fromkeys(c.lower() for c in colors if len(c) == 7 and c.startswith("#")))[
        : GIF_COLORS // 2
    ]
    palette = tiles.quantize(colors=GIF_COLORS - len(exact), method=Image.Quantize.MEDIANCUT)
    entries = (palette.getpalette() or [])[: 3 * (GIF_COLORS - len(exact))]
    entries += [int(c[i : i + 2], 16) for c in exact for i in (1, 3, 5)]
    palette.putpalette(entries)
    _, background = max(tiles.getcolors(maxcolors=w * h * len(picks)) or [(0, (255, 255, 255))])
    return _pin_background(palette, background)


def figure_colors(fig: Any) -> list[str]:
    """The marker colours of a figure (a Figure or a dict), for the GIF's palette."""
    data = fig.to_plotly_json()["data"] if hasattr(fig, "to_plotly_json") else fig.get("data", [])
    colors = [(trace.get("marker") or {}).get("color") for trace in data]
    return [c for c in colors if isinstance(c, str)]


def _pin_background(palette: Image.Image, background: tuple[int, int, int], near: int = 6) -> Image.Image:
    """Make the background map to itself exactly. Median cut averages each box, and pillow maps
    colours through a coarse cache that need not pick the exact entry, so a white background
    would come out off-white: entries near the background become the background, and then
    whichever entry pillow still picks for it."""
    entries = palette.getpalette() or []
    for i in range(0, len(entries) - 2, 3):
        if max(abs(entries[i + c] - background[c]) for c in range(3)) <= near:
            entries[i : i + 3] = list(background)
    palette.putpalette(entries)
    probe = Image.new("RGB", (1, 1), background)
    for _ in range(16):
        index = probe.quantize(palette=palette, dither=Image.Dither.NONE).getpixel((0, 0))
        if tuple(entries[3 * index : 3 * index + 3]) == tuple(background):
            break
        entries[3 * index : 3 * index + 3] = list(background)
        palette.putpalette(entries)
    return palette


def frame_ms(n_frames: int) -> float:
    """How long each of n frames shows so that they make one turn in TURN_S."""
    return 1000.0 * TURN_S / n_frames


def gif_frames(frames: Sequence[Image.Image]) -> list[Image.Image]:
    """The frames the GIF keeps: every k-th, so at most about GIF_FRAMES of them, still one turn."""
    step = max(1, round(len(frames) / GIF_FRAMES))
    return list(frames[::step])


def write_gif(
    frames: Sequence[Image.Image], path: Path, ms_per_frame: float, colors: Sequence[str] = ()
) -> Path:
    """A looping GIF: one shared palette, no dithering (flat chart colours stay flat, and
    unchanged pixels stay identical, so pillow stores only the box that moved). pillow's
    `optimize` is off: with a shared palette it made the 48-frame GIF 37 % larger, not smaller."""
    palette = shared_palette(frames, colors=colors)
    indexed = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    indexed[0].save(
        tmp,
        format="GIF",
        save_all=True,
        append_images=indexed[1:],
        duration=round(ms_per_frame),
        loop=0,
        optimize=False,
    )
    tmp.replace(path)
    return path


def find_ffmpeg() -> str | None:
    """An ffmpeg binary: the one on PATH, else the one imageio-ffmpeg ships, else None."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def write_mp4(frames: Sequence[Image.Image], path: Path, ffmpeg: str, ms_per_frame: float) -> Path:
    """An H.264 MP4 (yuv420p, plays in browsers and PowerPoint) from raw RGB frames on a pipe,
    one frame at a time (240 frames at 1920x1080 are 1.5 GB as one buffer)."""
    w, h = frames[0].size
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.mp4")
    cmd = [
        ffmpeg, "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", f"{1000 / ms_per_frame:g}",
        "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(tmp),
    ]  # fmt: skip
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        try:
            for frame in frames:
                proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped: its message follows
        proc.stdin.close()
        stderr = proc.stderr.read()
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise AnimationError(f"ffmpeg failed: {stderr.decode(errors='replace').strip()[-500:]}")
    tmp.replace(path)
    return path


def animate_figure(
    fig: Any,
    out_dir: Path | str,
    name: str,
    *,
    n_frames: int = DEFAULT_FRAMES,
    mp4: bool = True,
) -> Animation:
    """Turn a 3D figure (a plotly Figure or figure dict) once around its vertical axis:
    <out_dir>/<name>.gif, and .mp4 where an ffmpeg is installed. `name` must already be
    path-safe (a view name or a slug)."""
    started = time.perf_counter()
    frames = render_frames(turn_figure(fig), figure_cameras(fig, n_frames))
    render_s = time.perf_counter() - started
    return assemble(frames, out_dir, name, render_s=render_s, mp4=mp4, colors=figure_colors(fig))


def turn_figure(fig: Any) -> dict[str, Any]:
    """The figure to turn (a dict): the horizontal axes without their titles, their unit (the
    title's "(GB)") written into their tick labels instead ("20 GB"), and the vertical axis's
    title outside the scene at the left edge, standing still. Turning about the vertical axis,
    a title inside the scene would cross the tick labels of the axis pointing at the camera. (Changing titles frame by frame
    rebuilds plotly's scene, which then ignores the next camera moves.)"""
    import copy

    spec = copy.deepcopy(fig.to_plotly_json() if hasattr(fig, "to_plotly_json") else fig)
    scene = spec.get("layout", {}).get("scene") or {}
    for name in ("xaxis", "yaxis"):
        axis = scene.get(name)
        if not isinstance(axis, dict):
            continue
        title = axis.get("title") or {}
        text = str(title.get("text") or "")
        unit = text[text.rfind("(") + 1 : -1] if text.endswith(")") and "(" in text else ""
        if unit and axis.get("ticktext"):
            axis["ticktext"] = [f"{label} {unit}" for label in axis["ticktext"]]
        axis["title"] = {**title, "text": ""}
    vertical = scene.get("zaxis")
    if isinstance(vertical, dict) and (vertical.get("title") or {}).get("text"):
        # the vertical axis's title stands still at the frame's left edge, outside the scene, so
        # no horizontal axis's tick labels run through it mid-turn
        title = vertical["title"]
        font = {"size": (title.get("font") or {}).get("size", 18)}
        vertical["title"] = {**title, "text": ""}
        domain = scene.setdefault("domain", {"x": [0.0, 1.0], "y": [0.0, 1.0]})
        domain["x"] = [
            max(domain.get("x", [0.0, 1.0])[0], VERTICAL_TITLE_SHARE),
            domain.get("x", [0.0, 1.0])[1],
        ]
        spec["layout"].setdefault("annotations", []).append(
            {"text": title["text"], "textangle": -90, "font": font, "showarrow": False, "xref": "paper",
             "yref": "paper", "x": 0.0, "xanchor": "left", "y": 0.5, "yanchor": "middle"}
        )  # fmt: skip
    return spec


VERTICAL_TITLE_SHARE = 0.035  # the frame's width left of the turning scene, for the vertical title


def figure_cameras(fig: Any, n_frames: int = DEFAULT_FRAMES) -> list[dict[str, Any]]:
    """The cameras of one turn from the figure's own camera preset (a Figure or a dict)."""
    layout = fig.to_plotly_json()["layout"] if hasattr(fig, "to_plotly_json") else fig.get("layout", {})
    camera = (layout.get("scene") or {}).get("camera")
    return turn_cameras(camera, n_frames, TURN_DISTANCE)


def assemble(
    frames: Sequence[Image.Image],
    out_dir: Path | str,
    name: str,
    *,
    render_s: float = 0.0,
    mp4: bool = True,
    colors: Sequence[str] = (),
) -> Animation:
    """One turn in TURN_S: <out_dir>/<name>.gif from every k-th rendered frame (gif_frames),
    and .mp4 from all of them where an ffmpeg is installed; `colors` are kept exact in the GIF."""
    out = Path(out_dir)
    rendered = time.perf_counter()
    few = gif_frames(frames)
    gif = write_gif(few, out / f"{name}.gif", frame_ms(len(few)), colors)
    gif_done = time.perf_counter()
    mp4_path, note = None, None
    ffmpeg = find_ffmpeg() if mp4 else None
    if not mp4:
        note = "MP4 not asked for"
    elif ffmpeg is None:
        note = "no ffmpeg found (install imageio-ffmpeg or ffmpeg for an MP4)"
    else:
        mp4_path = write_mp4(frames, out / f"{name}.mp4", ffmpeg, frame_ms(len(frames)))
    return Animation(
        gif=gif,
        mp4=mp4_path,
        mp4_note=note,
        frames=len(frames),
        size=frames[0].size,
        render_s=render_s,
        gif_s=gif_done - rendered,
        mp4_s=time.perf_counter() - gif_done,
    )
