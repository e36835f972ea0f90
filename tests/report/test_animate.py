"""report.animate: cameras for one turn, and real frames from a real Chromium into a GIF (and an
MP4 where an ffmpeg is installed)."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess

import plotly.graph_objects as go
import pytest
from PIL import Image, ImageChops, ImageStat

from report.animate import (
    DEFAULT_FRAMES,
    GIF_FRAMES,
    TURN_S,
    AnimationError,
    animate_figure,
    assemble,
    find_ffmpeg,
    turn_cameras,
    turn_figure,
)
from report.charts import family_color
from tests.report.site_chrome import find_chromium

FRAMES = 8  # the tests check the mechanics; make perf times the real DEFAULT_FRAMES


def scene_figure() -> go.Figure:
    """A small 3D scatter with log axes, a legend and a camera preset, like the landscape."""
    fig = go.Figure()
    for i, family in enumerate(["Llama", "Gemma", "Mixtral"]):
        fig.add_trace(
            go.Scatter3d(
                x=[1 + i, 2 + i, 4 + i],
                y=[1e6 * 10**i, 3e6 * 10**i, 9e6 * 10**i],
                z=[10 * (i + 1), 40 * (i + 1), 90 * (i + 1)],
                mode="markers",
                name=family,
                marker={"size": 8},
            )
        )
    fig.update_layout(
        template="presentation",
        title="Landscape",
        scene={
            "xaxis_title": "Peak memory (GB)",
            "yaxis": {"type": "log", "title": "Parameters"},
            "zaxis": {"type": "log", "title": "Decode (tok/s)"},
            "camera": {"eye": {"x": 1.5, "y": -1.5, "z": 0.8}},
        },
    )
    return fig


def test_cameras_make_one_turn_around_the_up_axis():
    preset = {"eye": {"x": 1.5, "y": -1.5, "z": 0.8}, "center": {"x": 0, "y": 0, "z": -0.1}}
    cameras = turn_cameras(preset, 48)
    assert len(cameras) == 48
    assert cameras[0]["eye"] == {"x": 1.5, "y": -1.5, "z": 0.8}
    radius = math.hypot(1.5, 1.5)
    for cam in cameras:
        eye = cam["eye"]
        assert math.isclose(math.hypot(eye["x"], eye["y"]), radius, rel_tol=1e-5)
        assert math.isclose(eye["z"], 0.8, abs_tol=1e-6)  # turns around z, height kept
        assert cam["center"] == {"x": 0, "y": 0, "z": -0.1} and cam["up"] == {"x": 0, "y": 0, "z": 1}
    quarter = cameras[12]["eye"]  # 90 degrees counter-clockwise seen from above
    assert math.isclose(quarter["x"], 1.5, abs_tol=1e-5) and math.isclose(quarter["y"], 1.5, abs_tol=1e-5)
    angles = [math.atan2(c["eye"]["y"], c["eye"]["x"]) for c in cameras]
    steps = [(b - a) % (2 * math.pi) for a, b in zip(angles, angles[1:] + angles[:1], strict=True)]
    assert all(math.isclose(s, 2 * math.pi / 48, rel_tol=1e-4) for s in steps)  # even, and loops


def test_the_turn_can_step_back_from_the_preset():
    preset = {"eye": {"x": 1.0, "y": 0.0, "z": 0.5}, "center": {"x": 0, "y": 0, "z": 0.1}}
    [first, _] = turn_cameras(preset, 2, distance=1.2)
    assert first["eye"] == {"x": 1.2, "y": 0.0, "z": 0.58}  # 0.1 + 1.2 x (0.5 - 0.1)


def test_default_camera_and_too_few_frames():
    cameras = turn_cameras(None, 4)
    assert cameras[0]["eye"] == {"x": 1.25, "y": 1.25, "z": 1.25}
    assert cameras[2]["eye"] == {"x": -1.25, "y": -1.25, "z": 1.25}
    with pytest.raises(ValueError, match="at least 2 frames"):
        turn_cameras(None, 1)


@pytest.fixture(scope="module")
def turned(tmp_path_factory):
    if find_chromium() is None:
        pytest.skip("needs Chromium: apt-get install chromium")
    return animate_figure(scene_figure(), tmp_path_factory.mktemp("turn"), "landscape", n_frames=FRAMES)


def test_gif_has_the_frames_asked_each_1920x1080_and_each_different(turned):
    animation = turned
    assert animation.gif.name == "landscape.gif" and animation.frames == FRAMES
    assert animation.size == (1920, 1080)
    gif = Image.open(animation.gif)
    assert gif.n_frames == FRAMES and gif.size == (1920, 1080)
    assert gif.info.get("loop") == 0
    frames = []
    for i in range(FRAMES):
        gif.seek(i)
        frames.append(gif.convert("RGB"))
    for i, (a, b) in enumerate(zip(frames, frames[1:] + frames[:1], strict=True)):
        moved = ImageChops.difference(a, b).getbbox()
        assert moved is not None, f"frames {i} and {(i + 1) % FRAMES} are identical"
    # The chart is drawn, not blank: the background is exactly white and there is plenty of ink.
    first = frames[0]
    assert first.getpixel((5, 5)) == (255, 255, 255)
    ink = sum(ImageStat.Stat(first.convert("L").point(lambda v: 255 if v < 200 else 0)).sum) / 255
    assert ink > 5000
    # Title and legend stand still while the scene turns: the top band is the same in every frame.
    band = (0, 0, 1920, 120)
    assert ImageChops.difference(frames[0].crop(band), frames[FRAMES // 2].crop(band)).getbbox() is None


@pytest.mark.skipif(find_ffmpeg() is None, reason="needs an ffmpeg (imageio-ffmpeg)")
def test_mp4_is_written_where_ffmpeg_is_installed(turned):
    assert turned.mp4 == turned.gif.with_suffix(".mp4") and turned.mp4_note is None
    probe = subprocess.run([find_ffmpeg(), "-i", str(turned.mp4)], capture_output=True, text=True)
    assert "h264" in probe.stderr and "1920x1080" in probe.stderr
    assert not list(turned.gif.parent.glob("*.tmp*"))


def test_missing_browser_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    with pytest.raises(AnimationError, match="apt-get install chromium"):
        animate_figure(scene_figure(), tmp_path, "x", n_frames=2)
    assert not (tmp_path / "x.gif").exists()


def test_no_ffmpeg_still_gives_the_gif(tmp_path, monkeypatch):
    frames = [Image.new("RGB", (1920, 1080), (255, 255, 255 - 40 * i)) for i in range(3)]
    monkeypatch.setattr("report.animate.render_frames", lambda fig, cameras, **_: frames[: len(cameras)])
    monkeypatch.setattr("report.animate.find_ffmpeg", lambda: None)
    animation = animate_figure(scene_figure(), tmp_path, "x", n_frames=3)
    assert animation.mp4 is None and "no ffmpeg" in (animation.mp4_note or "")
    assert Image.open(animation.gif).n_frames == 3


def test_find_ffmpeg_prefers_path(monkeypatch, tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert find_ffmpeg() == shutil.which("ffmpeg") == str(fake)


def _stripes(n: int, size: tuple[int, int] = (320, 180)) -> list[Image.Image]:
    """Frames like a chart's: a smooth gradient (thousands of colours, so a palette must choose)
    with blocks of family colours that move from frame to frame."""
    colours = [family_color(f) for f in ("Llama", "Gemma", "Qwen", "SmolLM", "Mixtral", "Zebra-LM")]
    w, h = size
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, (40, 160, 220))
    frames = []
    for i in range(n):
        frame = Image.blend(base, tint, 0.35 + 0.3 * i / n)
        for j, colour in enumerate(colours):
            x = (20 + 45 * j + 3 * i) % (w - 24)
            frame.paste(colour, (x, 30 + 20 * (j % 5), x + 20, 45 + 20 * (j % 5)))
        frames.append(frame)
    return frames, colours


def test_one_turn_takes_ten_seconds_at_24_frames_a_second_and_the_gif_keeps_a_third(tmp_path):
    frames, colours = _stripes(DEFAULT_FRAMES)
    made = assemble(frames, tmp_path, "turn", colors=colours, mp4=find_ffmpeg() is not None)
    gif = Image.open(made.gif)
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert gif.n_frames == GIF_FRAMES and 8000 <= sum(durations) <= 12000
    assert 8 <= TURN_S <= 12 and DEFAULT_FRAMES / TURN_S >= 24
    if made.mp4 is None:
        pytest.skip("needs an ffmpeg (imageio-ffmpeg) for the MP4")
    probe = subprocess.run(
        [find_ffmpeg(), "-i", str(made.mp4), "-f", "null", "-"], capture_output=True, text=True
    )
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", probe.stderr)
    assert duration is not None
    seconds = 3600 * int(duration[1]) + 60 * int(duration[2]) + float(duration[3])
    assert seconds == pytest.approx(TURN_S, abs=0.05)
    assert re.findall(r"frame=\s*(\d+)", probe.stderr)[-1] == str(DEFAULT_FRAMES)
    assert "24 fps" in probe.stderr


def test_the_gif_keeps_the_family_colours_exact(tmp_path):
    frames, colours = _stripes(12)
    made = assemble(frames, tmp_path, "turn", colors=colours, mp4=False)
    gif = Image.open(made.gif)
    worst = 0
    for i, source in enumerate(frames):
        gif.seek(i)
        shown = gif.convert("RGB")
        for colour in colours:
            target = tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5))
            for xy in ((x, y) for x in range(0, 320, 2) for y in range(0, 180, 2)):
                if source.getpixel(xy) == target:
                    worst = max(worst, *(abs(a - b) for a, b in zip(shown.getpixel(xy), target, strict=True)))
    print(f"GIF colour error on family colours: {worst} (max channel difference, 0-255)")
    assert worst <= 2


def test_the_turn_moves_titles_where_no_tick_label_crosses_them():
    """Mid-turn a title inside the scene crosses tick labels: the turn writes the horizontal
    axes' units into their tick labels, stands the vertical axis's title still at the frame's
    left edge, outside the scene, and leaves the figure it was given alone."""
    fig = scene_figure()
    fig.update_layout(scene_xaxis={"tickvals": [2, 4], "ticktext": ["2", "4"]})
    turned = turn_figure(fig)
    scene = turned["layout"]["scene"]
    assert scene["xaxis"]["title"]["text"] == scene["yaxis"]["title"]["text"] == ""
    assert scene["xaxis"]["ticktext"] == ["2 GB", "4 GB"]
    assert scene["zaxis"]["title"]["text"] == ""
    [title] = [a for a in turned["layout"]["annotations"] if a["text"] == "Decode (tok/s)"]
    assert title["textangle"] == -90 and title["xref"] == "paper" and title["x"] == 0.0
    assert scene["domain"]["x"][0] >= 0.03  # the scene starts right of it
    assert fig.layout.scene.zaxis.title.text == "Decode (tok/s)"
    assert fig.layout.scene.yaxis.title.text == "Parameters"
