"""Similarity between students' answers, with copydetect's winnowing.

What is compared: each student's answer cells (by nbgrader grade_id) and the code cells the
student added; never the rest of the notebook. What is ignored:
- the released notebook's code (copydetect's boilerplate: its fingerprints are dropped), and
- code most of the class shares, as MOSS does: a fingerprint found in more than
  `common_fraction` of the submissions is treated as boilerplate too (with at least
  MIN_FOR_COMMON submissions; below that "most of the class" means nothing).

copydetect tokenizes with pygments and replaces names by placeholders, so renamed variables,
added comments and reordered helpers do not hide a copy. A pair's score is the mean of the
two sides' copied fractions (copydetect's per-file similarities), 0..1.

    convgrade similarity submitted/ --assignment a1_cross_correlation [--json] [--threshold 0.5]
"""

import io
import json
import sys
from itertools import combinations
from pathlib import Path

import nbformat
import numpy as np
from tqdm import tqdm

from grader.course import assignments, notebook
from grader.course.feedback import aligned

NOISE_CHARS = 25          # copydetect's k: shorter matches are noise
GUARANTEE_CHARS = 25      # matches this long are always found (window = guarantee - noise + 1)
COMMON_FRACTION = 0.5
MIN_FOR_COMMON = 4
DEFAULT_THRESHOLD = 0.0
# Between cells: longer than a k-gram, so no fingerprint spans two cells (a student's two
# untouched stubs would otherwise match through the seam); identical everywhere, so boilerplate.
CELL_SEAM = "\n" + ";" * (NOISE_CHARS + 5) + "\n"


# -- what each student wrote ----------------------------------------------------------------

def released_code(assignment):
    """Every code cell of the released notebook: the starter code no pair is flagged for."""
    released = nbformat.read(assignments.released_notebook(assignment), as_version=4)
    return CELL_SEAM.join(c.source for c in released.cells if c.cell_type == "code")


def answer_code(nb, assignment):
    """A notebook's answer cells in notebook order, plus the code cells the student added."""
    answers = notebook.answer_ids(assignment)
    released = {c.source.strip() for c in nbformat.read(assignments.released_notebook(assignment),
                                                         as_version=4).cells}
    chunks = []
    for cell in nb.cells:
        cid = notebook.grade_id(cell)
        if cid in answers or (cid is None and cell.cell_type == "code" and cell.source.strip()
                              and cell.source.strip() not in released):
            chunks.append(cell.source)
    return CELL_SEAM.join(chunks)


def tree_answers(root, assignment):
    """{student: answer code} from a submitted/<student>/<assignment>/*.ipynb tree."""
    found = {}
    for path in sorted(Path(root).glob(f"*/{assignment}/*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        student = path.parent.parent.name
        found[student] = CELL_SEAM.join(filter(None, [found.get(student), answer_code(nb, assignment)]))
    return found


# -- comparing --------------------------------------------------------------------------------

def compare(answers, template="", threshold=DEFAULT_THRESHOLD, common_fraction=COMMON_FRACTION, progress=False):
    """[{a, b, score, lines}] for every pair scoring at least `threshold`, most similar first.

    `answers` is {student: code}; `template` is the starter code to ignore; progress: a bar of
    the pairs compared on a terminal (stderr).
    """
    boilerplate = _fingerprint(template).hashes if template.strip() else set()
    prints = {s: _fingerprint(code, boilerplate) for s, code in answers.items()}
    common = _class_common([p.hashes for p in prints.values()], common_fraction)
    if common:
        boilerplate = boilerplate | common
        prints = {s: _fingerprint(code, boilerplate) for s, code in answers.items()}
    every = list(combinations(sorted(prints), 2))
    pairs = [_pair(a, b, prints[a], prints[b]) for a, b in tqdm(every, desc="comparing", unit="pair", file=sys.stderr,
                                                                   leave=False, disable=None if progress else True)]
    pairs = [p for p in pairs if p["score"] >= threshold and p["score"] > 0]
    return sorted(pairs, key=lambda p: (-p["score"], p["a"], p["b"]))


def _fingerprint(code, boilerplate=()):
    from copydetect import CodeFingerprint

    return CodeFingerprint("answers.py", NOISE_CHARS, GUARANTEE_CHARS - NOISE_CHARS + 1,
                           boilerplate=np.array(sorted(boilerplate), dtype=np.int64),
                           language="python", fp=io.StringIO(code))


def _class_common(hash_sets, fraction):
    if len(hash_sets) < MIN_FOR_COMMON:
        return set()
    counts = {}
    for hashes in hash_sets:
        for h in hashes:
            counts[h] = counts.get(h, 0) + 1
    return {h for h, n in counts.items() if n > fraction * len(hash_sets)}


def _pair(a, b, print_a, print_b):
    from copydetect import compare_files

    _, (sim_a, sim_b), _ = compare_files(print_a, print_b)
    score = round(float(sim_a + sim_b) / 2, 4)
    return {"a": a, "b": b, "score": score, "lines": matching_lines(print_a, print_b) if score else []}


def matching_lines(print_a, print_b):
    """The matching code side by side: [{a: [first, last], b: [first, last], a_code, b_code}],
    one entry per run of shared fingerprints, in the order of a's lines: lines of the
    student's answer code (its cells in notebook order, 1-based, inclusive)."""
    spans = []
    for h in print_a.hashes & print_b.hashes:
        for i in print_a.hash_idx[h][:1]:
            for j in print_b.hash_idx[h][:1]:
                spans.append((_lines(print_a, i), _lines(print_b, j)))
    merged = []
    for span_a, span_b in sorted(spans):
        last = merged[-1] if merged else None
        if last and _touch(last[0], span_a) and _touch(last[1], span_b):
            merged[-1] = ((last[0][0], max(last[0][1], span_a[1])),
                          (min(last[1][0], span_b[0]), max(last[1][1], span_b[1])))
        else:
            merged.append((span_a, span_b))
    shown = []
    for sa, sb in merged:
        (range_a, code_a), (range_b, code_b) = _shown(print_a, sa), _shown(print_b, sb)
        if code_a and code_b:
            shown.append({"a": range_a, "b": range_b, "a_code": code_a, "b_code": code_b})
    return shown


def _touch(span, other):
    return other[0] <= span[1] + 1 and other[1] >= span[0] - 1


def _lines(fingerprint, index):
    """The raw lines (first, last) a k-gram starting at filtered `index` covers."""
    start, end = _raw_offset(fingerprint, index), _raw_offset(fingerprint, index + fingerprint.k - 1)
    code = fingerprint.raw_code
    return code.count("\n", 0, start) + 1, code.count("\n", 0, end) + 1


def _raw_offset(fingerprint, index):
    """A filtered position's place in the raw code, from copydetect's offsets table: each
    entry (position, characters removed before it). Entries for class names record the
    name's length instead (copydetect 0.5), hence the running maximum."""
    offsets = fingerprint.offsets
    if len(offsets) == 0:
        return index
    removed = np.maximum.accumulate(offsets[:, 1])
    at = np.searchsorted(offsets[:, 0], index)
    total = len(fingerprint.raw_code) - len(fingerprint.filtered_code)
    return int(index + (removed[at] if at < len(removed) else total))


SEAM_LINE = CELL_SEAM.strip("\n")


def _shown(fingerprint, span):
    """A span of the compared text as the instructor reads it: the student's code without the
    seams between cells, numbered as that code's lines (1-based, inclusive): ([first, last], code)."""
    raw = fingerprint.raw_code.split("\n")
    numbered, number = {}, 0
    for at, line in enumerate(raw, start=1):
        if line != SEAM_LINE:
            number += 1
            numbered[at] = number
    kept = [at for at in range(span[0], span[1] + 1) if at in numbered]
    if not kept:
        return [0, 0], ""
    return [numbered[kept[0]], numbered[kept[-1]]], "\n".join(raw[at - 1] for at in kept)


# -- `convgrade similarity` -----------------------------------------------------------------

def main(args):
    if args.assignment not in assignments.names():
        print(f"convgrade: there is no assignment {args.assignment!r}", file=sys.stderr)
        return 2
    answers = tree_answers(args.path, args.assignment)
    if len(answers) < 2:
        print(f"convgrade: {args.path} holds fewer than two submissions of {args.assignment} "
              "(expected <student>/<assignment>/*.ipynb)", file=sys.stderr)
        return 2
    pairs = compare(answers, released_code(args.assignment), threshold=args.threshold, progress=not args.json)
    if args.json:
        print(json.dumps({"pairs": pairs}, indent=1))
        return 0
    if pairs:
        print("\n".join(aligned([[f"{p['score']:.2f}", p["a"], p["b"], f"{len(p['lines'])} matching block(s)"]
                                 for p in pairs])))
    print(f"convgrade: {len(answers)} submissions, {len(pairs)} pair(s) at or above {args.threshold:g}",
          file=sys.stderr)
    return 0
