"""The presentation deck: results -> deck.pptx (python-pptx), 16:9, ready to present.

Slides, in order: a title slide (title, dates, hardware), the conclusion (the fit matrix,
report.fit), one slide per hardware (its panel of the landscape and its findings, report.findings,
estimated hardware labelled), one slide per view, one per model (its chart beside its fit per
hardware and the words the model page uses, from report.explain) and methodology (the metric
registry's descriptions). Every slide carries speaker notes with the numbers behind it.

A chart slide gives its chart at least CHART_AREA of the slide: the title band is narrow, and the
pictures are rendered for the box they fill (chart_image_px), without their own title.

Text never overflows its box: it is measured with DejaVu Sans (wider than Calibri and Arial,
so a fit here fits there), shrunk down to MIN_PT and, past that, cut with an ellipsis; the
full text is always in the notes. A user's .pptx can serve as the template: its slides are
dropped, its layouts and theme used.

Plain data first (`plan_deck`, no python-pptx), then `write_deck` lays it out.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import ImageFont
from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE
from pptx.util import Emu, Inches, Pt

from bench.schema import METRICS, Metric, Result, device_kind
from report.explain import Explanation
from report.findings import HardwareFindings
from report.fit import FitMatrix
from report.summary import ModelSummary, Summary, summarize
from report.text import (
    count,
    failure_reason,
    hardware_name,
    number,
    result_value,
    setting_text,
    status_counts,
)
from report.views import DECK_HARDWARE

SLIDE_WIDTH = Emu(12192000)  # 13.333 in: 16:9
SLIDE_HEIGHT = Emu(6858000)  # 7.5 in
IMAGE_PX = (1920, 1080)
MIN_PT = 18  # read from the back of a room
TITLE_PT, TITLE_MIN_PT, TITLE_LINES = 36, 24, 2
BODY_PT = 24
LINE_SPACING = 1.2  # exact line pitch, in font sizes, written into every paragraph
PARAGRAPH_GAP = 0.4  # space after a paragraph, in font sizes
MARGIN = Inches(0.4)
GAP = Inches(0.15)
INSET = Inches(0.05)
FIT_ROWS_PER_SLIDE = 5  # models per slide of the fit matrix
MAX_METHOD_SLIDES = 2
MAX_NOTE_CELLS = 40
ELLIPSIS = "…"
DECK_NAME = "deck.pptx"
DEFAULT_AXIS_METRICS = ("peak_memory", "params_total", "params_active", "decode_tokens_per_s")
# A chart slide: a one-band title, then the chart as wide as the slide's margins allow, then (on a
# hardware slide) its findings in STRIP_LINES lines at MIN_PT; the chart takes CHART_AREA or more.
CHART_TITLE_TOP, CHART_TITLE_HEIGHT = Inches(0.1), Inches(0.7)
CHART_MARGIN = Inches(0.3)  # left and right of a chart
CHART_GAP = Inches(0.1)
STRIP_LINES = 2
CHART_AREA = 0.70


# --------------------------------------------------------------------------- measuring text

REF_PX = 100  # fonts are measured at 100 px and scaled: widths are linear in the size


@functools.cache
def _font(bold: bool) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", REF_PX)
    except OSError:
        return None


@functools.cache
def _width_em(text: str, bold: bool) -> float:
    """Width of `text` in ems (font sizes); a generous estimate where DejaVu is missing."""
    font = _font(bold)
    if font is not None:
        return font.getlength(text) / REF_PX
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)  # CJK and the like take a full em
    return 0.68 * (len(text) - wide) + wide


@dataclass(frozen=True)
class Para:
    """A paragraph: an optional bold lead-in, then plain text."""

    text: str
    lead: str = ""
    bold: bool = False


@dataclass(frozen=True)
class Fitted:
    """Paragraphs as they will be written: the size that fits, and text cut where it must."""

    size_pt: int
    paras: list[Para]
    lines: int
    cut: bool  # some text was dropped (it is in the notes)


def _tokens(para: Para) -> list[tuple[str, bool]]:
    lead = [(w, True) for w in para.lead.split()]
    return lead + [(w, para.bold) for w in para.text.split()]


def _line_em(tokens: Sequence[tuple[str, bool]]) -> float:
    space = _width_em(" ", False)
    return sum(_width_em(w, b) for w, b in tokens) + space * max(0, len(tokens) - 1)


def _split_word(word: str, bold: bool, width_em: float) -> list[str]:
    """A word wider than the line, cut into pieces that fit (renderers break it too)."""
    pieces, rest = [], word
    while rest and _width_em(rest, bold) > width_em:
        cut = max(
            1, max((i for i in range(1, len(rest) + 1) if _width_em(rest[:i], bold) <= width_em), default=1)
        )
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces + ([rest] if rest else [])


def wrap(para: Para, width_em: float) -> list[list[tuple[str, bool]]]:
    """Greedy word wrap of a paragraph into lines that fit `width_em`."""
    lines: list[list[tuple[str, bool]]] = []
    current: list[tuple[str, bool]] = []
    for word, bold in _tokens(para):
        for piece in _split_word(word, bold, width_em):
            if not current or _line_em([*current, (piece, bold)]) <= width_em:
                current.append((piece, bold))
            else:
                lines.append(current)
                current = [(piece, bold)]
    if current:
        lines.append(current)
    return lines or [[]]


def _height_pt(line_counts: Sequence[int], size: float) -> float:
    gaps = max(0, len(line_counts) - 1) * PARAGRAPH_GAP * size
    return sum(line_counts) * LINE_SPACING * size + gaps


def _rebuild(lines: Sequence[Sequence[tuple[str, bool]]], para: Para) -> Para:
    """A paragraph from wrapped lines (a cut one ends with an ellipsis)."""
    words = [w for line in lines for w in line]
    lead = " ".join(w for w, b in words if b and para.lead)
    text = " ".join(w for w, b in words if not (b and para.lead))
    return Para(text=text, lead=lead + (" " if lead and text else ""), bold=para.bold)


def _cut_lines(
    lines: list[list[tuple[str, bool]]], keep: int, width_em: float
) -> list[list[tuple[str, bool]]]:
    """The first `keep` lines, the last one ending in an ellipsis that fits."""
    kept = [list(line) for line in lines[:keep]]
    last = kept[-1]
    while last and _line_em([*last[:-1], (last[-1][0] + ELLIPSIS, last[-1][1])]) > width_em:
        word, bold = last.pop()
        if len(word) > 1 and not last:
            last.append((word[:-1], bold))
    if last:
        last[-1] = (last[-1][0].rstrip(".,;:") + ELLIPSIS, last[-1][1])
    else:
        last.append((ELLIPSIS, False))
    return kept


def fit_text(
    paras: Sequence[Para],
    width: int,
    height: int,
    *,
    max_pt: int = BODY_PT,
    min_pt: int = MIN_PT,
    max_lines: int | None = None,
    whole: bool = False,
) -> Fitted:
    """The largest size from max_pt down to min_pt at which every paragraph fits the box
    (EMU, insets already taken off); at min_pt, whole paragraphs while they fit, then the
    first lines of the next one with an ellipsis (`whole`: never a cut paragraph: the ones
    that do not fit are left out, the speaker notes keep them)."""
    width_pt, height_pt = Emu(width).pt, Emu(height).pt
    for size in range(max_pt, min_pt - 1, -1):
        wrapped = [wrap(p, width_pt / size) for p in paras]
        counts = [len(w) for w in wrapped]
        if _height_pt(counts, size) <= height_pt and (max_lines is None or sum(counts) <= max_lines):
            return Fitted(size, list(paras), sum(counts), cut=False)
    size = min_pt
    pitch, gap = LINE_SPACING * size, PARAGRAPH_GAP * size
    kept: list[Para] = []
    used_pt, used_lines = 0.0, 0
    for para in paras:
        lines = wrap(para, width_pt / size)
        before = gap if kept else 0.0
        free = int((height_pt - used_pt - before) // pitch)
        if max_lines is not None:
            free = min(free, max_lines - used_lines)
        if free >= len(lines):
            kept.append(para)
        elif whole:
            continue  # a shorter paragraph after it may still fit
        elif free >= 2 or (free >= 1 and not kept):  # no paragraph cut to a lone line, unless first
            kept.append(_rebuild(_cut_lines(lines, free, width_pt / size), para))
        if free < len(lines):
            used_lines += max(0, free)
            break
        used_pt += before + len(lines) * pitch
        used_lines += len(lines)
    return Fitted(size, kept, used_lines, cut=True)


# --------------------------------------------------------------------------- deck content


@dataclass(frozen=True)
class Picture:
    """A chart's PNG on a slide; `crop_top` is the share of its height hidden at the top (the
    chart's own title, which the slide's title replaces), so the report's chart images serve
    the deck as they are."""

    path: Path
    crop_top: float = 0.0
    size: tuple[int, int] = IMAGE_PX  # the image's pixels


@dataclass(frozen=True)
class ChartSlide:
    """A view's chart filling the slide."""

    key: str
    title: str
    image: Picture | None
    notes: str


@dataclass(frozen=True)
class HardwareSlide:
    """One hardware (and how its figures were obtained): its panel of the landscape, its findings."""

    key: str  # the frame (report.fit.frame_of)
    title: str
    image: Picture | None
    findings: list[Para]  # at most STRIP_LINES short lines; the notes hold everything
    notes: str


@dataclass(frozen=True)
class ModelSlide:
    key: str
    title: str
    image: Picture | None
    explanation: list[Para]
    stats: list[Para]
    notes: str


@dataclass(frozen=True)
class TableSlide:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    widths: tuple[float, ...]  # shares of the table width
    footer: list[Para]
    notes: str


@dataclass(frozen=True)
class TextSlide:
    title: str
    paras: list[Para]
    notes: str


@dataclass
class Deck:
    """Everything on the slides, in order, as plain data."""

    title: str
    subtitle: list[str]
    title_notes: str
    conclusion: list[TableSlide] = field(default_factory=list)  # the fit matrix, right after the title
    hardware: list[HardwareSlide] = field(default_factory=list)  # one per hardware: panel and findings
    views: list[ChartSlide] = field(default_factory=list)
    models: list[ModelSlide] = field(default_factory=list)
    methodology: TextSlide | None = None

    def slide_titles(self) -> list[str]:
        """Titles in slide order (methodology may spread over more than one slide)."""
        titles = [self.title, *(c.title for c in self.conclusion), *(h.title for h in self.hardware)]
        titles += [*(v.title for v in self.views), *(m.title for m in self.models)]
        return titles + ([self.methodology.title] if self.methodology else [])


@dataclass(frozen=True)
class ViewInfo:
    """What the deck needs from a view: its id, title and the metrics on its axes."""

    id: str
    title: str
    axes: tuple[str, ...]


def _kind(results: Sequence[Result]) -> str | None:
    kinds = {device_kind(r) for r in results}
    return kinds.pop() if len(kinds) == 1 else None


def _cell_line(result: Result, metrics: Sequence[Metric]) -> str:
    where = hardware_name(result)
    if result.status != "ok":
        return f"{result.model.name} — {setting_text(result, device=False)} on {where}: {failure_reason(result, 160)}"
    values = "; ".join(f"{m.title(device_kind(result))} {result_value(m, result)}" for m in metrics)
    estimated = " (estimated)" if result.method == "estimated" else ""
    return f"{result.model.name} — {setting_text(result, device=False)} on {where}{estimated}: {values}"


def _view_slide(view: ViewInfo, results: Sequence[Result], image: Picture | None) -> ChartSlide:
    axes = [METRICS[a] for a in view.axes if a in METRICS]
    plotted = [r for r in results if r.status == "ok" and all(m.value(r) is not None for m in axes)]
    failed = [r for r in results if r.status != "ok"]
    estimated = sum(r.method == "estimated" for r in plotted)
    captions = []  # said in the notes: the chart's own note says what it leaves out
    if failed:
        captions.append(
            f"{len(failed)} failed cell{'s' if len(failed) != 1 else ''} not plotted ({status_counts(failed)})"
        )
    if estimated:
        captions.append(f"{estimated} estimate{'s' if estimated != 1 else ''} drawn hollow")
    speed = METRICS["decode_tokens_per_s"]
    ranked = sorted(plotted, key=lambda r: -(speed.value(r) or 0.0))
    notes = [f"{view.title}: {len(plotted)} cells plotted of {len(results)}."]
    if axes:
        notes.append("Axes: " + ", ".join(m.title(_kind(plotted)) for m in axes) + ".")
    notes += [_cell_line(r, axes) for r in ranked[:MAX_NOTE_CELLS]]
    if len(ranked) > MAX_NOTE_CELLS:
        notes.append(f"… and {len(ranked) - MAX_NOTE_CELLS} more cells.")
    if failed:
        notes.append("Not plotted:")
        notes += [_cell_line(r, []) for r in failed[:MAX_NOTE_CELLS]]
    if captions:
        notes.insert(1, "; ".join(captions) + ".")
    return ChartSlide(key=view.id, title=view.title, image=image, notes="\n".join(notes))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def first_sentence(text: str) -> str:
    """The first sentence of explain.py's wording (what the slide shows; the notes keep all)."""
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


# What a slide shows first when not every fact fits (the notes keep them all, in page order).
SLIDE_TOPICS_FIRST = ("Shape", "Attention", "Experts")
MAX_SLIDE_FACTS = 5  # a model slide shows at most this many facts, each whole; the notes keep them all


def _explanation_paras(explanation: Explanation) -> list[Para]:
    def rank(fact: Any) -> int:
        return (
            SLIDE_TOPICS_FIRST.index(fact.topic)
            if fact.topic in SLIDE_TOPICS_FIRST
            else len(SLIDE_TOPICS_FIRST)
        )

    facts = sorted(explanation.facts, key=rank)  # stable: the others keep the page's order
    return [Para(first_sentence(f.text), lead=f"{f.topic}: ") for f in facts[:MAX_SLIDE_FACTS]]


def _model_stats(page: ModelSummary) -> list[Para]:
    speed, memory = METRICS["decode_tokens_per_s"], METRICS["peak_memory"]
    ex = page.explanation
    stats = [Para(f"{count(ex.total)} total, {count(ex.active)} active", lead="Parameters: ")]
    failed = page.failed
    cells = f"{len(page.ok)} ok" + (f", {len(failed)} failed ({status_counts(failed)})" if failed else "")
    stats.append(Para(cells, lead="Cells: "))
    best = page.fastest
    if best is not None:
        kind = device_kind(best)
        stats.append(
            Para(
                f"{result_value(speed, best)} ({setting_text(best, device=False)}) on {hardware_name(best)}, "
                f"{memory.cpu_label if kind == 'cpu' and memory.cpu_label else memory.label} "
                f"{result_value(memory, best)}",
                lead="Fastest decode: ",
            )
        )
    if failed and not page.ok:
        stats.append(Para(failure_reason(failed[0], 200) or failed[0].status, lead="First failure: "))
    return stats


def _model_slide(page: ModelSummary, image: Picture | None) -> ModelSlide:
    metrics = [METRICS[m] for m in ("decode_tokens_per_s", "prefill_latency", "peak_memory")]
    ex = page.explanation
    notes = [f"{page.name} ({page.family}, {page.source})."]
    notes += [f"{f.topic}: {f.text}" for f in ex.facts]
    notes += ex.notes
    notes.append(f"Parameters: {ex.total:,} total, {ex.active:,} active." if ex.total and ex.active else "")
    notes += [_cell_line(r, metrics) for r in page.results[:MAX_NOTE_CELLS]]
    if len(page.results) > MAX_NOTE_CELLS:
        notes.append(f"… and {len(page.results) - MAX_NOTE_CELLS} more cells.")
    return ModelSlide(
        key=page.slug,
        title=page.name,
        image=image,
        explanation=_explanation_paras(ex),
        stats=_model_stats(page),
        notes="\n".join(n for n in notes if n),
    )


def hardware_slide(frame: str, group: HardwareFindings | None, image: Picture | None) -> HardwareSlide:
    """A hardware's slide: its panel of the landscape and, under it, its two first findings in a
    line each (a finding that would not fit whole is left to the notes, which hold them all)."""
    paras: list[Para] = []
    notes = [f"{frame}."]
    if group is not None:
        notes.append(group.cells_text)
        paras = [Para(line, lead=lead) for lead, line in group.headlines(STRIP_LINES)]
        notes += [f"{f.title}: {f.line()} ({f.measure})." for f in group.findings]
        if group.pareto:
            notes.append(f"Pareto front of {group.memory_title} against {group.speed_title}:")
            notes += [
                f"{r.model.name} — {setting_text(r, device=False)}: {result_value(METRICS['peak_memory'], r)}, "
                f"{number(group.speed.display(r))} {group.speed.unit}"
                for r in group.pareto[:MAX_NOTE_CELLS]
            ]
    else:
        notes.append("No findings: no cell that succeeded here has both a memory and a speed figure.")
    return HardwareSlide(key=frame, title=frame, image=image, findings=paras, notes="\n".join(notes))


def conclusion_slides(matrix: FitMatrix, rows_per_slide: int = FIT_ROWS_PER_SLIDE) -> list[TableSlide]:
    """The answer first: the fit matrix, a row per model, over as many slides as the models need;
    each slide's notes hold the rule and every cell of its rows in full."""
    columns = len(matrix.hardware)
    model_share = 0.2
    pages = [matrix.models[i : i + rows_per_slide] for i in range(0, len(matrix.models), rows_per_slide)]
    slides = []
    for n, models in enumerate(pages, start=1):
        notes = [
            matrix.rule,
            "Estimates are not measurements: an estimate's speed is the roofline bound x an efficiency.",
            *(f"{hw.id}: {hw.name}." for hw in matrix.hardware),
        ]
        for model in models:
            notes += [
                f"{model} on {c.hardware.name}: {c.status()}. {c.headline()}. {c.detail()}"
                for c in matrix.row(model)
            ]
        slides.append(
            TableSlide(
                title="Where each model fits" + (f" ({n}/{len(pages)})" if len(pages) > 1 else ""),
                header=("Model", *(hw.name if columns <= 3 else hw.id for hw in matrix.hardware)),
                rows=[(model, *(cell.brief() for cell in matrix.row(model))) for model in models],
                widths=(model_share, *((1 - model_share) / columns for _ in matrix.hardware)),
                footer=[
                    Para(
                        "fastest batch-1 decode that fits, ties to the higher precision; est.: an estimate, "
                        "roofline bound x efficiency, not a measurement.",
                        lead="Best setting: ",
                    )
                ],
                notes="\n".join(notes),
            )
        )
    return slides


def _methodology_slide(results: Sequence[Result], views: Sequence[ViewInfo]) -> TextSlide:
    ids = list(dict.fromkeys(a for v in views for a in v.axes if a in METRICS)) or list(DEFAULT_AXIS_METRICS)
    kind = _kind(results)
    paras = [Para(METRICS[i].description, lead=f"{METRICS[i].title(kind)}: ") for i in ids]
    protocols = Counter((p.warmup, p.repeats) for r in results if (p := r.protocol) is not None)
    notes = [f"{METRICS[i].title(kind)}: {METRICS[i].description}" for i in ids]
    if protocols:
        text = "; ".join(
            f"{w} warmup runs then {n} timed repeats ({c} cells)" for (w, n), c in sorted(protocols.items())
        )
        paras.insert(0, Para(text + "; medians reported.", lead="Protocol: "))
        notes.insert(0, f"Protocol: {text}.")
    for r in {hardware_name(r): r for r in results if r.method == "measured"}.values():
        env = r.environment
        notes.append(
            f"{hardware_name(r)}: torch {env.torch}, transformers {env.transformers}, python {env.python}"
            + (f", CUDA {env.cuda}, driver {env.driver}" if env.cuda else "")
            + "."
        )
    return TextSlide(title="Methodology", paras=paras, notes="\n".join(notes))


def plan_deck(
    results: Sequence[Result],
    *,
    title: str,
    views: Sequence[ViewInfo],
    images: Mapping[str, Path | Picture],
    summary: Summary | None = None,
    hardware: Sequence[str] | None = None,
) -> Deck:
    """Every slide's content from validated results (and their report.summary Summary, where
    the caller has it). `images` maps a view id, "model-<slug>" or "hardware:<frame>" to its
    PNG (a Picture where the chart's own title band is to be hidden or the image is not
    1920x1080); a missing image leaves the chart out. `hardware` lists the frames (hardware and
    method, report.fit.frame_of) a slide each, in order (default: those with findings)."""
    summary = summary if summary is not None else summarize(results)
    ordered = summary.results
    subtitle, title_notes = summary.measured.lines(title)
    deck = Deck(title=title, subtitle=subtitle, title_notes="\n".join(title_notes))
    if summary.fit.models and summary.fit.hardware:
        deck.conclusion = conclusion_slides(summary.fit)
    groups = {g.frame: g for g in summary.findings}
    frames = list(hardware) if hardware is not None else list(groups)
    deck.hardware = [
        hardware_slide(f, groups.get(f), _picture(images.get(f"hardware:{f}")))
        for f in frames[:DECK_HARDWARE]
    ]
    deck.views = [_view_slide(v, ordered, _picture(images.get(v.id))) for v in views]
    deck.models = [_model_slide(m, _picture(images.get(f"model-{m.slug}"))) for m in summary.models]
    deck.methodology = _methodology_slide(ordered, views)
    return deck


def _picture(image: Path | Picture | None) -> Picture | None:
    return Picture(image) if isinstance(image, Path) else image


# --------------------------------------------------------------------------- writing the pptx


def _widen_default(prs: Any) -> None:
    """python-pptx's default template is 4:3: stretch it to 16:9 and make titles one band."""
    ratio = SLIDE_WIDTH / prs.slide_width
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    for owner in [prs.slide_master, *prs.slide_layouts]:
        for shape in owner.shapes:
            if shape.left is not None and shape.width is not None:
                shape.left, shape.width = Emu(round(shape.left * ratio)), Emu(round(shape.width * ratio))
    for owner in [prs.slide_master, *prs.slide_layouts]:
        for shape in owner.placeholders:
            if shape.placeholder_format.type == PP_PLACEHOLDER.TITLE:
                shape.left, shape.top = MARGIN, Inches(0.2)
                shape.width, shape.height = SLIDE_WIDTH - 2 * MARGIN, Inches(0.95)


def _drop_slides(prs: Any, start: int = 0) -> None:
    """Remove the slides from `start` on (a template's own slides: its layouts, master and
    theme stay)."""
    ids = prs.slides._sldIdLst  # python-pptx has no public slide deletion
    for sld_id in list(ids)[start:]:
        prs.part.drop_rel(sld_id.rId)
        ids.remove(sld_id)


def open_presentation(template: Path | None) -> Any:
    """A presentation on the user's template (slides dropped) or on a 16:9 default."""
    if template is None:
        prs = Presentation()
        _widen_default(prs)
        return prs
    prs = Presentation(str(template))
    _drop_slides(prs)
    return prs


def _placeholder_types(layout: Any) -> set[Any]:
    return {p.placeholder_format.type for p in layout.placeholders}


_FURNITURE = {PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER}


def pick_layouts(prs: Any) -> tuple[Any, Any]:
    """(title layout, content layout): a layout with a centred title and a subtitle, and the
    one with a title and the fewest other placeholders ("Title Only" in most templates)."""
    layouts = list(prs.slide_layouts)
    with_title = [
        lay
        for lay in layouts
        if _placeholder_types(lay) & {PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE}
    ]
    title = next(
        (
            lay
            for lay in with_title
            if {PP_PLACEHOLDER.CENTER_TITLE, PP_PLACEHOLDER.SUBTITLE} <= _placeholder_types(lay)
        ),
        with_title[0] if with_title else layouts[0],
    )
    plain = (
        [lay for lay in with_title if PP_PLACEHOLDER.TITLE in _placeholder_types(lay)]
        or with_title
        or layouts
    )
    content = min(plain, key=lambda lay: (len(_placeholder_types(lay) - _FURNITURE), layouts.index(lay)))
    return title, content


def _set_paragraphs(text_frame: Any, fitted: Fitted, *, bold: bool = False) -> None:
    """Write fitted paragraphs: explicit size, exact line pitch, no autofit, wrap on."""
    text_frame.word_wrap = True
    text_frame.auto_size = MSO_AUTO_SIZE.NONE
    for inset in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
        setattr(text_frame, inset, INSET)
    text_frame.clear()
    for i, para in enumerate(fitted.paras):
        p = text_frame.paragraphs[0] if i == 0 else text_frame.add_paragraph()
        p.line_spacing = Pt(round(fitted.size_pt * LINE_SPACING, 1))
        p.space_after = Pt(round(fitted.size_pt * PARAGRAPH_GAP, 1)) if i < len(fitted.paras) - 1 else Pt(0)
        p.space_before = Pt(0)
        for text, is_bold in ((para.lead, True), (para.text, para.bold or bold)):
            if text:
                run = p.add_run()
                run.text = text
                run.font.size = Pt(fitted.size_pt)
                run.font.bold = is_bold


def _inner(width: int, height: int) -> tuple[int, int]:
    return width - 2 * INSET, height - 2 * INSET


def add_text(
    slide: Any,
    box: tuple[int, int, int, int],
    paras: Sequence[Para],
    *,
    max_pt: int = BODY_PT,
    whole: bool = False,
) -> Fitted:
    """A text box that holds `paras` without overflowing (`whole`: no paragraph cut, see
    fit_text); returns what was written."""
    left, top, width, height = box
    fitted = fit_text(paras, *_inner(width, height), max_pt=max_pt, whole=whole)
    shape = slide.shapes.add_textbox(left, top, width, height)
    _set_paragraphs(shape.text_frame, fitted)
    shape.text_frame.vertical_anchor = MSO_ANCHOR.TOP
    return fitted


def _title(slide: Any, text: str, *, max_pt: int = TITLE_PT) -> Fitted | None:
    shape = slide.shapes.title
    if shape is None:
        return None
    width, height = _inner(shape.width, shape.height)
    fitted = fit_text([Para(text)], width, height, max_pt=max_pt, min_pt=TITLE_MIN_PT, max_lines=TITLE_LINES)
    _set_paragraphs(shape.text_frame, fitted)
    return fitted


def _drop_empty_placeholders(slide: Any) -> None:
    for shape in list(slide.placeholders):
        if not shape.has_text_frame or not shape.text_frame.text.strip():
            shape._element.getparent().remove(shape._element)


def _content_box(prs: Any, slide: Any) -> tuple[int, int, int, int]:
    """The area below the title, inside the margins."""
    title = slide.shapes.title
    top = title.top + title.height + GAP if title is not None else MARGIN
    return MARGIN, top, prs.slide_width - 2 * MARGIN, prs.slide_height - MARGIN - top


def add_picture(
    slide: Any, image: Path | Picture, box: tuple[int, int, int, int], align: str = "center"
) -> Any:
    """The image (its top `crop_top` hidden) as large as the box allows at its own aspect
    ratio, centred (or left)."""
    picture = image if isinstance(image, Picture) else Picture(image)
    left, top, width, height = box
    w_px, h_px = picture.size[0], picture.size[1] * (1.0 - picture.crop_top)
    width_fit = min(width, round(height * w_px / h_px))
    height_fit = round(width_fit * h_px / w_px)
    x = left + (width - width_fit) // 2 if align == "center" else left
    shape = slide.shapes.add_picture(str(picture.path), x, top, width_fit, height_fit)
    if picture.crop_top:
        shape.crop_top = picture.crop_top  # the frame keeps its size and shows the rest of the image
    return shape


def _notes(slide: Any, text: str) -> None:
    slide.notes_slide.notes_text_frame.text = text


def _new_slide(prs: Any, layout: Any, title: str) -> Any:
    slide = prs.slides.add_slide(layout)
    _title(slide, title)
    return slide


def _write_title(prs: Any, layout: Any, deck: Deck) -> None:
    slide = prs.slides.add_slide(layout)
    _title(slide, deck.title, max_pt=44)
    subtitle = next(
        (
            p
            for p in slide.placeholders
            if p.placeholder_format.type in (PP_PLACEHOLDER.SUBTITLE, PP_PLACEHOLDER.BODY)
        ),
        None,
    )
    paras = [Para(line) for line in deck.subtitle]
    if subtitle is not None:
        fitted = fit_text(paras, *_inner(subtitle.width, subtitle.height), max_pt=28)
        _set_paragraphs(subtitle.text_frame, fitted)
    else:
        add_text(slide, _content_box(prs, slide), paras, max_pt=28)
    _drop_empty_placeholders(slide)
    _notes(slide, deck.title_notes)


def chart_box(strip_lines: int = 0, title_bottom: int | None = None) -> tuple[int, int, int, int]:
    """Where a chart slide's picture goes: under the title (its bottom edge; default the one
    band _new_chart_slide gives it), as wide as the margins allow, above a strip of
    `strip_lines` lines of text at MIN_PT."""
    top = (CHART_TITLE_TOP + CHART_TITLE_HEIGHT if title_bottom is None else title_bottom) + CHART_GAP
    strip = strip_height(strip_lines) + CHART_GAP if strip_lines else 0
    return CHART_MARGIN, top, SLIDE_WIDTH - 2 * CHART_MARGIN, SLIDE_HEIGHT - CHART_GAP - top - strip


def strip_height(lines: int) -> int:
    """A text strip of `lines` one-line paragraphs at MIN_PT, insets included."""
    return round(Pt(_height_pt([1] * lines, MIN_PT))) + 2 * INSET + Pt(1)


def chart_image_px(strip_lines: int = 0, width: int = IMAGE_PX[0] // 2) -> tuple[int, int]:
    """The layout size (pixels at scale 1) of a chart picture that fills chart_box exactly."""
    _, _, box_w, box_h = chart_box(strip_lines)
    return width, round(width * box_h / box_w)


def _new_chart_slide(prs: Any, layout: Any, title: str) -> tuple[Any, int]:
    """A slide whose title is one narrow band (the chart gets the rest); returns it and the
    title's bottom edge."""
    slide = prs.slides.add_slide(layout)
    shape = slide.shapes.title
    if shape is None:
        _title(slide, title)
        return slide, MARGIN
    shape.left, shape.top = CHART_MARGIN, CHART_TITLE_TOP
    shape.width, shape.height = prs.slide_width - 2 * CHART_MARGIN, CHART_TITLE_HEIGHT
    _title(slide, title)
    return slide, shape.top + shape.height


def _write_chart(prs: Any, layout: Any, chart: ChartSlide) -> None:
    _write_picture_slide(
        prs,
        layout,
        chart.title,
        chart.image,
        chart.notes,
        missing="This chart could not be rendered; the notes list its cells.",
    )


def _write_hardware(prs: Any, layout: Any, panel: HardwareSlide) -> None:
    _write_picture_slide(prs, layout, panel.title, panel.image, panel.notes, strip=panel.findings)


def _write_picture_slide(
    prs: Any,
    layout: Any,
    title: str,
    image: Picture | None,
    notes: str,
    *,
    strip: Sequence[Para] = (),
    missing: str = "This chart could not be rendered.",
) -> None:
    """A chart slide: the narrow title, the picture filling chart_box (or `missing` in its
    place), and under it `strip`, STRIP_LINES lines at MIN_PT, each paragraph whole or left out."""
    slide, title_bottom = _new_chart_slide(prs, layout, title)
    left, top, width, height = chart_box(STRIP_LINES if strip else 0, title_bottom)
    if image is not None:
        pic = add_picture(slide, image, (left, top, width, height))
        top = pic.top + pic.height + CHART_GAP
    else:
        add_text(slide, (left, top, width, height), [Para(missing)])
        top += height + CHART_GAP
    if strip:
        add_text(slide, (left, top, width, strip_height(STRIP_LINES)), strip, max_pt=MIN_PT, whole=True)
    _drop_empty_placeholders(slide)
    _notes(slide, notes)


def _write_model(prs: Any, layout: Any, model: ModelSlide) -> None:
    slide = _new_slide(prs, layout, model.title)
    left, top, width, height = _content_box(prs, slide)
    chart_w = round(width * 0.58) if model.image is not None else 0
    if model.image is not None:
        pic = add_picture(slide, model.image, (left, top, chart_w, height), align="left")
        stats_top = pic.top + pic.height + GAP
        add_text(slide, (left, stats_top, chart_w, top + height - stats_top), model.stats, max_pt=20)
        text_left = left + chart_w + GAP * 2
        add_text(
            slide,
            (text_left, top, left + width - text_left, height),
            model.explanation,
            max_pt=20,
            whole=True,
        )
    else:
        add_text(slide, (left, top, width, height), [*model.stats, *model.explanation], max_pt=BODY_PT)
    _drop_empty_placeholders(slide)
    _notes(slide, model.notes)


def _cell_text(cell: Any, text: str, size: int, *, bold: bool = False) -> None:
    for inset in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
        setattr(cell, inset, INSET)
    tf = cell.text_frame
    tf.word_wrap = True
    tf.clear()
    p = tf.paragraphs[0]
    p.line_spacing = Pt(round(size * LINE_SPACING, 1))
    run = p.add_run()
    run.text = text
    run.font.size = Pt(size)
    run.font.bold = bold


TABLE_PT = 22


def _fit_table(
    table: TableSlide, width: int, height: int, max_cell_lines: int = 2, max_pt: int = TABLE_PT
) -> tuple[int, list[tuple[str, ...]], list[int]]:
    """Font size, cell texts (cut to `max_cell_lines`) and row heights (EMU) that fit."""
    col_w = [round(width * share) - 2 * INSET for share in table.widths]
    all_rows = [table.header, *table.rows]
    for size in range(max_pt, MIN_PT - 1, -1):
        texts, heights = [], []
        for r, row in enumerate(all_rows):
            cells = []
            lines = 1
            for text, w in zip(row, col_w, strict=True):
                para = Para(text, bold=r == 0)
                fitted = fit_text(
                    [para], w, Pt(size * LINE_SPACING * max_cell_lines), max_pt=size, min_pt=size
                )
                cells.append(" ".join(p.lead + p.text for p in fitted.paras))
                lines = max(lines, fitted.lines)
            texts.append(tuple(cells))
            heights.append(round(Pt(size * LINE_SPACING * lines)) + 2 * INSET + Pt(2))
        if sum(heights) <= height or size == MIN_PT:
            return size, texts, heights
    raise AssertionError("unreachable")


def _table_box(prs: Any, slide: Any, table: TableSlide) -> tuple[int, int, int, int]:
    """Where a table slide's table goes (its footer under it)."""
    left, top, width, height = _content_box(prs, slide)
    return left, top, width, height - (Inches(1.3) if table.footer else 0)


def table_size(prs: Any, layout: Any, tables: Sequence[TableSlide]) -> int:
    """One font size for a run of table slides (the fit matrix over several slides): the size
    the fullest of them fits at, so the last, shorter slide does not switch to a larger font."""
    probe = prs.slides.add_slide(layout)
    _title(probe, "probe")
    sizes = [TABLE_PT]
    for table in tables:
        if table.rows:
            _, _, width, height = _table_box(prs, probe, table)
            sizes.append(_fit_table(table, width, height)[0])
    _drop_slides(prs, start=len(prs.slides) - 1)
    return min(sizes)


def _write_table(prs: Any, layout: Any, table: TableSlide, max_pt: int = TABLE_PT) -> None:
    slide = _new_slide(prs, layout, table.title)
    left, top, width, height = _table_box(prs, slide, table)
    if table.rows:
        size, texts, heights = _fit_table(table, width, height, max_pt=max_pt)
        rows_fit = len(texts)
        while sum(heights[:rows_fit]) > height and rows_fit > 1:
            rows_fit -= 1
        shape = slide.shapes.add_table(rows_fit, len(table.header), left, top, width, sum(heights[:rows_fit]))
        grid = shape.table
        for c, share in enumerate(table.widths):
            grid.columns[c].width = round(width * share)
        for r in range(rows_fit):
            grid.rows[r].height = heights[r]
            for c, text in enumerate(texts[r]):
                _cell_text(grid.cell(r, c), text, size, bold=r == 0)
        top += sum(heights[:rows_fit]) + GAP
    if table.footer:
        add_text(slide, (left, top, width, prs.slide_height - MARGIN - top), table.footer, max_pt=20)
    _drop_empty_placeholders(slide)
    _notes(slide, table.notes)


def _write_text(prs: Any, layout: Any, text: TextSlide) -> int:
    """The text over as many slides as it needs (at most MAX_METHOD_SLIDES); returns how many."""
    remaining = list(text.paras)
    count = 0
    while remaining and count < MAX_METHOD_SLIDES:
        count += 1
        title = text.title if count == 1 else f"{text.title} (continued)"
        slide = _new_slide(prs, layout, title)
        box = _content_box(prs, slide)
        last = count == MAX_METHOD_SLIDES
        fitted = fit_text(remaining, *_inner(box[2], box[3]), max_pt=20)
        taken = len(fitted.paras)
        if fitted.cut and not last and taken > 1 and fitted.paras[-1] != remaining[taken - 1]:
            taken -= 1  # a paragraph cut short goes whole onto the next slide instead
        add_text(slide, box, remaining[:taken], max_pt=20)
        remaining = remaining[taken:]
        _drop_empty_placeholders(slide)
        _notes(slide, text.notes)
    return count


DARK_BACKGROUND = (0x11, 0x11, 0x11)  # the site's dark page (report.build.PAGE_COLORS)
DARK_TEXT = (0xF2, 0xF5, 0xFA)


def darken(prs: Any) -> None:
    """Every slide on the site's dark page colour with light text (tables included): the
    seed talk's look, for `--theme dark`."""
    from pptx.dml.color import RGBColor

    background, text = RGBColor(*DARK_BACKGROUND), RGBColor(*DARK_TEXT)
    for slide in prs.slides:
        fill = slide.background.fill
        fill.solid()
        fill.fore_color.rgb = background
        for shape in slide.shapes:
            frames = [shape.text_frame] if shape.has_text_frame else []
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    for cell in row.cells:
                        cell.fill.solid()
                        cell.fill.fore_color.rgb = background
                        frames.append(cell.text_frame)
            for frame in frames:
                for paragraph in frame.paragraphs:
                    paragraph.font.color.rgb = text
                    for run in paragraph.runs:
                        run.font.color.rgb = text


def write_deck(
    deck: Deck, path: Path | str, *, template: Path | str | None = None, dark: bool = False
) -> Path:
    """Lay the deck out as a .pptx at `path` (written to a temporary name, then renamed);
    `dark` puts every slide on a dark background with light text (darken)."""
    prs = open_presentation(Path(template) if template else None)
    title_layout, content_layout = pick_layouts(prs)
    _write_title(prs, title_layout, deck)
    size = table_size(prs, content_layout, deck.conclusion)
    for table in deck.conclusion:
        _write_table(prs, content_layout, table, max_pt=size)
    for panel in deck.hardware:
        _write_hardware(prs, content_layout, panel)
    for chart in deck.views:
        _write_chart(prs, content_layout, chart)
    for model in deck.models:
        _write_model(prs, content_layout, model)
    if deck.methodology is not None:
        _write_text(prs, content_layout, deck.methodology)
    if dark:
        darken(prs)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.pptx")
    prs.save(str(tmp))
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------- views


def view_info(view: Any, results: Sequence[Result]) -> ViewInfo:
    """A report.views.View reduced to what the deck says about it (the metrics it actually drew)."""
    ok = [r for r in results if r.status == "ok"]
    return ViewInfo(view.name, view.title, tuple(axis.choose(ok).id for axis in view.axes()))
