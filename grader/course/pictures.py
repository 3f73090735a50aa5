"""Pictures of a failed check: what was expected against what came back, as small 2-D maps.

A failed check may carry `expected` and `got` (docs/reference.md): nested lists of numbers,
only for inputs the student may see. `picture(test)` turns them into the one model every
surface draws: the student page draws it as three heatmaps (expected, got, difference), the
terminal as a grid of numbers (`grid_lines`). The Lab panel draws the same fields with the
same rules in TypeScript (labextension/src/pictures.ts). Nothing here depends on a check's
name: any failed check that carries the two fields gets its picture.

Values are numbers; NaN and infinities may come as the strings "NaN", "Infinity" and
"-Infinity" (JSON has no literal for them), and are drawn as such. Standard library only:
`convgrade submit` on a student's machine draws with it too.
"""

import math
from dataclasses import dataclass

# Two cells differ when they are not close at this tolerance (NaN matches NaN, an infinity
# itself): loose enough that the rounding of the carried values marks nothing.
RTOL = 1e-4
ATOL = 1e-4
MAX_CELLS = 400    # a larger map is not a picture a student reads; the message has the numbers

# Colour-blind-safe palettes: viridis (sequential) for values, blue-white-orange (diverging,
# after ColorBrewer's PuOr) for the difference; both read the same in grey.
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
           "#b5de2b", "#fde725")
DIVERGING = ("#2d004b", "#542788", "#8073ac", "#b2abd2", "#d8daeb", "#f7f7f7", "#fee0b6", "#fdb863",
             "#e08214", "#b35806", "#7f3b08")
NOT_A_NUMBER = "#9e9e9e"


@dataclass
class Cell:
    value: float
    colour: str
    differs: bool

    @property
    def text(self):
        return number_text(self.value)

    @property
    def ink(self):
        """The colour of text written on the cell: black on light colours, white on dark."""
        return "#000000" if luminance(self.colour) > 0.4 else "#ffffff"


@dataclass
class Heatmap:
    title: str      # "expected", "got" or "difference" (got - expected)
    rows: list      # of lists of Cell

    @property
    def shape(self):
        return (len(self.rows), len(self.rows[0]) if self.rows else 0)


@dataclass
class Picture:
    maps: list      # expected, got, and the difference when the shapes agree
    sentence: str   # what the picture shows, in one sentence


def picture(test):
    """The picture of a failed check, or None when it carries no expected/got 2-D maps."""
    if test.get("status") == "passed":
        return None
    expected, got = as_grid(test.get("expected")), as_grid(test.get("got"))
    if expected is None or got is None:
        return None
    finite = [v for grid in (expected, got) for row in grid for v in row if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    if shape(expected) != shape(got):
        sentence = (f"The shapes differ: expected {shape_text(expected)}, got {shape_text(got)}, "
                    f"so there is no cell-by-cell difference.")
        return Picture([value_map("expected", expected, low, high, lambda i, j: False),
                        value_map("got", got, low, high, lambda i, j: False)], sentence)
    differs = [[not close(e, g) for e, g in zip(erow, grow)] for erow, grow in zip(expected, got)]
    count = sum(map(sum, differs))
    sentence = (f"{count} of {len(expected) * len(expected[0])} cells differ ({shape_text(expected)}); "
                f"the difference is got - expected.")
    return Picture([value_map("expected", expected, low, high, lambda i, j: differs[i][j]),
                    value_map("got", got, low, high, lambda i, j: differs[i][j]),
                    difference_map(expected, got, differs)], sentence)


def as_grid(value):
    """A 2-D list of floats from a number, a row or a matrix; None for anything else."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = [[value]]
    elif isinstance(value, list) and value and not isinstance(value[0], list):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        return None
    if len({len(row) for row in value}) != 1 or not value[0] or len(value) * len(value[0]) > MAX_CELLS:
        return None
    try:
        return [[number(v) for v in row] for row in value]
    except (TypeError, ValueError):
        return None


def number(v):
    if isinstance(v, bool) or isinstance(v, list):
        raise TypeError(v)
    return float("nan") if v is None else float(v)


def close(expected, got):
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return expected == got
    return abs(got - expected) <= ATOL + RTOL * abs(expected)


def value_map(title, grid, low, high, marked):
    return Heatmap(title, [[Cell(v, sequential(v, low, high), marked(i, j)) for j, v in enumerate(row)]
                           for i, row in enumerate(grid)])


def difference_map(expected, got, differs):
    # a cell that matches is 0 (inf - inf would be nan); one that does not is got - expected
    diffs = [[g - e if different else 0.0 for e, g, different in zip(erow, grow, drow)]
             for erow, grow, drow in zip(expected, got, differs)]
    finite = [abs(d) for row in diffs for d in row if math.isfinite(d)]
    scale = max(finite) if finite else 0.0
    return Heatmap("difference",
                   [[Cell(d, diverging(d, scale), differs[i][j]) for j, d in enumerate(row)]
                    for i, row in enumerate(diffs)])


def sequential(v, low, high):
    if math.isnan(v):
        return NOT_A_NUMBER
    t = 0.5 if high <= low else (min(max(v, low), high) - low) / (high - low)
    return VIRIDIS[round(t * (len(VIRIDIS) - 1))]


def diverging(d, scale):
    if math.isnan(d):
        return NOT_A_NUMBER
    t = 0.5 if scale <= 0 else 0.5 + max(-scale, min(d, scale)) / (2 * scale)
    return DIVERGING[round(t * (len(DIVERGING) - 1))]


def shape(grid):
    return (len(grid), len(grid[0]))


def shape_text(grid):
    return "{} x {}".format(*shape(grid))


def number_text(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}" if v != 0 else "0"


def luminance(colour):
    red, green, blue = (int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def grid_lines(pic):
    """The terminal's picture: expected and got side by side as columns of numbers, each
    differing cell followed by `*` (plain text: no colours on a pipe)."""
    expected, got = pic.maps[0], pic.maps[1]
    width = 2 + max(len(c.text) for m in (expected, got) for row in m.rows for c in row)
    blocks = [[f"{m.title}:"] + [" ".join(cell_text(c, width) for c in row) for row in m.rows]
              for m in (expected, got)]
    left = max(len(line) for line in blocks[0])
    height = max(len(b) for b in blocks)
    lines = [(blocks[0][k] if k < len(blocks[0]) else "").ljust(left) + "   |   " +
             (blocks[1][k] if k < len(blocks[1]) else "") for k in range(height)]
    marked = any(c.differs for row in got.rows for c in row)
    return [line.rstrip() for line in lines] + [pic.sentence + (" (* marks them)" if marked else "")]


def cell_text(cell, width):
    return (cell.text + ("*" if cell.differs else " ")).rjust(width)
