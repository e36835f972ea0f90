"""`python -m perf.report`: how fast the report renders, measured here and now (`make perf`).

Prints, from one run on this machine:
  0. the whole report (charts, site, deck, animation) of a default-like result set (533 cells)
     on the old two-process path (`python -m report` then `python -m report slides`, at commit
     8ce30a6 from a temporary `git worktree`) and on the one-process pipeline, side by side,
     then the pipeline again with nothing changed (served from build/.cache);
  1. the export time per 3D figure (1920x1080 PNG of the landscape) on three paths side by side:
     plotly's `write_image` one figure at a time (a browser per figure: the naive path),
     plotly's batch `write_images` (kaleido, one browser), and report.export (ours), with the
     ratio of each to the naive path;
  2. a full report (report.build with all its steps: every view as HTML, PNG, SVG and PDF, the
     model pages' charts, the site, the deck and the animation) of a
     synthetic 1,000-cell, 50-model result set, and of a smaller set, with time per cell, so
     you can see the time grows linearly with cells.
Nothing here is a test: it prints numbers; compare them with the issue's targets yourself.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perf.synthetic import synthetic_results
from report.charts import figure_spec
from report.export import HEIGHT, SCALE, WIDTH, ImageJob, export_images, find_browser
from report.views import VIEWS


def landscape_figures(count: int, n_cells: int, n_models: int) -> list[dict[str, Any]]:
    """`count` different 3D landscape figures as slides show them: one per model highlighted."""
    results = synthetic_results(n_cells, n_models, seed=1)
    names = sorted({r.model.name for r in results})
    view = VIEWS["landscape"]
    return [
        figure_spec(view, results, "presentation", static=True, highlight=names[i % len(names)])
        for i in range(count)
    ]


def time_naive(figures: Sequence[dict[str, Any]], folder: Path) -> float:
    """Seconds per figure through plotly's `write_image`, one call (one browser) per figure."""
    import plotly.graph_objects as go
    import plotly.io as pio

    started = time.perf_counter()
    for i, spec in enumerate(figures):
        pio.write_image(go.Figure(spec), folder / f"naive-{i}.png", width=WIDTH, height=HEIGHT, scale=SCALE)
    return (time.perf_counter() - started) / len(figures)


def time_plotly_batch(figures: Sequence[dict[str, Any]], folder: Path) -> float:
    """Seconds per figure through plotly's `write_images` (kaleido's batch: one browser)."""
    import plotly.graph_objects as go
    import plotly.io as pio

    paths = [folder / f"batch-{i}.png" for i in range(len(figures))]
    started = time.perf_counter()
    pio.write_images([go.Figure(s) for s in figures], paths, width=WIDTH, height=HEIGHT, scale=SCALE)
    return (time.perf_counter() - started) / len(figures)


def time_ours(figures: Sequence[dict[str, Any]], folder: Path, antialias: bool) -> float:
    """Seconds per figure through report.export, browser start included."""
    jobs = [ImageJob(s, {"png": folder / f"ours-{antialias}-{i}.png"}) for i, s in enumerate(figures)]
    started = time.perf_counter()
    export_images(jobs, antialias=antialias)
    return (time.perf_counter() - started) / len(figures)


def time_report(n_cells: int, n_models: int, folder: Path, antialias: bool) -> dict[str, float]:
    """A full build of a synthetic set: seconds per stage, files written and images exported."""
    from report.build import build
    from report.site import page_weights

    source = write_synthetic(n_cells, n_models, folder / f"results-{n_cells}")
    out = folder / f"build-{n_cells}"
    report = build([source], out, antialias=antialias, cache=False)
    if report.images_skipped:
        raise SystemExit(f"error: {report.images_skipped}")
    images = sum(1 for p in report.written if p.suffix in (".png", ".svg", ".pdf"))
    # the site's budget: a page's own HTML under 300 KB (plotly.js is shipped once and cached)
    heaviest = max(page_weights(out / "site").values(), default=0)  # 0: the build made no site
    return {
        **report.timings_s,
        "files": float(len(report.written)),
        "images": float(images),
        "page_kb": heaviest / 1000,
    }


OLD_COMMIT = "8ce30a6"  # the last commit with the two-process report (issue 10)
REPO = Path(__file__).resolve().parent.parent


def write_synthetic(n_cells: int, n_models: int, folder: Path) -> Path:
    """A seeded synthetic result set as result files, as the bench writes them."""
    for result in synthetic_results(n_cells, n_models, seed=0):
        path = folder / result.suite / f"{result.cell}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.to_json(), encoding="utf-8")
    return folder


def _timed(commands: Sequence[Sequence[str]], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the processes and their children, Chromium included) to
    run the commands one after the other (each must succeed). On a shared machine the CPU
    seconds move less with other people's load than the wall time."""
    env = dict(os.environ, PYTHONPATH=str(cwd), NO_MKDOCS_2_WARNING="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for command in commands:
        done = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"error: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def old_checkout(folder: Path) -> Path | None:
    """The two-process report's code, checked out from git into `folder` (None without git)."""
    target = folder / "old"
    done = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(target), OLD_COMMIT],
        capture_output=True,
        text=True,
        check=False,
    )
    return target if done.returncode == 0 else None


def remove_checkout(path: Path) -> None:
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], capture_output=True)


def _pipeline_table(args: argparse.Namespace, folder: Path) -> None:
    results = write_synthetic(args.default_cells, args.default_models, folder / "default-results")
    python = sys.executable
    print(
        f"\nWhole report (charts, site, deck, animation) of {args.default_cells} synthetic cells of "
        f"{args.default_models} models (default-like), median of {args.repeats}:"
    )
    old = old_checkout(folder)
    if old is None:
        print(f"  (no git checkout of {OLD_COMMIT} here: the old path is left out)")
    old_runs: list[tuple[float, float]] = []
    new_runs: list[tuple[float, float]] = []
    rebuilds: list[tuple[float, float]] = []
    try:
        for i in range(args.repeats):  # interleaved, so a change in the machine's load hits both
            if old is not None:
                out = folder / f"old-{i}"
                commands = [
                    [python, "-m", "report", str(results), "--out", str(out)],
                    [python, "-m", "report", "slides", str(results), "--out", str(out / "slides")],
                ]
                old_runs.append(_timed(commands, old))
            out = folder / f"new-{i}"
            new_runs.append(_timed([[python, "-m", "report", str(results), "--out", str(out)]], REPO))
            rebuilds.append(_timed([[python, "-m", "report", str(results), "--out", str(out)]], REPO))
    finally:
        if old is not None:
            remove_checkout(old)
    rows = [(f"old: two processes ({OLD_COMMIT})", old_runs)] if old_runs else []
    rows += [("new: one process, one browser (empty cache)", new_runs)]
    rows += [("new: rebuild with nothing changed", rebuilds)]
    medians = [
        (name, statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in rows
    ]
    base_wall, base_cpu = medians[0][1], medians[0][2]
    print(f"  {'path':50} {'wall s':>7} {'vs first':>9} {'CPU s':>7} {'vs first':>9}")
    for name, wall, cpu in medians:
        print(f"  {name:50} {wall:7.1f} {base_wall / wall:8.2f}x {cpu:7.1f} {base_cpu / cpu:8.2f}x")
    print("  (targets: new at least 1.5x faster than old; a rebuild with no change at most 3 s)")


def _machine() -> str:
    browser = find_browser()
    version = "none"
    if browser:
        try:
            out = subprocess.run([browser, "--version"], capture_output=True, text=True, timeout=30)
            version = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else browser
        except (OSError, subprocess.SubprocessError):
            version = browser
    import plotly

    return (
        f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"plotly {plotly.__version__}, {version}"
    )


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables; 1 when there is no Chromium."""
    parser = argparse.ArgumentParser(prog="python -m perf.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=int, default=20, help="3D figures for the batch paths (default 20)")
    parser.add_argument("--naive", type=int, default=3, help="figures for the one-by-one path (default 3)")
    parser.add_argument("--cells", type=int, default=1000, help="cells in the full report (default 1000)")
    parser.add_argument("--models", type=int, default=50, help="models in the full report (default 50)")
    parser.add_argument(
        "--smaller",
        default="250,500",
        help="cell counts of smaller reports, comma-separated (default 250,500); models scale with cells",
    )
    parser.add_argument(
        "--default-cells", type=int, default=533, help="cells of the default-like report (default 533)"
    )
    parser.add_argument(
        "--default-models", type=int, default=18, help="models of the default-like report (default 18)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs of each whole-report path (median)")
    parser.add_argument("--skip-pipeline", action="store_true", help="leave out old vs new whole report")
    parser.add_argument("--skip-export", action="store_true", help="leave out the per-figure export table")
    parser.add_argument("--skip-plotly", action="store_true", help="leave out plotly's own two paths")
    parser.add_argument("--skip-report", action="store_true", help="leave out the full reports")
    parser.add_argument("--fast-3d", action="store_true", help="build the reports without 3D antialiasing")
    args = parser.parse_args(argv)
    if find_browser() is None:
        print("error: Chromium not found: `apt-get install -y chromium` or set BROWSER_PATH", file=sys.stderr)
        return 1
    print(f"machine: {_machine()}")
    print(f"load average at start: {_load()}  (other work on the machine slows every number below)")
    folder = Path(tempfile.mkdtemp(prefix="gpuscape-perf-"))
    try:
        if not args.skip_pipeline:
            _pipeline_table(args, folder)
        if not args.skip_export:
            _export_table(args, folder)
        if not args.skip_report:
            _report_table(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average at end: {_load()}")
    return 0


def _export_table(args: argparse.Namespace, folder: Path) -> None:
    count = max(args.figures, args.naive)
    figures = landscape_figures(count, 1000, 50)
    size = f"{WIDTH * SCALE}x{HEIGHT * SCALE}"
    print(f"\nExport of one 3D landscape figure as a {size} PNG, amortized (browser start included):")
    rows: list[tuple[str, int, float]] = []
    if not args.skip_plotly:
        rows.append(
            (
                "naive: plotly write_image, one call per figure",
                args.naive,
                time_naive(figures[: args.naive], folder),
            )
        )
        rows.append(
            (
                "plotly write_images (kaleido batch)",
                args.figures,
                time_plotly_batch(figures[: args.figures], folder),
            )
        )
    rows.append(
        ("ours: report.export", args.figures, time_ours(figures[: args.figures], folder, antialias=True))
    )
    rows.append(
        (
            "ours, --fast-3d (no antialiasing)",
            args.figures,
            time_ours(figures[: args.figures], folder, antialias=False),
        )
    )
    naive = rows[0][2] if not args.skip_plotly else None
    print(f"  {'path':50} {'figures':>7} {'s/figure':>9} {'speed-up':>9}")
    for name, n, per in rows:
        ratio = f"{naive / per:8.1f}x" if naive else "      n/a"
        print(f"  {name:50} {n:7d} {per:9.3f} {ratio}")  # fmt: skip


def _report_table(args: argparse.Namespace, folder: Path) -> None:
    antialias = not args.fast_3d
    how = "" if antialias else ", --fast-3d"
    print(
        f"\nFull report (report.build with every step: charts as HTML + PNG + SVG + PDF, site, deck, "
        f"animation{how}; no cache):"
    )
    per_model = args.cells / args.models
    sizes = [(int(c), max(1, round(int(c) / per_model))) for c in args.smaller.split(",") if c.strip()]
    sizes.append((args.cells, args.models))
    rows = [(cells, models, time_report(cells, models, folder, antialias)) for cells, models in sizes]
    stages = [k for k in rows[-1][2] if k.endswith("_s") and k != "total_s"]
    header = "".join(f"{k.removesuffix('_s').removeprefix('write_'):>9}" for k in stages)
    print(
        f"  {'cells':>6} {'models':>6} {'files':>6} {'images':>6}{header} {'total s':>8} {'ms/cell':>8} "
        f"{'+ms/cell':>9} {'page KB':>8}"
    )
    previous = None
    for cells, models, t in rows:
        times = "".join(f"{t.get(k, 0.0):9.2f}" for k in stages)
        ms = 1000 * t["total_s"] / cells
        # the cost of the cells added since the previous size: flat when the time grows linearly
        step = (
            "" if previous is None else f"{1000 * (t['total_s'] - previous[1]) / (cells - previous[0]):9.1f}"
        )
        print(
            f"  {cells:6d} {models:6d} {int(t['files']):6d} {int(t['images']):6d}{times} {t['total_s']:8.2f} "
            f"{ms:8.1f} {step:>9} {t['page_kb']:8.0f}"
        )
        previous = (cells, t["total_s"])
    print(
        "  (seconds per stage; +ms/cell is the time of the cells added since the row above; page KB is the\n"
        "   heaviest built page's own HTML, budget 300 KB: plotly.js ships once and is cached)"
    )


if __name__ == "__main__":
    sys.exit(main())
