"""report.charts and report.views: what a figure shows, from the figure's own data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.schema import METRICS
from perf.synthetic import synthetic_results
from report.build import figure_html
from report.charts import (
    FRAME_ASPECT,
    build_figure,
    chart_data,
    family_color,
    figure_spec,
    log_ticks,
    model_color,
    model_figures,
    pareto_front,
    symbol_for,
)
from report.text import setting_text
from report.views import VIEWS, ViewError, load_views
from tests.report.chart_fixtures import XSS_NAME, failed, renamed, small_set


def _data_traces(spec: dict) -> list[dict]:
    """Traces that carry cells (legend-only entries have a single None)."""
    return [t for t in spec["data"] if t.get("x") and t["x"][0] is not None and t.get("mode") == "markers"]


def _legend_entries(spec: dict) -> dict[str, dict]:
    return {t["name"]: t for t in spec["data"] if t.get("showlegend") and t.get("legend") != "legend2"}


def test_a_model_keeps_its_colour_a_shade_of_its_familys_hue() -> None:
    """Each model has its own colour, a shade of its family's hue, the same in any result set."""
    import colorsys

    llamas = ["Llama 3.2 1B", "Llama 3.1 8B", "Llama 3.1 70B", "Llama 3 (tiny)"]
    base = synthetic_results(40, 4, seed=9)
    names = sorted({r.model.name for r in base})
    one = [renamed(r, llamas[names.index(r.model.name)], "Llama") for r in base]
    other = [r for r in one if r.model.name != llamas[0]] + synthetic_results(20, 2, seed=3)
    colours = []
    for results in (one, other):
        entries = _legend_entries(figure_spec(VIEWS["landscape"], results))
        colours.append({name: entries[name]["marker"]["color"] for name in llamas[1:]})
    assert colours[0] == colours[1]  # another result set: the same colours
    shades = set(colours[0].values()) | {model_color("Llama", llamas[0])}
    assert len(shades) == len(llamas)  # a shade per model
    hue = lambda c: colorsys.rgb_to_hls(*(int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)))[0]  # noqa: E731
    for colour in shades:
        assert abs(hue(colour) - hue(family_color("Llama"))) < 0.05  # ...of the family's hue
    # a colour comes from the names alone: the same in a fresh interpreter
    code = "from report.charts import model_color; print(model_color('Zebra-LM', 'Zebra 7B'))"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=Path(__file__).parents[2])  # fmt: skip
    assert fresh.stdout.strip() == model_color("Zebra-LM", "Zebra 7B") != model_color("Zebra-LM", "Zebra 2B")
    assert family_color("Zebra-LM") != family_color("Zebra-LN")


def test_failed_cells_are_counted_and_listed_never_plotted() -> None:
    results = small_set(xss=False)
    broken = [failed(results[0], "oom"), failed(results[1], "timeout")]
    spec = figure_spec(VIEWS["landscape"], results + broken)
    plotted = sum(len(t["x"]) for t in _data_traces(spec))
    ok = [r for r in results if r.status == "ok"]
    assert plotted == len(ok)
    zs = [z for t in _data_traces(spec) for z in t["z"]]
    assert min(zs) > 0  # no zeros stand in for failures
    note = spec["layout"]["annotations"][0]["text"]
    assert "2 failed cells" in note and "oom" in note and "timeout" in note
    data = chart_data(VIEWS["landscape"], results + broken)
    assert {r.cell for r in data.failed} == {r.cell for r in broken}


def test_estimated_points_are_hollow_and_precisions_have_their_symbols() -> None:
    results = small_set(xss=False)
    spec = figure_spec(VIEWS["memory-speed"], results)
    for trace in _data_traces(spec):
        for symbol, text in zip(trace["marker"]["symbol"], trace["text"], strict=True):
            assert symbol.endswith("-open") == ("estimated" in text)
    assert symbol_for("float32", three_d=False) != symbol_for("int8", three_d=False)
    # in 3D a shape per weight bit width, each with a hollow form: every precision can be estimated
    shapes = {p: symbol_for(p, three_d=True) for p in ("bfloat16", "float32", "int8", "w8a8", "int4", "nf4",
                                                       "w4a8", "qoq", "int2", "fp6")}  # fmt: skip
    assert shapes["bfloat16"] == shapes["float32"] == "circle"
    assert shapes["int8"] == shapes["w8a8"] == "square"
    assert {shapes[p] for p in ("int4", "nf4", "w4a8", "qoq", "int2", "fp6")} == {"diamond"}
    for precision in shapes:
        assert symbol_for(precision, three_d=True, hollow=True) == f"{shapes[precision]}-open"


def test_the_3d_symbol_key_is_one_row_naming_the_formats_under_each_shape() -> None:
    results = small_set(xss=False)
    spec = figure_spec(VIEWS["landscape"], results)
    keys = {t["name"]: t["marker"]["symbol"] for t in spec["data"] if t.get("legend") == "legend2"}
    precisions = {r.setting.quantization or r.setting.dtype for r in results if r.status == "ok"}
    for name, symbol in keys.items():
        if symbol in ("circle", "square", "diamond"):
            formats = name.split(": ", 1)[1].split(", ")
            assert all(symbol_for(f, three_d=True) == symbol for f in formats)
            precisions -= set(formats)
    assert not precisions  # every precision is named under its shape
    assert len(keys) <= 5 and all(len(name) < 45 for name in keys)  # fits in one row at 960 px


def test_memory_is_named_by_device_and_axes_come_from_the_registry() -> None:
    results = small_set(xss=False)
    cpu = [r for r in results if r.setting.device == "cpu"]
    gpu = [r for r in results if r.setting.device == "cuda"]
    title = lambda rs: figure_spec(VIEWS["landscape"], rs)["layout"]["scene"]["xaxis"]["title"]["text"]  # noqa: E731
    assert title(cpu) == "Peak RSS (GiB)"
    assert title(gpu) == "GPU memory (GiB)"
    # both: the chart opens on one frame, its axis named for that frame's device; "all, mixed"
    # (the selector's last choice, or a static image of every frame under --mix) names both
    assert title(cpu + gpu) == "GPU memory (GiB)"
    menu = figure_spec(VIEWS["landscape"], cpu + gpu)["layout"]["updatemenus"][0]["buttons"]
    assert menu[-1]["args"][1]["scene.xaxis.title.text"] == "GPU memory / Peak RSS (GiB)"
    assert {b["args"][1]["scene.xaxis.title.text"] for b in menu[:-1]} == {
        "GPU memory (GiB)",
        "Peak RSS (GiB)",
    }
    mixed = figure_spec(VIEWS["landscape"], cpu + gpu, static=True)["layout"]["scene"]["xaxis"]["title"][
        "text"
    ]
    assert mixed == "GPU memory / Peak RSS (GiB)"
    scene = figure_spec(VIEWS["landscape"], gpu)["layout"]["scene"]
    assert scene["yaxis"]["type"] == "log" and scene["zaxis"]["type"] == "log"
    assert scene["xaxis"]["type"] == "linear"  # the registry's peak_memory is linear
    assert scene["zaxis"]["title"]["text"] == METRICS["decode_tokens_per_s"].title()
    static = figure_spec(VIEWS["landscape"], gpu, static=True)["layout"]["scene"]
    assert static["camera"]["eye"] == VIEWS["landscape"].camera_layout()["eye"]
    assert (
        scene["camera"]["center"] == static["camera"]["center"]
    )  # the site's stands back, looking at the same point
    assert abs(scene["camera"]["eye"]["y"]) > abs(static["camera"]["eye"]["y"])
    assert scene["aspectmode"] == "manual" and scene["aspectratio"] == FRAME_ASPECT  # the "frame" default


def test_transfer_falls_back_to_active_parameters() -> None:
    results = small_set(xss=False)
    stripped = [
        r.model_copy(
            update={"metrics": r.metrics.model_copy(update={"roofline": type(r.metrics.roofline)()})}
        )
        for r in results
    ]
    assert chart_data(VIEWS["transfer"], results).metrics[1].id == "bytes_per_token"
    assert chart_data(VIEWS["transfer"], stripped).metrics[1].id == "params_active"


def test_every_setting_and_model_is_in_the_hover() -> None:
    results = small_set(xss=False)
    spec = figure_spec(VIEWS["landscape"], results)
    texts = [t for trace in _data_traces(spec) for t in trace["text"]]
    r = next(r for r in results if r.status == "ok" and r.setting.device == "cuda")
    s = r.setting
    expected = f"{s.device} · {s.dtype} · {s.quantization + ' · ' if s.quantization else ''}batch {s.batch_size} · prompt {s.prompt_tokens} · {s.new_tokens} new"  # fmt: skip
    assert setting_text(r) == expected
    mine = [t for t in texts if r.model.name in t and expected in t]
    assert len(mine) == 1
    for piece in (
        "Decode throughput",
        "GPU memory: ",
        " GiB<br>",
        "Parameters",
        "Prefill latency",
        r.suite,
        "measured",
    ):
        assert piece in mine[0]


def test_names_with_html_are_escaped_in_legend_hover_and_html() -> None:
    results = small_set()
    spec = figure_spec(VIEWS["landscape"], results)
    entries = _legend_entries(spec)
    assert '&lt;script&gt;alert("x")&lt;/script&gt; Evil &amp; "Co"' in entries
    assert not any("<script>" in t for trace in _data_traces(spec) for t in trace["text"])
    html = figure_html(spec, "chart-landscape")
    assert "<script>alert" not in html and XSS_NAME not in html


def test_pareto_front_keeps_the_cells_no_other_beats() -> None:
    results = [r for r in small_set(xss=False) if r.status == "ok" and r.method == "measured"]
    data = chart_data(VIEWS["memory-speed"], results)
    front = pareto_front(data.points, data.metrics)
    points = [p.values for p in data.points]
    for x, y in front:  # lower memory is better, higher speed is better
        assert not any(px <= x and py >= y and (px, py) != (x, y) for px, py in points)
    for px, py in points:
        if (px, py) not in front:
            assert any(fx <= px and fy >= py for fx, fy in front)
    spec = figure_spec(VIEWS["memory-speed"], results)
    fronts = [t["name"] for t in spec["data"] if t.get("legendgroup") == "front"]
    assert fronts and all(name.startswith("Pareto front") for name in fronts)
    one_machine = [r for r in results if r.setting.device == "cuda"]
    spec = figure_spec(VIEWS["memory-speed"], one_machine)
    assert [t["name"] for t in spec["data"] if t.get("legendgroup") == "front"] == ["Pareto front"]


def test_a_filter_keeps_only_matching_cells() -> None:
    results = small_set(xss=False)
    view = VIEWS["landscape"].model_copy(update={"filter": {"device_kind": ("cpu",)}})
    data = chart_data(view, results)
    assert data.points and all(p.result.setting.device == "cpu" for p in data.points)


def test_a_users_yaml_adds_views_without_python(tmp_path: Path) -> None:
    path = tmp_path / "views.yaml"
    path.write_text(
        "cpu-memory:\n  extends: memory-speed\n  title: CPU only\n  filter: {device_kind: cpu}\n"
        "load-size:\n  x: params_total\n  y: {metric: load_s, log: false}\n  z: decode_tokens_per_s\n"
        "  camera: front\n  aspect: {x: 2, y: 1, z: 1}\n"
    )
    views = load_views(path)
    assert {"landscape", "cpu-memory", "load-size"} <= set(views)
    results = small_set(xss=False)
    spec = figure_spec(views["load-size"], results)
    assert spec["layout"]["scene"]["yaxis"]["type"] == "linear"
    assert spec["layout"]["scene"]["aspectratio"] == {"x": 2.0, "y": 1.0, "z": 1.0}
    assert build_figure(views["cpu-memory"], results).layout.title.text == "CPU only"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v:\n  x: speed\n  y: load_s\n", "v.x.metric: unknown metric 'speed'"),
        ("v:\n  x: load_s\n  y: load_s\n  camera: wobble\n", "v.camera: unknown camera preset"),
        ("v:\n  extends: nope\n", "v.extends: unknown view 'nope'"),
        ("v:\n  x: batch_size\n  y: load_s\n  pareto: true\n", "no better direction"),
        ("v:\n  x: load_s\n  y: load_s\n  filter: {colour: red}\n", "unknown filter key"),
        ("../up:\n  x: load_s\n  y: load_s\n", "a view name is lowercase"),
        ("v: [1\n", "not valid YAML"),
        (
            "index:\n  x: load_s\n  y: load_s\n",
            "index: the view name 'index' is taken by the site's Charts page",
        ),
    ],
)
def test_bad_view_files_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ViewError) as caught:
        load_views(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


def test_model_figures_highlight_one_model_among_the_rest() -> None:
    results = small_set(xss=False)
    name = results[0].model.name
    mine = [r for r in results if r.model.name == name]
    figures = model_figures(mine, context=results)
    assert list(figures) == [v.title for v in VIEWS.values() if v.per_model != "none"]
    landscape = figures[VIEWS["landscape"].title]
    names = {t.name for t in landscape.data if t.showlegend}
    assert "Other models" in names and name in names
    alone = model_figures(mine)  # without context: that model's cells only
    assert all("Other models" not in {t.name for t in f.data} for f in alone.values())


def test_same_results_give_byte_identical_html() -> None:
    results = small_set()
    first = figure_html(figure_spec(VIEWS["landscape"], results), "chart-landscape")
    second = figure_html(figure_spec(VIEWS["landscape"], list(reversed(results))), "chart-landscape")
    assert first == second
    assert 'id="chart-landscape"' in first


def test_light_dark_and_presentation_templates() -> None:
    results = small_set(xss=False)

    def template(name: str, static: bool = False) -> dict:
        return figure_spec(VIEWS["landscape"], results, name, static=static)["layout"]["template"]["layout"]

    light, dark, slide = template("light"), template("dark"), template("presentation", static=True)
    assert light["paper_bgcolor"] == "white" and dark["paper_bgcolor"] == "rgb(17,17,17)"
    assert slide["font"]["size"] >= 18 and slide["legend"]["font"]["size"] >= 18
    with pytest.raises(ValueError, match="unknown template"):
        figure_spec(VIEWS["landscape"], results, "sepia")  # type: ignore[arg-type]


def test_a_view_with_nothing_to_plot_says_so_without_empty_axes() -> None:
    only_failed = [failed(r) for r in small_set(xss=False)[:3]]
    spec = figure_spec(VIEWS["landscape"], only_failed)
    texts = [a["text"] for a in spec["layout"]["annotations"]]
    assert "No cells to show" in texts and any("3 failed cells" in t for t in texts)
    assert "scene" not in spec["layout"] and spec["layout"]["xaxis"] == {"visible": False}


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.3, 300_000, [1, 10, 100, 1e3, 1e4, 1e5]),  # wide: decades only
        (24, 900, [50, 100, 200, 500]),  # one decade would be one label: 1-2-5
        (200, 500, [200, 300, 500]),  # within a decade: finer
    ],
)
def test_log_axes_get_at_least_two_full_labels(low: float, high: float, expected: list[float]) -> None:
    assert log_ticks(low, high) == pytest.approx(expected)


def test_engine_and_kv_variants_share_their_formats_symbol_and_are_named_in_hover():
    """A compiled / fp8-KV cell of a bfloat16 model keeps bfloat16's symbol; hover and the
    setting line name the variant."""
    from report.charts import category_value, figure_spec, symbol_for

    base = next(r for r in small_set(n_cells=12, n_models=2, xss=False) if r.status == "ok")
    base = base.model_copy(
        update={"setting": base.setting.model_copy(update={"dtype": "bfloat16", "quantization": None})}
    )
    variant = base.model_copy(
        update={
            "cell": "abcdef0123",
            "setting": base.setting.model_copy(update={"engine": "compiled", "kv_cache": "fp8"}),
        }
    )
    assert category_value(variant, "precision") == "bfloat16 · compiled · KV fp8"
    assert "compiled · KV fp8" in setting_text(variant)
    for three_d in (True, False):
        assert symbol_for("bfloat16 · compiled · KV fp8", three_d=three_d) == symbol_for(
            "bfloat16", three_d=three_d
        )
    spec = figure_spec(VIEWS["memory-speed"], [base, variant])
    keys = [t["name"] for t in spec["data"] if t.get("legend") == "legend2"]
    assert keys == ["bfloat16"]  # the key names the format once (it stays one row)...
    hover = "".join(text for t in spec["data"] for text in t.get("text") or [])
    assert "compiled · KV fp8" in hover  # ...and hover names the variant


def test_a_single_point_or_a_line_of_cells_is_not_a_3d_chart() -> None:
    """One model's one cell (SmolLM2's "scaling" chart) and cells at one batch size and prompt
    length are drawn flat, speed up the side, with no six-digit tick labels."""
    ok = [r for r in small_set(xss=False) if r.status == "ok"]
    single = figure_spec(VIEWS["scaling"], ok[:1], static=True)
    layout = single["layout"]
    assert "scene" not in layout and all(t["type"] == "scatter" for t in single["data"])
    assert layout["yaxis"]["title"]["text"] == METRICS["decode_tokens_per_s"].title()
    assert "xaxis" in layout
    line = [r for r in ok if (r.setting.batch_size, r.setting.prompt_tokens) == (8, 2048)]
    assert len(line) > 2
    flat = figure_spec(VIEWS["scaling"], line)
    assert "scene" not in flat["layout"] and sum(len(t["x"]) for t in _data_traces(flat)) == len(line)
    varied = figure_spec(VIEWS["landscape"], ok)
    assert "scene" in varied["layout"]  # cells that vary on all three axes stay 3D
    for axis in varied["layout"]["scene"].values():
        for label in axis.get("ticktext", []) if isinstance(axis, dict) else []:
            assert len(label.replace(".", "")) <= 4, label


def test_hover_and_counts_never_print_exponents() -> None:
    """Speeds are plain numbers with thousands separators; a count that rounds up to the next
    suffix takes it (999.6M is "1B", not "1e+03M")."""
    import re

    from report.text import count, metric_value

    assert count(999.6e6, space=False) == "1B" and count(999_500_000) == "1 B" and count(999.7) == "1 k"
    assert metric_value(METRICS["decode_tokens_per_s"], 3240.4) == "3,240 tok/s"
    results = synthetic_results(300, 12, seed=4)
    big = [
        r.model_copy(update={"model": r.model.model_copy(update={"params_total": 999_600_000})})
        for r in results[:5]
    ]
    for view in ("landscape", "memory-speed"):
        spec = figure_spec(VIEWS[view], results + big)
        hover = " ".join(text for t in spec["data"] for text in t.get("text") or [])
        assert hover and not re.search(r"\de[+-]\d", hover)


def test_the_dark_presentation_template_draws_on_the_sites_dark_page() -> None:
    from report.charts import DARK_BACKGROUND, template_dict

    spec = figure_spec(VIEWS["landscape"], small_set(xss=False), "presentation-dark", static=True)
    layout = spec["layout"]["template"]["layout"]
    assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == DARK_BACKGROUND
    assert layout["scene"]["xaxis"]["backgroundcolor"] == DARK_BACKGROUND
    assert layout["font"]["size"] == 18  # slide sizes, like "presentation"
    assert template_dict("presentation")["layout"]["paper_bgcolor"] != DARK_BACKGROUND


def test_a_model_chart_thins_the_grey_backdrop_of_a_large_set() -> None:
    """On a model's chart the other models' cells are a grey backdrop: past MAX_CONTEXT_POINTS a
    frame they are an even sample (the legend says how many of how many), so a 5,000-cell set
    keeps each model page under the site's budget; the axes still span every cell."""
    from perf.synthetic import synthetic_results
    from report.charts import MAX_CONTEXT_POINTS, chart_data

    results = synthetic_results(3000, 10, seed=2)
    name = results[0].model.name
    view = VIEWS["memory-speed"]
    spec = figure_spec(view, results, highlight=name)
    grey = [
        t for t in spec["data"] if t.get("legendgroup") == "context" and t.get("x") and t["x"][0] is not None
    ]
    assert grey and all(len(t["x"]) <= MAX_CONTEXT_POINTS for t in grey)
    data = chart_data(view, results, highlight=name)
    assert len(data.context) > sum(len(t["x"]) for t in grey)
    [entry] = [t for t in spec["data"] if t.get("legendgroup") == "context" and t.get("showlegend")]
    assert f"of {len(data.context):,} cells" in entry["name"]
    for axis in ("x", "y"):  # the sample holds the extremes: autoranged axes span every cell
        drawn = [v for t in grey for v in t[axis]]
        every = [p.values["xy".index(axis)] for p in data.context]
        assert min(drawn) == pytest.approx(min(every), rel=1e-3) and max(drawn) == pytest.approx(
            max(every), rel=1e-3
        )


def test_a_static_legend_of_twenty_models_stays_per_model_at_a_compact_size() -> None:
    """Past the usual rows a static 3D image's legend keeps one entry per model (no scrolling
    in a picture) at COMPACT_LEGEND_PX without family titles, up to COMPACT_LEGEND_ROWS; beyond,
    one entry per family (each model's shade still tells it apart in hover)."""
    from perf.synthetic import synthetic_results
    from report.charts import COMPACT_LEGEND_PX, COMPACT_LEGEND_ROWS, chart_data, frame_data

    def legend(n_models: int) -> tuple[list[str], dict, Any]:  # the frame with the most models
        results = synthetic_results(40 * n_models, n_models, seed=5)
        data = chart_data(VIEWS["landscape"], results)
        frame = max(data.frames, key=lambda f: len(frame_data(data, f).models))
        spec = figure_spec(VIEWS["landscape"], results, "presentation", static=True, data=data, frame=frame)
        names = [t["name"] for t in spec["data"] if t.get("showlegend") and t.get("legend") != "legend2"]
        return names, spec["layout"]["legend"], frame_data(data, frame)

    names, layout, data = legend(18)
    assert len(data.models) > 13 and len(names) == len(data.models)  # every model, by name
    assert layout["font"]["size"] == COMPACT_LEGEND_PX
    names, layout, data = legend(40)
    assert len(data.models) > COMPACT_LEGEND_ROWS[True] and len(names) < len(data.models)  # families


def test_a_model_chart_opens_on_a_hardware_that_holds_the_model() -> None:
    """On a model's chart (highlight), a measured CPU frame holding only other models' grey
    cells does not come first: the chart (and its static image) opens where the model has cells."""
    from report.charts import chart_data

    only_estimated = "Gemma 2B"  # its measured H100 cells left out: estimated on the RTX 4090 only
    results = [r for r in small_set(xss=False) if r.model.name != only_estimated or r.method == "estimated"]
    data = chart_data(VIEWS["landscape"], results, highlight=only_estimated)
    assert any(f.endswith("(measured)") for f in data.frames)
    assert data.frames[0].endswith("(estimated)")
    assert any(p.frame == data.frames[0] for p in data.points)


def test_a_shorter_picture_keeps_its_legend_inside() -> None:
    """A deck picture drawn for a shorter box (its legend column `legend_px` high) lowers the
    legend's row limits by the rows it lacks: a legend that fits a 960x540 image per model falls
    back to families there rather than running off the picture's bottom."""
    from perf.synthetic import synthetic_results
    from report.charts import COMPACT_LEGEND_ROWS, chart_data, frame_data, legend_column_px, legend_rows

    results = synthetic_results(40 * 20, 20, seed=5)  # its busiest frame: 20 rows without titles
    view = VIEWS["landscape"]
    data = chart_data(view, results)
    frame = max(data.frames, key=lambda f: len(frame_data(data, f).models))
    rows = legend_rows(frame_data(data, frame), titles=False)
    assert COMPACT_LEGEND_ROWS[True] - 4 < rows <= COMPACT_LEGEND_ROWS[True]

    def entries(**options: Any) -> int:
        spec = figure_spec(view, results, "presentation", static=True, data=data, frame=frame, **options)
        return sum(1 for t in spec["data"] if t.get("showlegend") and t.get("legend") != "legend2")

    full = entries()
    short = entries(legend_px=legend_column_px(view) - 4 * 20)  # four rows fewer
    assert full == len(frame_data(data, frame).models) and short < full
