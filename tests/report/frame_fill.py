"""How much of its frame a static 3D chart's scene fills, measured on the rendered PNG.

The frame is the part of the image a scene may use: between the left margin and the entry
legend, under the title band (the layout's top margin, which holds the title and the symbol
key). The scene is every pixel there that differs from the background: its grid, axis lines,
tick labels, axis titles and markers. Its bounding box over the frame's width and height are the fill ratios.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from report.export import HEIGHT, SCALE, WIDTH

BACKGROUND_TOLERANCE = 24  # a pixel this close to the background (sum of RGB differences) is empty


@dataclass(frozen=True)
class Fill:
    """A scene's bounding box in its frame (PNG pixels) and the fill ratios."""

    frame: tuple[int, int, int, int]  # left, top, right, bottom
    box: tuple[int, int, int, int]

    @property
    def width_ratio(self) -> float:
        return (self.box[2] - self.box[0]) / (self.frame[2] - self.frame[0])

    @property
    def height_ratio(self) -> float:
        return (self.box[3] - self.box[1]) / (self.frame[3] - self.frame[1])


def frame_of(layout: dict[str, Any], svg: str, scale: float = SCALE) -> tuple[int, int, int, int]:
    """The frame a figure's scene may use, in PNG pixels: from the left edge to where the
    browser put the entry legend (read from the SVG snapshot: plotly moves a legend that does not
    fit), from the top margin (under the title and key; under the hardware selector where the
    chart has one, which hangs just over the plot area) to the bottom margin."""
    margin = layout["margin"]
    found = re.search(r'<g class="legend"[^>]*transform="translate\(([-\d.]+),', svg)
    right = float(found.group(1)) if found else WIDTH - margin["r"]
    height = layout.get("height", HEIGHT)
    top, bottom = (
        round((margin["t"] + (8 if layout.get("updatemenus") else 0)) * scale),
        round((height - margin["b"]) * scale),
    )
    return (round(margin["l"] * scale), top, round(right * scale), bottom)


def scene_fill(png: bytes, svg: str, layout: dict[str, Any], scale: float = SCALE) -> Fill:
    """The fill of the scene in a rendered static 3D figure (its PNG, its SVG and its layout)."""
    from PIL import Image, ImageChops

    image = Image.open(io.BytesIO(png)).convert("RGB")
    frame = frame_of(layout, svg, scale)
    crop = image.crop(frame)
    background = Image.new("RGB", crop.size, image.getpixel((2, image.height - 2)))
    diff = ImageChops.difference(crop, background).convert("L")
    mask = diff.point(lambda v: 255 if v * 3 > BACKGROUND_TOLERANCE else 0)
    box = mask.getbbox() or (0, 0, 0, 0)
    left, top = frame[0], frame[1]
    return Fill(frame=frame, box=(box[0] + left, box[1] + top, box[2] + left, box[3] + top))
