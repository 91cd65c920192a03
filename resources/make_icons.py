"""Draw Meadow's tray and window icons as small SVG files (run: python resources/make_icons.py).

One icon per state the tray shows; the colour tells the state at a glance and the glyph tells it without
colour (for colour-blind users and monochrome tray themes).
"""
from __future__ import annotations

from pathlib import Path

SPROUT = ('<path d="M32 50 V30" stroke="#fff" stroke-width="5" stroke-linecap="round" fill="none"/>'
          '<path d="M32 32 C32 20 22 14 13 15 C13 26 21 33 32 32 Z" fill="#fff"/>'
          '<path d="M32 28 C33 18 41 12 51 13 C51 23 43 29 32 28 Z" fill="#fff"/>')
PAUSE_BARS = ('<rect x="21" y="18" width="8" height="28" rx="2" fill="#fff"/>'
              '<rect x="35" y="18" width="8" height="28" rx="2" fill="#fff"/>')
GAMEPAD = ('<rect x="12" y="22" width="40" height="22" rx="11" fill="#fff"/>'
           '<path d="M22 28 v10 M17 33 h10" stroke="#6a3fb5" stroke-width="3.5" stroke-linecap="round"/>'
           '<circle cx="40" cy="30" r="2.8" fill="#6a3fb5"/><circle cx="45" cy="36" r="2.8" fill="#6a3fb5"/>')
DOTS = ''.join(f'<circle cx="{x}" cy="32" r="4.5" fill="#fff"/>' for x in (19, 32, 45))
BANG = ('<rect x="28.5" y="14" width="7" height="24" rx="3" fill="#fff"/>'
        '<circle cx="32" cy="47" r="4.2" fill="#fff"/>')
STOP_SPROUT = SPROUT.replace("#fff", "#f2f2f2")

ICONS = {  # file stem: (background colour, glyph)
    "meadow": ("#2f9e44", SPROUT),
    "serving": ("#2f9e44", SPROUT),
    "starting": ("#e0a100", DOTS),
    "paused": ("#1c7ed6", PAUSE_BARS),
    "gaming": ("#6a3fb5", GAMEPAD),
    "stopped": ("#868e96", STOP_SPROUT),
    "error": ("#e03131", BANG),
}


def svg(background: str, glyph: str) -> str:
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            f'<circle cx="32" cy="32" r="30" fill="{background}"/>{glyph}</svg>\n')


def main() -> None:
    folder = Path(__file__).resolve().parent / "icons"
    folder.mkdir(exist_ok=True)
    for stem, (background, glyph) in ICONS.items():
        (folder / f"{stem}.svg").write_text(svg(background, glyph), encoding="utf-8")


if __name__ == "__main__":
    main()
