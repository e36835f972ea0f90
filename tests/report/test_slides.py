"""report.slides: the deck opened with python-pptx, and rendered by LibreOffice to check that no
text leaves its box."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageStat
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Emu, Inches, Pt

from bench.schema import Result
from report.slides import (
    CHART_AREA,
    FIT_ROWS_PER_SLIDE,
    MIN_PT,
    SLIDE_HEIGHT,
    SLIDE_WIDTH,
    STRIP_LINES,
    Para,
    Picture,
    ViewInfo,
    chart_image_px,
    fit_text,
    plan_deck,
    write_deck,
)
from report.summary import model_summaries
from tests.report.site_fixtures import LLAMA_TINY, XSS_NAME, counted, make_result, mixed_results

VIEWS = [
    ViewInfo("landscape", "Landscape", ("peak_memory", "params_total", "decode_tokens_per_s")),
    ViewInfo("transfer", "Transfer", ("peak_memory", "params_active", "decode_tokens_per_s")),
    ViewInfo("scaling", "Scaling", ("batch_size", "prompt_tokens", "decode_tokens_per_s")),
    ViewInfo("pareto", "Memory against speed, Pareto front", ("peak_memory", "decode_tokens_per_s")),
]
LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")
PDFTOTEXT = shutil.which("pdftotext")


def fake_png(path: Path, label: str) -> Path:
    image = Image.new("RGB", (1920, 1080), (225, 235, 250))
    ImageDraw.Draw(image).rectangle((0, 0, 1919, 1079), outline=(200, 0, 0), width=6)
    image.save(path)
    return path


def images_for(results: Sequence[Result], folder: Path) -> dict[str, Path]:
    """A 1920x1080 PNG per view and per model with a successful cell, as the report would."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {v.id: fake_png(folder / f"{v.id}.png", v.id) for v in VIEWS}
    for page in model_summaries(results):
        if page.ok:
            images[f"model-{page.slug}"] = fake_png(folder / f"model-{page.slug}.png", page.slug)
    return images


def make_deck(results: list[Result], out: Path, title: str = "gpuscape results", **kwargs) -> Path:
    deck = plan_deck(results, title=title, views=VIEWS, images=images_for(results, out / "images"))
    return write_deck(deck, out / "deck.pptx", **kwargs)


def slide_title(slide) -> str:
    return slide.shapes.title.text_frame.text if slide.shapes.title is not None else ""


def run_sizes(prs) -> list[float]:
    sizes = []
    for slide in prs.slides:
        for shape in slide.shapes:
            frames = [shape.text_frame] if shape.has_text_frame else []
            if shape.has_table:
                frames += [cell.text_frame for row in shape.table.rows for cell in row.cells]
            for frame in frames:
                sizes += [run.font.size.pt for p in frame.paragraphs for run in p.runs if run.text.strip()]
    return sizes


@pytest.fixture(scope="module")
def mixed() -> list[Result]:
    return mixed_results()


@pytest.fixture(scope="module")
def deck_path(tmp_path_factory, mixed) -> Path:
    return make_deck(
        mixed, tmp_path_factory.mktemp("deck"), title="gpuscape: tiny models on a CPU and an H100"
    )


def test_deck_is_16_9_with_the_slides_in_order(deck_path, mixed):
    prs = Presentation(str(deck_path))
    assert (prs.slide_width, prs.slide_height) == (SLIDE_WIDTH, SLIDE_HEIGHT)
    assert abs(prs.slide_width / prs.slide_height - 16 / 9) < 1e-3
    titles = [slide_title(s) for s in prs.slides]
    models = sorted({r.model.name for r in mixed}, key=str.lower)
    pages = -(-len(models) // FIT_ROWS_PER_SLIDE)  # the fit matrix, right after the title
    conclusion = (
        ["Where each model fits"]
        if pages == 1
        else [f"Where each model fits ({n}/{pages})" for n in range(1, pages + 1)]
    )
    assert titles == [
        "gpuscape: tiny models on a CPU and an H100",
        *conclusion,
        # a slide per hardware, measured first, then estimates (display names, never ids)
        "AMD EPYC 7B13 (measured)",
        "NVIDIA H100 SXM5 80GB (measured)",
        "NVIDIA A100 SXM4 80GB (estimated)",
        "Landscape",
        "Transfer",
        "Scaling",
        "Memory against speed, Pareto front",
        *models,
        "Methodology",
    ]
    subtitle = " ".join(
        sh.text_frame.text for sh in prs.slides[0].placeholders if sh != prs.slides[0].shapes.title
    )
    assert "2026-11-25 to 2026-11-27" in subtitle and "NVIDIA H100 80GB HBM3" in subtitle
    assert "5 models, 23 cells (2 error, 2 oom, 1 timeout)" in subtitle


def test_every_chart_is_a_1920x1080_picture_inside_the_slide(deck_path):
    prs = Presentation(str(deck_path))
    with_pictures = {}
    for slide in prs.slides:
        pictures = [sh for sh in slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        with_pictures[slide_title(slide)] = len(pictures)
        for pic in pictures:
            assert pic.image.size == (1920, 1080)
            assert pic.left >= 0 and pic.top >= 0
            assert pic.left + pic.width <= prs.slide_width and pic.top + pic.height <= prs.slide_height
            assert abs(pic.width / pic.height - 16 / 9) < 0.01
    assert [with_pictures[v.title] for v in VIEWS] == [1, 1, 1, 1]
    assert with_pictures["Mixtral (tiny)"] == 1 and with_pictures["Llama 3 (tiny)"] == 1
    assert with_pictures[XSS_NAME] == 0  # no successful cell: no chart, its failures instead
    assert with_pictures["Methodology"] == 0


def test_every_slide_has_notes_with_the_numbers(deck_path):
    prs = Presentation(str(deck_path))
    notes = {slide_title(s): s.notes_slide.notes_text_frame.text for s in prs.slides}
    assert all(text.strip() for text in notes.values())
    assert "23 cells of 5 models, 18 succeeded" in notes["gpuscape: tiny models on a CPU and an H100"]
    landscape = notes["Landscape"]
    assert "18 cells plotted of 23" in landscape and "Not plotted:" in landscape
    assert "Mixtral (tiny) — bfloat16 · batch 4 · prompt 128 · 32 new on NVIDIA H100 80GB HBM3" in landscape
    assert "7,200 tok/s" in landscape
    assert "8 experts" in notes["Mixtral (tiny)"] and "29,632,768 total" in notes["Mixtral (tiny)"]
    assert "OutOfMemoryError: oom <at> batch 4" in notes[XSS_NAME]
    assert (
        "Pareto front of GPU memory (GiB) against Decode throughput (tok/s)"
        in notes["NVIDIA H100 SXM5 80GB (measured)"]
    )
    assert "Decode throughput (tok/s): Tokens generated per second" in notes["Methodology"]


def test_text_is_never_below_18_pt(deck_path):
    sizes = run_sizes(Presentation(str(deck_path)))
    assert sizes and min(sizes) >= MIN_PT


def test_model_slide_uses_the_model_pages_words(deck_path):
    prs = Presentation(str(deck_path))
    [slide] = [s for s in prs.slides if slide_title(s) == "Mixtral (tiny)"]
    text = "\n".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
    assert "Grouped-query attention (GQA), group size 4" in text  # report.explain's wording
    assert "Experts: " in text  # a mixture of experts says so before its MLP
    assert "Parameters: 29.6 M total, 20.2 M active" in text
    assert "Fastest decode: 7,200 tok/s (bfloat16 · batch 4 · prompt 128 · 32 new)" in text


def test_failed_cells_are_counted_in_the_notes_not_repeated_on_the_slide(deck_path):
    """The chart's own note says what it leaves out (report.charts.note_text): the slide adds
    no caption repeating it; the speaker notes count it."""
    prs = Presentation(str(deck_path))
    [slide] = [s for s in prs.slides if slide_title(s) == "Landscape"]
    text = " ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
    assert text == "Landscape"
    notes = slide.notes_slide.notes_text_frame.text
    assert "5 failed cells not plotted (2 error, 2 oom, 1 timeout); 2 estimates drawn hollow." in notes


def test_a_name_with_markup_is_plain_text(deck_path):
    prs = Presentation(str(deck_path))
    titles = [slide_title(s) for s in prs.slides]
    assert XSS_NAME in titles  # python-pptx escapes it for XML; it reads back unchanged


def test_one_model_gives_a_sensible_deck(tmp_path):
    params = counted(LLAMA_TINY)
    results = [
        make_result(
            "Llama 3 (tiny)", "Llama", LLAMA_TINY, params, suite="s", device="cpu", batch=b, speed=100.0 * b
        )
        for b in (1, 2)
    ]
    prs = Presentation(str(make_deck(results, tmp_path)))
    titles = [slide_title(s) for s in prs.slides]
    assert titles == [
        "gpuscape results",
        "Where each model fits",
        "AMD EPYC 7B13 (measured)",
        *(v.title for v in VIEWS),
        "Llama 3 (tiny)",
        "Methodology",
    ]
    hardware = prs.slides[2]
    strip = " ".join(sh.text_frame.text for sh in hardware.shapes if sh.has_text_frame)
    assert "Fastest decode: Llama 3 (tiny) (float32, batch 2): 200 tok/s" in strip


def test_only_failures_still_give_a_deck(tmp_path):
    results = [
        make_result("Broken", "X", LLAMA_TINY, None, suite="s", device="cuda", batch=b, status="oom")
        for b in (1, 2)
    ]
    deck = plan_deck(results, title="t", views=VIEWS, images={})  # nothing could be charted
    prs = Presentation(str(write_deck(deck, tmp_path / "deck.pptx")))
    titles = [slide_title(s) for s in prs.slides]
    assert titles == [
        "t",
        "Where each model fits",
        *(v.title for v in VIEWS),
        "Broken",
        "Methodology",
    ]
    texts = {
        slide_title(s): " ".join(sh.text_frame.text for sh in s.shapes if sh.has_text_frame)
        for s in prs.slides
    }
    assert "Cells: 0 ok, 2 failed (2 oom)" in texts["Broken"]
    assert "could not be rendered" in texts["Landscape"]
    assert not [sh for s in prs.slides for sh in s.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]


def test_charts_take_at_least_70_percent_of_their_slides(tmp_path, mixed):
    """Pictures rendered for their box (as report.build renders the deck's) fill it: every view
    slide and every hardware slide gives its chart CHART_AREA of the slide or more, and the
    hardware slide's findings sit under the chart, inside the slide."""
    images: dict[str, Picture] = {}
    for key, lines in [*((v.id, 0) for v in VIEWS), *((f"hardware:{f}", STRIP_LINES) for f in FRAMES)]:
        w, h = chart_image_px(lines)
        path = tmp_path / f"{len(images)}.png"
        Image.new("RGB", (2 * w, 2 * h), (225, 235, 250)).save(path)
        images[key] = Picture(path, 0.0, (2 * w, 2 * h))
    deck = plan_deck(mixed, title="t", views=VIEWS, images=images, hardware=FRAMES)
    prs = Presentation(str(write_deck(deck, tmp_path / "deck.pptx")))
    charted = [s for s in prs.slides if slide_title(s) in {*FRAMES, *(v.title for v in VIEWS)}]
    assert len(charted) == len(FRAMES) + len(VIEWS)
    for slide in charted:
        [picture] = [sh for sh in slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        share = picture.width * picture.height / (SLIDE_WIDTH * SLIDE_HEIGHT)
        assert share >= CHART_AREA, (slide_title(slide), round(share, 3))
        title = slide.shapes.title
        assert title.top + title.height <= picture.top
        for shape in slide.shapes:
            assert shape.top + shape.height <= SLIDE_HEIGHT and shape.left + shape.width <= SLIDE_WIDTH
    strip = [sh for sh in charted[0].shapes if sh.has_text_frame and sh != charted[0].shapes.title]
    [picture] = [sh for sh in charted[0].shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert (
        strip
        and strip[0].top >= picture.top + picture.height
        and "Fastest decode:" in strip[0].text_frame.text
    )


FRAMES = ["AMD EPYC 7B13 (measured)", "NVIDIA H100 SXM5 80GB (measured)", "NVIDIA A100 SXM4 80GB (estimated)"]


def test_long_names_shrink_then_cut_never_below_the_minimum():
    long_name = "Llama-3.1-Nemotron-70B-Instruct-HF-AWQ-INT4-" * 6 + "end"
    width, height = Inches(6), Pt(36 * 1.2 * 2)
    fitted = fit_text([Para(long_name)], width, height, max_pt=36, min_pt=24, max_lines=2)
    assert fitted.size_pt == 24 and fitted.cut and fitted.lines == 2
    assert fitted.paras[0].text.endswith("…") and "end" not in fitted.paras[0].text
    short = fit_text([Para("Mixtral (tiny)")], width, height, max_pt=36, min_pt=24, max_lines=2)
    assert short.size_pt == 36 and not short.cut and short.lines == 1
    # more text than fits: whole paragraphs first, then the next one cut, at the minimum size
    paras = [Para("word " * 40, lead=f"Topic {i}: ") for i in range(10)]
    body = fit_text(paras, Inches(5), Inches(4), max_pt=24, min_pt=18)
    assert body.size_pt == 18 and body.cut and 1 <= len(body.paras) < 10
    assert body.lines * 18 * 1.2 <= Emu(Inches(4)).pt


def test_long_titles_and_names_fit_their_boxes(tmp_path):
    name = "An extremely long model name that keeps going " * 3 + "<script>alert(1)</script>"
    results = [
        make_result(name, "F" * 80, LLAMA_TINY, counted(LLAMA_TINY), suite="s", device="cpu"),
        make_result(name, "F" * 80, LLAMA_TINY, counted(LLAMA_TINY), suite="s", device="cpu", batch=4),
    ]
    title = "A talk title that is far too long for one slide title and goes on and on " * 3
    prs = Presentation(str(make_deck(results, tmp_path, title=title)))
    assert min(run_sizes(prs)) >= MIN_PT
    model_title = slide_title(prs.slides[7])  # after the title, the fit matrix, the CPU and the four views
    assert model_title.endswith("…") and len(model_title) < len(name)
    assert name in prs.slides[6].notes_slide.notes_text_frame.text


def test_user_template_layouts_and_theme_are_used(tmp_path):
    template = Presentation()
    template.slide_width, template.slide_height = Inches(16), Inches(9)
    template.slide_layouts[0].name = "Corporate Title"
    template.slides.add_slide(template.slide_layouts[1]).shapes.title.text = "Example slide to drop"
    path = tmp_path / "corporate.pptx"
    template.save(str(path))
    results = [
        make_result("Llama 3 (tiny)", "Llama", LLAMA_TINY, counted(LLAMA_TINY), suite="s", device="cpu")
    ]
    prs = Presentation(str(make_deck(results, tmp_path / "out", template=path)))
    assert (prs.slide_width, prs.slide_height) == (Inches(16), Inches(9))
    titles = [slide_title(s) for s in prs.slides]
    assert "Example slide to drop" not in titles and titles[0] == "gpuscape results"
    assert prs.slides[0].slide_layout.name == "Corporate Title"
    assert prs.slides[1].slide_layout.name == "Title Only"
    for slide in prs.slides:
        for shape in slide.shapes:
            assert (
                shape.left + shape.width <= prs.slide_width and shape.top + shape.height <= prs.slide_height
            )


# --------------------------------------------------------------------------- rendered pages


def _word_boxes(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Words per page with their boxes in points, from pdftotext -bbox."""
    html = subprocess.run(
        [PDFTOTEXT, "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', page
        )
        pages.append([(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in words])
    return pages


def _text_boxes(slide) -> list[tuple[float, float, float, float]]:
    boxes = []
    for shape in slide.shapes:
        if shape.has_text_frame or shape.has_table:
            boxes.append(
                (
                    Emu(shape.left).pt,
                    Emu(shape.top).pt,
                    Emu(shape.left + shape.width).pt,
                    Emu(shape.top + shape.height).pt,
                )
            )
    return boxes


@pytest.mark.skipif(not (LIBREOFFICE and PDFTOTEXT), reason="needs LibreOffice and poppler-utils")
def test_rendered_text_stays_inside_its_boxes(deck_path, tmp_path):
    """LibreOffice draws Calibri as DejaVu Sans here (the font the fitting measures with): every
    word it draws lies inside the box of the shape that holds it, and inside the slide."""
    subprocess.run(
        [
            LIBREOFFICE,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(deck_path),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    pdf = tmp_path / "deck.pdf"
    prs = Presentation(str(deck_path))
    pages = _word_boxes(pdf)
    assert len(pages) == len(prs.slides)
    slide_w, slide_h = Emu(prs.slide_width).pt, Emu(prs.slide_height).pt
    tolerance = 2.0
    for number, (slide, words) in enumerate(zip(prs.slides, pages, strict=True), start=1):
        assert words, f"slide {number} drew no text"
        boxes = _text_boxes(slide)
        for x0, y0, x1, y1, word in words:
            assert 0 <= x0 and x1 <= slide_w and 0 <= y0 and y1 <= slide_h, (number, word)
            inside = any(
                x0 >= bx0 - tolerance
                and x1 <= bx1 + tolerance
                and y0 >= by0 - tolerance
                and y1 <= by1 + tolerance
                for bx0, by0, bx1, by1 in boxes
            )
            assert inside, f"slide {number}: {word!r} at {(x0, y0, x1, y1)} is outside every text box"


# --------------------------------------------------------------------------- the site's slide view


def test_slides_page_escapes_names_and_has_one_section_per_chart(mixed):
    from markupsafe import Markup

    from report.site import Chart, slides_page

    charts = [
        Chart(XSS_NAME, Markup('<div id="chart-a"></div>')),
        Chart("Transfer", Markup('<div id="chart-b"></div>')),
    ]
    text = slides_page(mixed, title=XSS_NAME, charts=charts)
    assert "<script>alert" not in text and "</title><script>" not in text
    assert "&lt;/title&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Evil" in text
    sections = re.findall(r'<section class="gs-slide[^"]*" id="slide-(\d+)">', text)
    assert sections == ["1", "2", "3"]  # the title screen, then one per chart
    assert '<div id="chart-a"></div>' in text and "ArrowRight" in text
    assert text.startswith("---\nhide:") and "plotly: true" in text
    assert "2026-11-25 to 2026-11-27" in text


# --------------------------------------------------------------------------- end to end: python -m report slides


def write_results(results: Sequence[Result], folder: Path) -> Path:
    for result in results:
        path = folder / result.suite / f"{result.cell}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.to_json())
    return folder


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    from perf.synthetic import synthetic_results

    evil = [
        make_result(XSS_NAME, "../../etc", LLAMA_TINY, counted(LLAMA_TINY), suite="s", device="cpu", batch=b)
        for b in (1, 2)
    ]
    return write_results([*synthetic_results(36, 3, seed=1), *evil], tmp_path_factory.mktemp("results"))


@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("BROWSER_PATH"), reason="needs Chromium"
)
def test_slides_command_makes_the_deck_and_the_turn(results_dir, tmp_path):
    from report.slides_cli import main

    out = tmp_path / "slides"
    assert main([str(results_dir), "--out", str(out), "--frames", "4", "--title", "Synthetic run"]) == 0
    prs = Presentation(str(out / "deck.pptx"))
    titles = [slide_title(s) for s in prs.slides]
    assert titles[0] == "Synthetic run" and titles[-1] == "Methodology"
    assert titles[1] == "Where each model fits"
    hardware = [t for t in titles if t.endswith(("(measured)", "(estimated)"))]
    assert titles[2 : 2 + len(hardware)] == hardware and len(hardware) >= 2  # a slide per hardware
    assert titles[2 + len(hardware) : 6 + len(hardware)] == [
        "The landscape: memory, size and speed",
        "What a token costs: bytes read against speed",
        "Scaling: batch size and prompt length against throughput",
        "Memory against speed, with the Pareto front",
    ]
    assert XSS_NAME in titles
    pictures = [sh for s in prs.slides for sh in s.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    # the hardware panels, the views, and one chart per model (all four have ok cells)
    assert len(pictures) == len(hardware) + 4 + 4
    for pic in pictures:
        w, h = pic.image.size
        assert w == 1920 and h in {1080, *(2 * chart_image_px(n)[1] for n in (0, STRIP_LINES))}
        image = Image.open(io.BytesIO(pic.image.blob)).convert("L")
        assert ImageStat.Stat(image).stddev[0] > 10  # a chart was drawn, not a blank page
    assert all(s.notes_slide.notes_text_frame.text.strip() for s in prs.slides)
    gif = Image.open(out / "landscape.gif")
    assert gif.n_frames == 4 and gif.size == (1920, 1080)
    # every file stays inside --out, named by view or slug whatever the model is called
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    outputs = [f for f in files if not f.startswith(".cache/")]  # the cache names files by their hash
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", f) for f in outputs), outputs
    cached = [f for f in files if f not in outputs and f != ".cache/published.json"]
    assert all(re.fullmatch(r"\.cache/[0-9a-f]{2}/[0-9a-f]{64}\.(png|gif|mp4|pptx)", f) for f in cached), (
        cached
    )
    assert "images/model-title-script-alert-x-script-evil.png" in files


def test_slides_command_says_what_is_wrong(results_dir, tmp_path, capsys, monkeypatch):
    from report.slides_cli import main

    out = tmp_path / "slides"
    assert main([str(results_dir), "--out", str(out), "--template", str(tmp_path / "none.pptx")]) == 1
    assert "no such template file" in capsys.readouterr().err
    not_pptx = tmp_path / "corporate.pptx"
    not_pptx.write_text("not a zip")
    assert main([str(results_dir), "--out", str(out), "--template", str(not_pptx)]) == 1
    assert "not a .pptx file" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), "--out", str(out)]) == 1
    assert "missing" in capsys.readouterr().err
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    assert main([str(results_dir), "--out", str(out), "--frames", "0"]) == 2
    assert "apt-get install" in capsys.readouterr().err
    assert not out.exists() or not (out / "deck.pptx").exists()


def test_slides_page_with_the_report_charts(mixed):
    from report.site import slides_page

    text = slides_page(mixed)
    # the deck's order: the fit matrix, a landscape panel per hardware with its findings, the views
    assert (
        text.index('id="slide-fit"') < text.index('id="slide-hardware-1"') < text.index('id="slide-transfer"')
    )
    for n in (1, 2, 3):  # the CPU, the H100, the A100 estimates: one panel each
        assert f'id="slide-hardware-{n}"' in text
    for view in ("transfer", "scaling", "memory-speed"):
        assert f'id="slide-{view}"' in text
    assert 'id="slide-landscape"' not in text  # the panels are the landscape, hardware by hardware
    panel = text[text.index("<h2>NVIDIA A100 SXM4 80GB (estimated)</h2>") :]
    assert "Fastest decode: " in panel[: panel.index("</section>")]  # the title says "estimated"
    assert "<script>alert" not in text and "cdn." not in text.lower()
    assert text.count('class="gs-slide"') == 6


def test_slides_page_of_1000_cells_stays_light():
    from perf.synthetic import synthetic_results
    from report.site import slides_page

    text = slides_page(synthetic_results(1000, 50, seed=0))
    assert len(text.encode()) < 300_000  # the site's page budget, with four charts on this page
    assert '"hovertemplate":"%{fullData.name}<br>' in text.replace("\\u003c", "<").replace("\\u003e", ">")


def test_slide_view_builds_into_the_site(mixed, tmp_path):
    from report.site import SLIDES_PAGE, build_site, slides_page

    site = build_site(mixed, tmp_path, extra_pages={SLIDES_PAGE: slides_page(mixed, title=XSS_NAME)})
    html = (site / "slides.html").read_text()
    # the title, the fit matrix, three hardware panels, three views
    assert len(re.findall(r'<section class="gs-slide[^"]*" id="slide-[\w-]+">', html)) == 8
    fit = html[html.index('id="slide-fit"') : html.index('id="slide-2"')]
    assert "<table>" in fit and 'href="models/llama-3-tiny.html"' in fit  # Markdown rendered, links resolved
    assert html.count("Plotly.newPlot") == 6
    assert 'class="js-plotly-plot"' in html or "Plotly.newPlot" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "slides.html" in (site / "index.html").read_text()  # in the nav


def test_the_dark_deck_has_dark_slides_and_light_text(tmp_path, mixed):
    """--theme dark: every slide's background is the site's dark page colour and every run of
    text (tables included) is light."""
    from pptx.enum.dml import MSO_FILL

    from report.slides import DARK_BACKGROUND

    prs = Presentation(str(make_deck(mixed, tmp_path, dark=True)))
    luminance = lambda rgb: 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]  # noqa: E731
    runs = 0
    for slide in prs.slides:
        assert tuple(slide.background.fill.fore_color.rgb) == DARK_BACKGROUND
        for shape in slide.shapes:
            frames = [shape.text_frame] if shape.has_text_frame else []
            if shape.has_table:
                frames += [c.text_frame for r in shape.table.rows for c in r.cells]
            for frame in frames:
                for paragraph in frame.paragraphs:
                    for run in paragraph.runs:
                        if run.text.strip():
                            runs += 1
                            assert luminance(tuple(run.font.color.rgb)) > 200, run.text
    assert runs > 20
    light = Presentation(str(make_deck(mixed, tmp_path / "light")))
    assert light.slides[0].background.fill.type != MSO_FILL.SOLID  # light keeps the template's own


def test_model_slide_facts_are_whole_sentences_at_most_five():
    """`whole=True` (the model slides' facts) keeps whole paragraphs only: one too long for the
    box is left out, a shorter one after it still shows; never an ellipsis. A model slide lists
    at most MAX_SLIDE_FACTS facts; its notes keep every one."""
    from report.slides import MAX_SLIDE_FACTS, _model_slide

    paras = [Para("short fact.", lead="A: "), Para("word " * 400, lead="B: "), Para("another.", lead="C: ")]
    fitted = fit_text(paras, Inches(4), Inches(2), max_pt=20, min_pt=MIN_PT, whole=True)
    assert [p.lead for p in fitted.paras] == ["A: ", "C: "]
    assert not any(p.text.endswith("…") for p in fitted.paras)
    page = next(m for m in model_summaries(mixed_results()) if len(m.explanation.facts) > MAX_SLIDE_FACTS)
    slide = _model_slide(page, None)
    assert len(slide.explanation) == MAX_SLIDE_FACTS
    assert all(f"{f.topic}: " in slide.notes for f in page.explanation.facts)


def test_the_fit_matrix_keeps_one_font_size_over_its_slides(tmp_path):
    """The last slide of the matrix holds one row where the first holds five (which fit at
    18 pt only): it keeps the others' size (no jump to 22 pt that cuts its cells)."""
    from perf.synthetic import synthetic_results
    from report.slides import Deck, conclusion_slides
    from report.summary import summarize

    tables = conclusion_slides(summarize(synthetic_results(200, 6, seed=1)).fit)
    assert len(tables) == 2 and len(tables[-1].rows) == 1
    prs = Presentation(str(write_deck(Deck("t", [], "n", conclusion=tables), tmp_path / "deck.pptx")))
    sizes = [
        {r.font.size.pt for sh in s.shapes if sh.has_table for row in sh.table.rows for c in row.cells
         for p in c.text_frame.paragraphs for r in p.runs}
        for s in list(prs.slides)[1:]
    ]  # fmt: skip
    assert len(prs.slides) == 3 and all(len(s) == 1 for s in sizes) and len(set.union(*sizes)) == 1
