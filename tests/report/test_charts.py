"""report.charts and report.views: what a figure shows, from the figure's own data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.schema import METRICS
from perf.synthetic import synthetic_results
from report.build import figure_html
from report.charts import (
    build_figure,
    chart_data,
    family_color,
    figure_spec,
    log_ticks,
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


def test_a_family_keeps_its_colour_across_result_sets() -> None:
    one = synthetic_results(60, 6, seed=1)
    other = [renamed(r, f"Llama other {r.model.name}", "Llama") for r in synthetic_results(40, 3, seed=9)]
    colours = []
    for results in (one, other):
        spec = figure_spec(VIEWS["landscape"], results)
        llama = [
            t for t in _legend_entries(spec).values() if "Llama" in json.dumps(t.get("legendgrouptitle", {}))
        ]
        colours.append(llama[0]["marker"]["color"])
    assert colours[0] == colours[1] == family_color("Llama")
    # an unknown family's colour comes from its name alone: the same in a fresh interpreter
    code = "from report.charts import family_color; print(family_color('Zebra-LM'))"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=Path(__file__).parents[2])  # fmt: skip
    assert fresh.stdout.strip() == family_color("Zebra-LM") != family_color("Zebra-LN")


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
    assert symbol_for("bfloat16", three_d=True) == "diamond"
    assert symbol_for("bfloat16", three_d=True, hollow=True) == "diamond-open"
    assert symbol_for("float32", three_d=False) != symbol_for("int8", three_d=False)


def test_memory_is_named_by_device_and_axes_come_from_the_registry() -> None:
    results = small_set(xss=False)
    cpu = [r for r in results if r.setting.device == "cpu"]
    gpu = [r for r in results if r.setting.device == "cuda"]
    title = lambda rs: figure_spec(VIEWS["landscape"], rs)["layout"]["scene"]["xaxis"]["title"]["text"]  # noqa: E731
    assert title(cpu) == "Peak RSS (GiB)"
    assert title(gpu) == "GPU memory (GiB)"
    assert title(cpu + gpu) == "GPU memory / Peak RSS (GiB)"
    scene = figure_spec(VIEWS["landscape"], gpu)["layout"]["scene"]
    assert scene["yaxis"]["type"] == "log" and scene["zaxis"]["type"] == "log"
    assert scene["xaxis"]["type"] == "linear"  # the registry's peak_memory is linear
    assert scene["zaxis"]["title"]["text"] == METRICS["decode_tokens_per_s"].title()
    assert scene["camera"]["eye"] == VIEWS["landscape"].camera_layout()["eye"]
    assert scene["aspectmode"] == "cube"


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


def test_engine_and_kv_variants_share_their_formats_symbol_and_are_named_in_the_key():
    """A compiled / fp8-KV cell of a bfloat16 model keeps bfloat16's symbol; the symbol key and
    the setting line name the variant."""
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
    assert any("bfloat16 · compiled · KV fp8" in k and "bfloat16," in k for k in keys), keys
