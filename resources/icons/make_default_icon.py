"""Draw Kiln's default app icon (kiln-default.png, 1024x1024): a flame on a warm rounded square.

    python resources/icons/make_default_icon.py

Drawn at 4x and scaled down for smooth edges. Deterministic: the same Pillow gives the same PNG, which is
committed so builds never need to run this.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024
SCALE = 4  # supersampling factor
OUT = Path(__file__).resolve().parent / "kiln-default.png"


def _gradient(side: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    column = Image.new("RGB", (1, side))
    for y in range(side):
        t = y / (side - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return column.resize((side, side))


def _flame(cx: float, base_y: float, height: float, width: float, sway: float) -> list[tuple[float, float]]:
    """A teardrop pointing up whose tip leans sideways, as a closed polygon."""
    points = []
    steps = 720
    for i in range(steps):
        t = 2 * math.pi * i / steps
        x = math.sin(t) * math.sin(t / 2) ** 1.6  # 0 at the tip (t=0), widest near the bottom
        y = math.cos(t)  # 1 = tip, -1 = bottom
        up = (y + 1) / 2
        x += sway * up**3  # lean grows towards the tip
        points.append((cx + x * width, base_y - (up * height)))
    return points


def draw() -> Image.Image:
    side = SIZE * SCALE
    margin = round(side * 0.06)
    radius = round(side * 0.2)
    shape = Image.new("L", (side, side), 0)
    ImageDraw.Draw(shape).rounded_rectangle((margin, margin, side - margin, side - margin), radius, fill=255)
    icon = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    icon.paste(_gradient(side, (246, 120, 52), (150, 36, 24)), (0, 0), shape)

    draw = ImageDraw.Draw(icon)
    # The kiln's arched mouth, a darker band the flame stands in.
    mouth = (side * 0.24, side * 0.56, side * 0.76, side * 0.98)
    draw.pieslice(mouth, 180, 360, fill=(92, 22, 16, 255))
    draw.rectangle((side * 0.24, side * 0.77, side * 0.76, side * 0.81), fill=(92, 22, 16, 255))
    cx = side * 0.5
    draw.polygon(_flame(cx, side * 0.80, side * 0.62, side * 0.25, 0.35), fill=(255, 246, 232, 255))
    draw.polygon(_flame(cx, side * 0.80, side * 0.34, side * 0.13, 0.25), fill=(255, 190, 60, 255))
    # The hearth line.
    draw.rounded_rectangle(
        (side * 0.18, side * 0.80, side * 0.82, side * 0.845), round(side * 0.02), fill=(255, 246, 232, 255)
    )
    return icon.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    draw().save(OUT, format="PNG", optimize=False, compress_level=9)
    print(f"wrote {OUT.name}")


if __name__ == "__main__":
    main()
