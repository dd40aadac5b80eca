"""What a report chart shows, read back from its PNG: the pixels drawn in a series' colour.

Axes, grid, title and labels are black, grey or white; only a plotted series (or its legend
sample) is drawn in the colour cycle, so a chart without data has none of these pixels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib import colors, rcParams
from PIL import Image

TOLERANCE = 24  # per RGB channel: the core of an antialiased line, not its blended edge


def series_colour(index: int = 0) -> tuple[int, int, int]:
    """The RGB colour matplotlib gives the index-th series of a chart."""
    cycle = rcParams["axes.prop_cycle"].by_key()["color"]
    red, green, blue = (round(255 * c) for c in colors.to_rgb(cycle[index]))
    return red, green, blue


def series_pixels(png: Path | bytes, index: int = 0) -> int:
    """How many pixels of the chart are (nearly) the index-th series' colour."""
    source = png if isinstance(png, Path) else io.BytesIO(png)
    with Image.open(source) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    distance = np.abs(pixels - np.array(series_colour(index))).max(axis=2)
    return int((distance <= TOLERANCE).sum())
