"""chart.png: the headline ratios rinit/peer as horizontal bars on a log scale.
Standard library only (zlib + struct for the PNG, a 5x7 bitmap font)."""
import math
import struct
import zlib

from .report import fmt_number

_FONT_SRC = """
A .###. #...# #...# ##### #...# #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ####. #...# #...# #...# #...# #...# ####.
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
0 .###. #...# #..## #.#.# ##..# #...# .###.
1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
2 .###. #...# ....# ...#. ..#.. .#... #####
3 ##### ...#. ..#.. ...#. ....# #...# .###.
4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
5 ##### #.... ####. ....# ....# #...# .###.
6 ..##. .#... #.... ####. #...# #...# .###.
7 ##### ....# ...#. ..#.. .#... .#... .#...
8 .###. #...# #...# .###. #...# #...# .###.
9 .###. #...# #...# .#### ....# ...#. .##..
. ..... ..... ..... ..... ..... .##.. .##..
, ..... ..... ..... ..... .##.. ..#.. .#...
: ..... .##.. .##.. ..... .##.. .##.. .....
- ..... ..... ..... ##### ..... ..... .....
+ ..... ..#.. ..#.. ##### ..#.. ..#.. .....
/ ..... ....# ...#. ..#.. .#... #.... .....
( ...#. ..#.. .#... .#... .#... ..#.. ...#.
) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
% ##... ##..# ...#. ..#.. .#... #..## ...##
< ...#. ..#.. .#... #.... .#... ..#.. ...#.
> .#... ..#.. ...#. ....# ...#. ..#.. .#...
= ..... ..... ##### ..... ##### ..... .....
_ ..... ..... ..... ..... ..... ..... #####
' ..#.. ..#.. .#... ..... ..... ..... .....
? .###. #...# ....# ...#. ..#.. ..... ..#..
! ..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..
# .#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.
* ..... ..#.. #.#.# .###. #.#.# ..#.. .....
"""
FONT = {ln[0]: ln[2:].split() for ln in _FONT_SRC.strip().splitlines()}
FONT[" "] = ["....."] * 7
FONT["×"] = FONT["X"]
FONT["–"] = FONT["-"]
FONT["→"] = FONT[">"]

WHITE, BLACK, GREY, LIGHT = (255, 255, 255), (30, 30, 30), (120, 120, 120), (225, 225, 225)
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75)]


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(WHITE * (w * h))

    def rect(self, x0, y0, x1, y1, c):
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        if x1 <= x0:
            return
        line = bytes(c) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.w + x0) * 3
            self.px[i:i + len(line)] = line

    def text(self, x, y, s, c=BLACK, scale=2):
        for ch in s.upper():
            g = FONT.get(ch, FONT["?"])
            for r, bits in enumerate(g):
                for col, b in enumerate(bits):
                    if b == "#":
                        self.rect(x + col * scale, y + r * scale,
                                  x + (col + 1) * scale, y + (r + 1) * scale, c)
            x += 6 * scale
        return x

    def png(self, path):
        raw = b"".join(b"\0" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(tag, data):
            return (struct.pack(">I", len(data)) + tag + data +
                    struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" +
                    chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)) +
                    chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_w(s, scale=2):
    return 6 * scale * len(s)


def draw(path, res, title):
    """One group of bars per headline metric (rows with a chart label and at
    least one ratio), one bar per peer; x = rinit/peer on a log scale, bars
    start at 1 (rinit = peer)."""
    groups = [(r["chart"], r["ratios"]) for r in res["rows"] if r["chart"] and r["ratios"]]
    peers = []
    for _, rat in groups:
        for n in rat:
            if n not in peers:
                peers.append(n)
    finite = [v for _, rat in groups for v in rat.values()
              if v not in ("never", 0.0, float("inf"))]
    lo = math.floor(math.log10(min(finite + [0.5])))
    hi = math.ceil(math.log10(max(finite + [2.0])))
    lo, hi = max(lo, -6), min(hi, 4)
    bar_h, gap = 16, 14
    label_w, left, right = 20 * 12, 20 * 12 + 30, 150
    plot_w = 640
    top = 70
    heights = [len(rat) * (bar_h + 3) + gap for _, rat in groups]
    h = top + sum(heights) + 90
    w = left + plot_w + right
    cv = Canvas(w, h)
    cv.text(12, 12, title, BLACK, 2)
    cv.text(12, 36, "rinit/peer of the medians, log scale: left of 1 = rinit is smaller/faster",
            GREY, 2)

    def x_of(v):
        v = min(max(v, 10.0 ** lo), 10.0 ** hi)
        return left + int((math.log10(v) - lo) / (hi - lo) * plot_w)

    bottom = top + sum(heights)
    for d in range(lo, hi + 1):  # grid
        x = x_of(10.0 ** d)
        cv.rect(x, top - 4, x + 1, bottom, LIGHT if d != 0 else BLACK)
        lab = f"{10.0 ** d:g}" if d < 0 else f"{10 ** d:,}"
        cv.text(x - text_w(lab) // 2, bottom + 6, lab, GREY, 2)
    x1 = x_of(1.0)
    y = top
    for (label, rat), gh in zip(groups, heights):
        cv.text(12, y + 2, label[:20], BLACK, 2)
        for n in peers:
            if n not in rat:
                continue
            v = rat[n]
            c = COLORS[peers.index(n) % len(COLORS)]
            if v == "never":
                v = 0.0
            xv = x_of(v if v != 0 else 10.0 ** lo)
            cv.rect(min(x1, xv), y, max(x1, xv) + 1, y + bar_h, c)
            txt = "never" if v == 0 else ("inf" if v == float("inf") else fmt_number(v))
            tx = xv + 6 if v >= 1 else xv - text_w(txt) - 6
            if tx < left:
                tx = max(x1, xv) + 6
            cv.text(tx, y + 1, txt, c, 2)
            y += bar_h + 3
        y += gap
        cv.rect(left, y - gap // 2, left + plot_w, y - gap // 2 + 1, LIGHT)
    ly = bottom + 34  # legend
    lx = 12
    cv.text(lx, ly + 2, "peer:", BLACK, 2)
    lx += text_w("peer: ")
    for i, n in enumerate(peers):
        c = COLORS[i % len(COLORS)]
        cv.rect(lx, ly, lx + 18, ly + 18, c)
        lx = cv.text(lx + 24, ly + 2, n, BLACK, 2) + 20
    cv.png(path)
