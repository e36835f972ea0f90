"""The fit matrix (report/fit.py) and `python -m report fit`: hand-computed fits of published
configs (estimated on the meta device, nothing downloaded) next to gpuscape's, the JSON's
coverage, expected <= bound, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench import hardware as catalog
from bench.schema import GPUInfo
from perf.synthetic import synthetic_results
from report.cli import main
from report.fit import TIGHT_SHARE, fit_matrix
from report.load import load_results
from tests.report.chart_fixtures import failed, write_results

REPO = Path(__file__).resolve().parents[2]
GiB = 2**30
PUBLISHED = ("Llama 3 8B", "Llama 3 70B", "Mixtral 8x7B")
GPUS_24GB = sorted(h.id for h in catalog.catalog().values() if h.memory_bytes == 24 * GiB)
LLAMA3_8B_PARAMS = 8_030_261_248  # Meta's model card: 8.03B
LLAMA3_70B_PARAMS = 70_553_706_496
MIXTRAL_PARAMS = 46_702_792_704


@pytest.fixture(scope="module")
def estimates(tmp_path_factory) -> Path:
    """Llama 3 8B / 70B and Mixtral 8x7B (the published configs of suites/estimate-rtx4090.yaml)
    at bf16, int8 and int4, batch 1 and 8, prompt 2,048 + 64 new, on the H100 and every 24 GB GPU."""
    from bench.estimate import estimate

    root = tmp_path_factory.mktemp("fit")
    reference = yaml.safe_load((REPO / "suites" / "estimate-rtx4090.yaml").read_text())
    suite = {
        "name": "fit-test",
        "hardware": ["h100-sxm", *GPUS_24GB],
        "models": [m for m in reference["models"] if m["name"] in PUBLISHED],
        "settings": {
            "dtype": ["bfloat16"],
            "quantization": ["none", "int8", "int4"],
            "batch_size": [1, 8],
            "prompt_tokens": [2048],
            "new_tokens": [64],
        },
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    estimate(path, root / "results")
    return root / "results"


def only(results, quantization=None):
    return [r for r in results if (r.setting.quantization or "none") == (quantization or "none")]


def test_llama3_8b_bf16_fits_a_24gb_rtx_4090_at_batch_1_by_hand(estimates):
    matrix = fit_matrix(only(load_results([estimates])), context=2112, hardware_ids=["rtx-4090"])
    cell = matrix.cell("Llama 3 8B", "rtx-4090")
    # by hand: bf16 weights 2 bytes per parameter; KV 32 layers x (K + V) x 8 KV heads x 128 x 2 bytes
    # per position, 2,111 positions held at the end; prefill activations of 2,048 tokens of
    # (4 x hidden + q/k/v + 3 x MLP width) values at 2 bytes, plus float32 logits for one position
    weights = 2 * LLAMA3_8B_PARAMS
    kv = 32 * 2 * 8 * 128 * 2 * 2111
    activations = 2048 * (4 * 4096 + (32 + 2 * 8) * 128 + 3 * 14336) * 2 + 128256 * 4
    by_hand = weights + kv + activations
    assert by_hand / GiB == pytest.approx(15.5, abs=0.1)
    assert cell.memory_bytes == pytest.approx(by_hand, rel=1e-3)
    assert cell.usable_memory_bytes == 23 * GiB  # 24 GiB less the catalog's 1 GiB reserve
    assert cell.state == "fits" and cell.memory_bytes < TIGHT_SHARE * cell.usable_memory_bytes
    assert (cell.precision, cell.batch_size, cell.context_tokens) == ("bfloat16", 1, 2112)
    assert cell.method == "estimated"
    # the largest batch from the memory split: (usable - weights) / (KV + activations per sequence)
    assert cell.max_batch_size == (23 * GiB - weights) // (kv + activations)
    assert cell.max_batch_from == "memory split"
    split = dict(cell.memory_split())
    assert split["weights"] == pytest.approx(weights, rel=1e-3)
    assert split["KV cache and activations"] == pytest.approx(kv + activations, rel=1e-2)
    assert split["reserve (outside usable)"] == GiB and "weights 15 GiB" in cell.detail()


def test_llama3_70b_fits_no_24gb_gpu_at_bf16_int8_or_int4(estimates):
    results = load_results([estimates])
    assert GPUS_24GB and "rtx-4090" in GPUS_24GB
    for quantization, bits in (("none", 16), ("int8", 8), ("int4", 4)):
        matrix = fit_matrix(only(results, quantization), hardware_ids=GPUS_24GB)
        for gpu in GPUS_24GB:
            cell = matrix.cell("Llama 3 70B", gpu)
            assert cell.state == "no", (quantization, gpu, cell)
            # the weights alone at `bits` per parameter exceed the 23 GiB usable
            assert cell.memory_bytes > LLAMA3_70B_PARAMS * bits / 8 > cell.usable_memory_bytes
            assert cell.short_bytes == cell.memory_bytes - cell.usable_memory_bytes
            assert "short" in cell.reason and cell.batch_size == 1  # the leanest setting


def test_mixtral_bf16_does_not_fit_an_80gb_h100_but_int4_does(estimates):
    results = load_results([estimates])
    cell = fit_matrix(only(results), hardware_ids=["h100-sxm"]).cell("Mixtral 8x7B", "h100-sxm")
    assert cell.state == "no"
    assert cell.memory_bytes > 2 * MIXTRAL_PARAMS > 79 * GiB == cell.usable_memory_bytes
    int4 = fit_matrix(results, hardware_ids=["h100-sxm"]).cell("Mixtral 8x7B", "h100-sxm")
    assert int4.state == "fits" and int4.precision == "bfloat16 · int4"


def test_expected_is_at_most_the_bound_and_the_best_rule_holds(estimates):
    results = load_results([estimates])
    matrix = fit_matrix(results)
    shown = [c for c in matrix.cells.values() if c.shown]
    assert shown
    for cell in shown:
        assert cell.speed.label == "expected"  # eager transformers has a cited default efficiency
        assert 0 < cell.speed.efficiency <= 1 and cell.speed.efficiency_source
        assert cell.speed.tokens_per_s <= cell.speed.bound_tokens_per_s
        # no batch-1 setting that fits decodes faster than the best by more than the tie margin
        rivals = [
            r
            for r in results
            if r.model.name == cell.model
            and r.setting.device == cell.hardware.id
            and r.status == "ok"
            and r.setting.batch_size == 1
        ]
        fastest = max(r.metrics.decode.tokens_per_s for r in rivals)
        assert cell.speed.bound_tokens_per_s >= 0.98 * fastest


def test_the_json_covers_every_model_and_hardware(estimates, capsys):
    assert main(["fit", str(estimates), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    pairs = {(row["model"], row["hardware"]) for row in rows}
    assert len(rows) == len(pairs) == len(PUBLISHED) * (1 + len(GPUS_24GB))
    assert pairs == {(m, h) for m in PUBLISHED for h in ["h100-sxm", *GPUS_24GB]}
    for row in rows:
        assert row["method"] == "estimated" and row["state"] in ("fits", "tight", "no")
        if row["state"] != "no":
            for key in ("precision", "batch_size", "context_tokens", "decode_tokens_per_s"):
                assert row[key] is not None, key
            assert row["memory_bytes"] <= row["usable_memory_bytes"]
            assert row["max_batch_size"] >= row["batch_size"]
    llama = next(r for r in rows if (r["model"], r["hardware"]) == ("Llama 3 8B", "rtx-4090"))
    assert llama["precision"] == "bfloat16 · int4"  # the fastest batch-1 decode that fits


def test_the_terminal_table_and_unknown_hardware(estimates, capsys):
    assert main(["fit", str(estimates), "--hardware", "rtx-4090", "--context", "2112"]) == 0
    out = capsys.readouterr().out
    assert "rtx-4090" in out and "h100-sxm" not in out and "Llama 3 70B" in out and "short" in out
    assert main(["fit", str(estimates), "--hardware", "a100-80gb"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'a100-80gb'" in err and "h100-sxm" in err and "rtx-4090" in err


# --------------------------------------------------------------------------- bad input


def test_a_gpu_without_a_memory_figure_is_unknown_and_one_hardware_is_one_column():
    gpu_cells = [r for r in synthetic_results(60, 3, seed=1) if r.setting.device == "cuda"]
    assert gpu_cells
    mystery = GPUInfo(name="Mystery Accelerator 9000", memory_bytes=None)
    results = [
        r.model_copy(update={"environment": r.environment.model_copy(update={"gpu": mystery})})
        for r in gpu_cells
    ]
    matrix = fit_matrix(results)
    assert [hw.id for hw in matrix.hardware] == ["mystery-accelerator-9000"]
    states = {c.state for c in matrix.cells.values()}
    assert "unknown" in states and states <= {"unknown", "no", "failed"}
    for cell in matrix.cells.values():
        if cell.state == "unknown" and cell.result is not None:
            assert cell.max_batch_size is None and "no memory figure" in cell.reason


def test_a_model_whose_cells_all_failed_gets_a_row_that_says_why():
    results = [r for r in synthetic_results(40, 2, seed=2) if r.setting.device == "cuda"]
    name = results[0].model.name
    results = [failed(r, "error") if r.model.name == name else r for r in results]
    matrix = fit_matrix(results)
    (cell,) = matrix.row(name)
    assert cell.state == "failed" and "RuntimeError: error <here>" in cell.reason
    assert cell.to_json()["state"] == "failed"
    # the known GPU keeps its catalog figures: 80 GiB less the reserve
    assert matrix.hardware[0].id == "h100-sxm" and matrix.hardware[0].usable_memory_bytes == 79 * GiB


def test_names_are_shown_as_text_in_the_terminal(tmp_path, capsys):
    results = [r for r in synthetic_results(20, 2, seed=3) if r.setting.device == "cuda"]
    evil = "[red]E[/]<b>"  # rich markup and HTML: printed as they are
    results = [r.model_copy(update={"model": r.model.model_copy(update={"name": evil})}) for r in results]
    write_results(results, tmp_path)
    assert main(["fit", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[red]E[/]<b>" in out


# --------------------------------------------------------------------------- the site and the deck


def test_the_home_page_starts_with_the_matrix_and_model_pages_say_where_they_fit(estimates, tmp_path):
    from report.site import render_docs
    from tests.report.chart_fixtures import XSS_NAME, small_set

    results = [*load_results([estimates]), *small_set(seed=5)]
    pages = render_docs(results, tmp_path / "docs", charts=False)
    home = pages[0].read_text()
    sections = [line for line in home.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Where each model fits"
    matrix = home.split("## Where each model fits", 1)[1].split("\n## ", 1)[0]
    assert "`rtx-4090` · 23 GiB usable" in matrix and "`h100-sxm` · 79 GiB usable" in matrix
    llama = next(line for line in matrix.splitlines() if line.startswith("| [Llama 3 8B]"))
    assert "**fits (estimated)**" in llama and "tok/s expected" in llama
    assert "13\\.7 GiB short" not in llama and "**no (estimated)**" in next(
        line for line in matrix.splitlines() if line.startswith("| [Llama 3 70B]")
    )
    assert "<script>" not in home and XSS_NAME not in home  # names are escaped
    assert "none measured" not in home
    models = home.split("## Models", 1)[1]
    assert "rtx-4090: bfloat16 · int4: " in models
    page = next(p for p in pages if p.name == "llama-3-8b.md").read_text()
    where = page.split("## Where it fits", 1)[1].split("\n## ", 1)[0]
    assert "`rtx-4090`" in where and "(memory split)" in where and "efficiency 17 %" in where
    methodology = next(p for p in pages if p.name == "methodology.md").read_text()
    assert "## Hardware" in methodology and "Estimates are not measurements" in methodology
    assert (
        "gpt\\-fast" in methodology
        and "| NVIDIA GeForce RTX 4090 24GB | `rtx-4090` | 24 GiB | 1 GiB | 23 GiB |" in methodology
    )


def test_the_deck_concludes_right_after_the_title(estimates, tmp_path):
    from pptx import Presentation

    from report.slides import plan_deck, write_deck

    results = load_results([estimates])
    deck = plan_deck(list(results), title="t", views=[], images={})
    assert deck.slide_titles()[:2] == ["t", "Where each model fits"]
    path = write_deck(deck, tmp_path / "deck.pptx")
    slide = Presentation(str(path)).slides[1]
    assert slide.shapes.title.text_frame.text == "Where each model fits"
    (table,) = [s.table for s in slide.shapes if s.has_table]
    cells = {
        (table.cell(r, 0).text, table.cell(0, c).text): table.cell(r, c).text
        for r in range(1, len(table.rows))
        for c in range(1, len(table.columns))
    }
    assert cells["Llama 3 70B", "rtx-4090"].startswith("no: ")
    assert cells["Llama 3 8B", "rtx-4090"].startswith("est. ")
    assert "Estimates are not measurements" in slide.notes_slide.notes_text_frame.text


def test_a_noisy_measured_cell_is_marked():
    from bench.schema import Stats

    results = [r for r in synthetic_results(40, 1, seed=6) if r.setting.device == "cuda" and r.status == "ok"]
    steady = fit_matrix(results).row(results[0].model.name)[0]
    assert steady.shown and steady.cv is not None and not steady.noisy
    best = steady.result
    # the same cell, its per-token latency swinging by a third around the mean
    mean = best.metrics.decode.per_token_s.mean
    swinging = Stats.of([mean * 0.6, mean, mean * 1.4, mean, mean])
    decode = best.metrics.decode.model_copy(update={"per_token_s": swinging})
    noisy_best = best.model_copy(update={"metrics": best.metrics.model_copy(update={"decode": decode})})
    cell = fit_matrix([noisy_best if r is best else r for r in results]).row(best.model.name)[0]
    assert cell.result.cell == best.cell and cell.noisy and cell.cv == pytest.approx(0.283, abs=0.01)
    assert "(noisy)" in cell.headline() and "noisy (above 10%)" in cell.detail()
    assert cell.to_json()["noisy"] is True


def test_latency_targets_restrict_what_fits_and_name_the_binding_one(estimates, capsys):
    from report.fit import Targets

    results = load_results([estimates])
    free = fit_matrix(results, context=2112, hardware_ids=["rtx-4090"]).cell("Llama 3 8B", "rtx-4090")
    tpot_ms = 1e3 / free.speed.tokens_per_s  # the best setting's time per output token at batch 1
    loose = fit_matrix(results, 2112, ["rtx-4090"], Targets(tpot_ms=1.05 * tpot_ms)).cell(
        "Llama 3 8B", "rtx-4090"
    )
    assert loose.state == "fits" and loose.result is free.result and loose.binding == "TPOT"
    assert loose.max_batch_from.startswith("batch sizes run, meeting TPOT ≤")
    strict = fit_matrix(results, 2112, ["rtx-4090"], Targets(tpot_ms=0.95 * tpot_ms)).cell(
        "Llama 3 8B", "rtx-4090"
    )
    assert strict.state == "no" and strict.binding == "TPOT" and "no setting meets TPOT" in strict.reason
    ttft = fit_matrix(results, 2112, ["rtx-4090"], Targets(ttft_ms=0.001)).cell("Llama 3 8B", "rtx-4090")
    assert ttft.state == "no" and ttft.binding == "TTFT"
    assert main(["fit", str(estimates), "--tpot-ms", "0", "--json"]) == 2
    assert main(["fit", str(estimates), "--hardware", "rtx-4090", "--tpot-ms", "1000", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["binding_target"] for row in rows if row["state"] in ("fits", "tight")} == {"TPOT"}


def test_a_price_per_hour_gives_the_cost_per_million_tokens(estimates, tmp_path, capsys):
    prices = tmp_path / "prices.yaml"
    prices.write_text("rtx-4090: 0.5\nh100-sxm: 2.0\n")
    assert main(["fit", str(estimates), "--prices", str(prices), "--price", "rtx-4090=0.69", "--json"]) == 0
    rows = {(r["model"], r["hardware"]): r for r in json.loads(capsys.readouterr().out)}
    llama = rows["Llama 3 8B", "rtx-4090"]
    assert llama["price_per_hour"] == 0.69  # --price wins over the file
    # by hand: USD per hour / (tokens per second x 3,600 s) x one million
    assert llama["cost_per_million_tokens"] == pytest.approx(
        0.69 / (llama["decode_tokens_per_s"] * 3600) * 1e6
    )
    assert rows["Llama 3 8B", "h100-sxm"]["price_per_hour"] == 2.0
    assert "cost_per_million_tokens" not in rows["Llama 3 70B", "rtx-4090"]  # nothing fits: no cost
    assert main(["fit", str(estimates), "--price", "rtx-4090=free"]) == 2
    assert "not a number" in capsys.readouterr().err


def test_imported_results_take_their_own_columns_and_a_cell_with_a_speed(tmp_path, capsys):
    fixtures = REPO / "tests" / "fixtures" / "imports"
    assert main(["import", "llama-bench", str(fixtures / "llama-bench"), "--out", str(tmp_path / "lb")]) == 0
    capsys.readouterr()
    matrix = fit_matrix(load_results([tmp_path]))
    ids = [hw.id for hw in matrix.hardware]
    assert "this-cpu" not in ids  # another machine's CPU is named, not taken for this one
    cells = [c for c in matrix.cells.values() if c.method == "imported"]
    assert cells and all(c.speed.tokens_per_s for c in cells)  # prompt-only records are not "best"
    assert all(c.state == "unknown" for c in cells)  # llama-bench records no memory figure


def test_memory_charts_draw_each_gpus_usable_memory_and_its_own_pareto_front(estimates):
    """Capacity lines, a front per frame (hardware and method), and the expected figure in hover."""
    from report.charts import figure_spec
    from report.views import VIEWS

    results = list(load_results([estimates]))
    spec = figure_spec(VIEWS["memory-speed"], results)
    lines = {t["name"]: t["x"] for t in spec["data"] if t.get("legendgroup", "").startswith("capacity:")}
    assert lines["RTX 4090 24GB: 23 GiB usable"] == [23.0, 23.0]  # display names (short), never ids
    assert lines["H100 SXM5 80GB: 79 GiB usable"] == [79.0, 79.0]
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("GPU memory (GiB)")
    # a Pareto front per hardware: the RTX 4090's holds only cells that fit its 23 GiB
    fronts = {t["name"]: (t["x"], t["y"]) for t in spec["data"] if t.get("legendgroup") == "front"}
    rtx = "Pareto front: NVIDIA GeForce RTX 4090 24GB (estimated)"
    h100 = "Pareto front: NVIDIA H100 SXM5 80GB (estimated)"
    assert {rtx, h100} <= set(fronts)
    assert max(fronts[rtx][0]) <= 23
    # the H100 (3.35 TB/s) front is faster than the RTX 4090 (1 TB/s) one
    assert max(fronts[h100][1]) > 2 * max(fronts[rtx][1])
    # an estimate's hover gives the bound (the plotted speed) and the expected figure beside it
    hovers = [text for t in spec["data"] for text in (t.get("text") or []) if "Llama 3 8B" in text]
    assert hovers and all("roofline upper bound" in h and "x 17% efficiency" in h for h in hovers)
    # 3D: a translucent plane at each GPU's usable memory, its dotted outline the legend entry,
    # inside the scene's memory range
    landscape = figure_spec(VIEWS["landscape"], results)
    planes = [t for t in landscape["data"] if t["type"] == "mesh3d"]
    outlines = {
        t["name"]: t["x"]
        for t in landscape["data"]
        if t.get("legendgroup", "").startswith("capacity:") and t["type"] == "scatter3d"
    }
    assert {t["x"][0] for t in planes} == {23.0, 79.0} and outlines["H100 SXM5 80GB: 79 GiB usable"] == [
        79.0
    ] * 5
    low, high = landscape["layout"]["scene"]["xaxis"]["range"]
    assert low < 23.0 and high > 79.0


def test_a_model_only_estimated_is_not_said_to_be_measured(estimates):
    from report.summary import summarize

    summary = summarize(load_results([estimates]))
    weights = next(f.text for f in summary.model("Llama 3 8B").explanation.facts if f.topic == "Weights")
    assert "measured at" not in weights and "estimated (not run) at bfloat16" in weights


def test_measured_and_estimated_cells_never_share_a_frame_by_default():
    from report.charts import ALL_FRAMES, chart_data, figure_spec, frame_data
    from report.views import VIEWS
    from tests.report.chart_fixtures import small_set

    results = small_set(xss=False)  # a CPU, an H100 and RTX 4090 estimates
    for view in ("landscape", "memory-speed"):
        spec = figure_spec(VIEWS[view], results)
        (menu,) = spec["layout"]["updatemenus"]
        labels = [b["label"] for b in menu["buttons"]]
        assert labels[-1] == ALL_FRAMES and "NVIDIA GeForce RTX 4090 24GB (estimated)" in labels
        assert len(labels) >= 3
        data = chart_data(VIEWS[view], results)

        def cells(visible: list[bool], traces: list = spec["data"]) -> int:  # plotted cells shown
            return sum(
                len(t["x"])
                for t, v in zip(traces, visible, strict=True)
                if v
                and t.get("mode") == "markers"
                and t["x"][0] is not None
                and t.get("legendgroup") != "key"
            )

        opened = [t.get("visible", True) for t in spec["data"]]
        assert cells(opened) == len(frame_data(data, labels[0]).points) > 0  # the first frame alone
        for button in menu["buttons"][:-1]:  # each frame's button shows that frame's cells only
            assert cells(button["args"][0]["visible"]) == len(frame_data(data, button["label"]).points)
        assert cells(menu["buttons"][-1]["args"][0]["visible"]) == len(data.points)
        assert not any("meta" in t for t in spec["data"])  # frame bookkeeping stays in Python
        assert all(menu["buttons"][-1]["args"][0]["visible"])
    static = figure_spec(VIEWS["landscape"], results, static=True)  # pictures draw every frame
    assert "updatemenus" not in static["layout"] and all(t.get("visible", True) for t in static["data"])


def test_a_latency_preset_is_its_two_targets_and_explicit_ones_win(estimates, capsys):
    """`--preset interactive` is TTFT 500 ms + TPOT 30 ms; an explicit --tpot-ms replaces its TPOT."""

    def rows(*argv: str) -> list[dict]:
        assert main(["fit", str(estimates), "--hardware", "rtx-4090", "--json", *argv]) == 0
        return json.loads(capsys.readouterr().out)

    assert rows("--preset", "interactive") == rows("--ttft-ms", "500", "--tpot-ms", "30")
    assert rows("--preset", "interactive", "--tpot-ms", "1000") == rows(
        "--ttft-ms", "500", "--tpot-ms", "1000"
    )
    assert rows("--preset", "llama3.1-8b") == rows("--ttft-ms", "2000", "--tpot-ms", "100")
    assert rows("--preset", "interactive") != rows()  # the targets do bind somewhere


def test_mix_draws_every_frame_in_one_picture_and_opens_on_all_of_them():
    """`--mix`: the static images draw every frame at once (no image per hardware), and the
    interactive chart opens on "all, mixed"; without it, one image per frame."""
    from report.charts import ALL_FRAMES, chart_data, figure_spec, static_frames
    from report.views import VIEWS
    from tests.report.chart_fixtures import small_set

    results = small_set(xss=False)
    data = chart_data(VIEWS["landscape"], results)
    assert (
        len(data.frames) >= 3
        and static_frames(data) == data.frames
        and static_frames(data, mix=True) == [None]
    )
    (menu,) = figure_spec(VIEWS["landscape"], results, mix=True)["layout"]["updatemenus"]
    assert menu["buttons"][menu["active"]]["label"] == ALL_FRAMES
    (menu,) = figure_spec(VIEWS["landscape"], results)["layout"]["updatemenus"]
    assert menu["buttons"][menu["active"]]["label"] == data.frames[0]
