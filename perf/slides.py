"""`python -m perf.slides`: how long the slides take (a benchmark for `make perf`).

On a seeded synthetic result set (perf.synthetic) it times:
- the landscape turning once (report.animate.DEFAULT_FRAMES frames at 1920x1080, 24 a second
  over TURN_S; target: under 60 s on the 2-core machine), split into browser rendering, GIF and MP4;
- with --compare, the same cameras as separate figures through report.export (one
  browser, a fresh plot per frame), the path the animation would take without moving a camera;
- the deck: figures, PNGs (one batch), and laying out the .pptx.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from report.animate import DEFAULT_FRAMES, animate_figure, turn_cameras

TARGET_S = 60.0


def _landscape(results: Sequence[Any]) -> Any:
    from report import charts, views
    from report.build import ANIMATED_VIEW, STATIC_TEMPLATE

    return charts.build_figure(
        views.VIEWS[ANIMATED_VIEW], list(results), template=STATIC_TEMPLATE, static=True
    )


def time_animation(fig: Any, out: Path, frames: int) -> float:
    animation = animate_figure(fig, out, "landscape", n_frames=frames)
    verdict = "under" if animation.render_s < TARGET_S else "OVER"
    print(
        f"animation: {animation.frames} frames at {animation.size[0]}x{animation.size[1]} rendered in "
        f"{animation.render_s:.1f} s ({animation.render_s / animation.frames:.2f} s a frame; {verdict} the "
        f"{TARGET_S:.0f} s target)"
    )
    gif_mb = animation.gif.stat().st_size / 1e6
    print(f"  GIF {gif_mb:.1f} MB in {animation.gif_s:.1f} s", end="")
    if animation.mp4 is not None:
        print(f"; MP4 {animation.mp4.stat().st_size / 1e6:.1f} MB in {animation.mp4_s:.1f} s")
    else:
        print(f"; no MP4: {animation.mp4_note}")
    return animation.render_s


def time_export_per_frame(fig: Any, out: Path, frames: int) -> float:
    """The same turn as separate figures through report.export, for comparison."""
    from report.export import ImageJob, export_images

    base = fig.to_plotly_json()
    scene = base["layout"].get("scene", {})
    jobs = []
    for i, camera in enumerate(turn_cameras(scene.get("camera"), frames)):
        layout = {**base["layout"], "scene": {**scene, "camera": camera}}
        jobs.append(ImageJob({"data": base["data"], "layout": layout}, {"png": out / f"frame-{i:03d}.png"}))
    started = time.perf_counter()
    export_images(jobs)
    return time.perf_counter() - started


def time_deck(results: Sequence[Any], out: Path) -> None:
    """The pipeline's deck step alone (its pictures rendered, no cache)."""
    from report.build import build

    source = out / "results"
    for result in results:
        path = source / result.suite / f"{result.cell}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.to_json(), encoding="utf-8")
    built = build([source], out / "build", steps=["deck"], cache=False)
    t = built.timings_s
    print(
        f"deck: {built.rendered} images in {t['total_s']:.1f} s (load {t['load_s']:.1f} s, "
        f"summary {t['summary_s']:.2f} s, figures {t['write_deck_s']:.1f} s, PNGs {t['images_s']:.1f} s, "
        f"pptx {t['finish_s']:.2f} s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.slides", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--cells", type=int, default=300, help="synthetic cells (default 300)")
    parser.add_argument("--models", type=int, default=12, help="synthetic models (default 12)")
    parser.add_argument(
        "--compare", action="store_true", help="also render the turn frame by frame via report.export"
    )
    parser.add_argument("--no-deck", action="store_true", help="time the animation only")
    parser.add_argument("--out", type=Path, help="keep the outputs here (default: a temporary folder)")
    args = parser.parse_args(argv)

    from perf.synthetic import synthetic_results

    results = synthetic_results(args.cells, args.models, seed=0)
    print(f"slides perf: {len(results)} synthetic cells of {args.models} models")
    with tempfile.TemporaryDirectory(prefix="gpuscape-slides-perf-") as tmp:
        out = args.out or Path(tmp)
        fig = _landscape(results)
        ours = time_animation(fig, out, args.frames)
        if args.compare:
            naive = time_export_per_frame(fig, out / "per-frame", args.frames)
            print(
                f"  the same {args.frames} frames as separate figures through report.export: {naive:.1f} s "
                f"({naive / ours:.1f}x the camera-moving path)"
            )
        if not args.no_deck:
            time_deck(results, out / "deck")
    return 0


if __name__ == "__main__":
    sys.exit(main())
