/**
 * A failed check's feedback beyond its message, in the Grade panel: the diagnosis, the
 * instructor's note, the course's hint, and expected against got as three heatmaps (expected, got, difference)
 * with the differing cells marked. The same fields and rules as the student page and
 * `convgrade submit` (grader/course/pictures.py); no check is named here: any failed check
 * that carries `expected` and `got` gets its picture.
 */
import { ICheck } from './api';

const SVG = 'http://www.w3.org/2000/svg';
const CELL = 40;
// Two cells differ when they are not close at this tolerance (NaN matches NaN).
const RTOL = 1e-4;
const ATOL = 1e-4;
const MAX_CELLS = 400;
// Colour-blind-safe: viridis for values, purple-white-orange (ColorBrewer PuOr) for the difference.
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58',
  '#b5de2b', '#fde725'];
const DIVERGING = ['#2d004b', '#542788', '#8073ac', '#b2abd2', '#d8daeb', '#f7f7f7', '#fee0b6', '#fdb863',
  '#e08214', '#b35806', '#7f3b08'];
const NOT_A_NUMBER = '#9e9e9e';

type Grid = number[][];

function flat<T>(grid: T[][]): T[] {
  return ([] as T[]).concat(...grid);
}

interface IHeatmap {
  title: string;
  values: Grid;
  colours: string[][];
  differs: boolean[][];
}

/** The diagnosis, the instructor's note, the hint and the picture of one failed check, as elements. */
export function checkFeedback(check: ICheck): HTMLElement[] {
  const parts: HTMLElement[] = [];
  if (check.diagnosis) {
    const diagnosis = el('div', 'convgrade-diagnosis');
    diagnosis.append(el('b', '', 'Diagnosis: '), check.diagnosis);
    parts.push(diagnosis);
  }
  if (check.comment) {
    const comment = el('div', 'convgrade-comment');
    comment.append(el('b', '', "Your instructor's note: "), check.comment);
    parts.push(comment);
  }
  if (check.hint) {
    const hint = el('div', 'convgrade-hint');
    hint.append(el('b', '', 'Hint: '), check.hint);
    parts.push(hint);
  }
  const picture = drawPicture(check);
  if (picture) {
    parts.push(picture);
  }
  return parts;
}

/** expected, got and (same shapes) their difference side by side; null without the fields. */
export function drawPicture(check: ICheck): HTMLElement | null {
  const expected = asGrid(check.expected);
  const got = asGrid(check.got);
  if (check.status === 'passed' || !expected || !got) {
    return null;
  }
  const finite = [...flat(expected), ...flat(got)].filter(Number.isFinite);
  const low = finite.length ? Math.min(...finite) : 0;
  const high = finite.length ? Math.max(...finite) : 0;
  const sequential = (g: Grid) => g.map(row => row.map(v => sequentialColour(v, low, high)));
  const box = el('div', 'convgrade-picture');
  box.dataset.check = check.number;
  const maps: IHeatmap[] = [];
  let sentence: string;
  if (shapeText(expected) !== shapeText(got)) {
    const none = (g: Grid) => g.map(row => row.map(() => false));
    maps.push({ title: 'expected', values: expected, colours: sequential(expected), differs: none(expected) });
    maps.push({ title: 'got', values: got, colours: sequential(got), differs: none(got) });
    sentence = `The shapes differ: expected ${shapeText(expected)}, got ${shapeText(got)}, so there is no cell-by-cell difference.`;
  } else {
    const differs = expected.map((row, i) => row.map((e, j) => !close(e, got[i][j])));
    const diff = expected.map((row, i) => row.map((e, j) => (differs[i][j] ? got[i][j] - e : 0)));
    const scale = Math.max(0, ...flat(diff).filter(Number.isFinite).map(Math.abs));
    maps.push({ title: 'expected', values: expected, colours: sequential(expected), differs });
    maps.push({ title: 'got', values: got, colours: sequential(got), differs });
    maps.push({
      title: 'difference',
      values: diff,
      colours: diff.map(row => row.map(d => divergingColour(d, scale))),
      differs
    });
    const count = flat(differs).filter(Boolean).length;
    sentence = `${count} of ${expected.length * expected[0].length} cells differ (${shapeText(expected)}); the difference is got - expected. Differing cells have a thick outline; hover over a cell for its value.`;
  }
  const row = box.appendChild(el('div', 'convgrade-heatmaps'));
  for (const map of maps) {
    row.appendChild(heatmap(map));
  }
  box.appendChild(el('div', 'convgrade-picture-sentence', sentence));
  return box;
}

function heatmap(map: IHeatmap): HTMLElement {
  const rows = map.values.length;
  const cols = map.values[0].length;
  const name = map.title;
  const figure = el('figure', 'convgrade-heatmap');
  figure.dataset.map = name;
  figure.appendChild(el('figcaption', '', name));
  const svg = figure.appendChild(svgEl('svg', { viewBox: `0 0 ${CELL * cols} ${CELL * rows}`, role: 'img' }));
  svg.setAttribute('aria-label', `${map.title}, ${rows} by ${cols}`);
  map.values.forEach((row, i) =>
    row.forEach((v, j) => {
      const text = numberText(v);
      const differs = map.differs[i][j];
      const cell = svg.appendChild(svgEl('g', { class: differs ? 'convgrade-cell convgrade-differs' : 'convgrade-cell' }));
      cell.setAttribute('data-row', String(i));
      cell.setAttribute('data-col', String(j));
      cell.setAttribute('data-value', text);
      cell.appendChild(svgEl('title', {})).textContent = `${name} [${i}, ${j}] = ${text}${differs ? ' (differs)' : ''}`;
      const [x, y] = [CELL * j, CELL * i];
      cell.appendChild(svgEl('rect', { x, y, width: CELL, height: CELL, fill: map.colours[i][j] }));
      if (differs) {
        cell.appendChild(svgEl('rect', { class: 'convgrade-mark', x: x + 2, y: y + 2, width: CELL - 4, height: CELL - 4, fill: 'none' }));
        cell.appendChild(svgEl('rect', { class: 'convgrade-mark-inner', x: x + 5, y: y + 5, width: CELL - 10, height: CELL - 10, fill: 'none' }));
      }
      const label = cell.appendChild(svgEl('text', {
        x: x + CELL / 2, y: y + CELL / 2 + 4, fill: ink(map.colours[i][j]), 'text-anchor': 'middle',
        'font-size': text.length < 6 ? 11 : 8
      }));
      label.textContent = text;
    })
  );
  return figure;
}

/** A 2-D array of numbers from a number, a row or a matrix; null for anything else. NaN and
 * infinities may come as the strings "NaN", "Infinity", "-Infinity" (JSON has no literal). */
export function asGrid(value: unknown): Grid | null {
  if (typeof value === 'number' || typeof value === 'string') {
    value = [[value]];
  } else if (Array.isArray(value) && value.length && !Array.isArray(value[0])) {
    value = [value];
  }
  if (!Array.isArray(value) || !value.length || !value.every(Array.isArray)) {
    return null;
  }
  const width = (value[0] as unknown[]).length;
  if (!width || value.some(row => row.length !== width) || value.length * width > MAX_CELLS) {
    return null;
  }
  const grid = (value as unknown[][]).map(row => row.map(toNumber));
  return grid.some(row => row.some(v => v === undefined)) ? null : (grid as Grid);
}

function toNumber(v: unknown): number | undefined {
  if (v === null) {
    return NaN;
  }
  if (typeof v === 'number') {
    return v;
  }
  if (typeof v !== 'string') {
    return undefined;
  }
  const word = v.trim().toLowerCase().replace(/^\+/, '');
  const special: Record<string, number> = { nan: NaN, inf: Infinity, infinity: Infinity, '-inf': -Infinity, '-infinity': -Infinity };
  if (word in special) {
    return special[word];
  }
  const n = Number(word);
  return word === '' || isNaN(n) ? undefined : n;
}

function close(e: number, g: number): boolean {
  if (isNaN(e) || isNaN(g)) {
    return isNaN(e) && isNaN(g);
  }
  if (!Number.isFinite(e) || !Number.isFinite(g)) {
    return e === g;
  }
  return Math.abs(g - e) <= ATOL + RTOL * Math.abs(e);
}

function sequentialColour(v: number, low: number, high: number): string {
  if (isNaN(v)) {
    return NOT_A_NUMBER;
  }
  const t = high <= low ? 0.5 : (Math.min(Math.max(v, low), high) - low) / (high - low);
  return VIRIDIS[Math.round(t * (VIRIDIS.length - 1))];
}

function divergingColour(d: number, scale: number): string {
  if (isNaN(d)) {
    return NOT_A_NUMBER;
  }
  const t = scale <= 0 ? 0.5 : 0.5 + Math.max(-scale, Math.min(d, scale)) / (2 * scale);
  return DIVERGING[Math.round(t * (DIVERGING.length - 1))];
}

/** Black on light colours, white on dark ones. */
function ink(colour: string): string {
  const [r, g, b] = [1, 3, 5].map(k => parseInt(colour.slice(k, k + 2), 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 ? '#000000' : '#ffffff';
}

/** As grader/course/pictures.py number_text: 4 significant digits, nan, inf, -inf. */
export function numberText(v: number): string {
  if (isNaN(v)) {
    return 'nan';
  }
  if (!Number.isFinite(v)) {
    return v > 0 ? 'inf' : '-inf';
  }
  return v === 0 ? '0' : formatG(v);
}

/** Python's '{:.4g}': 4 significant digits, trailing zeros dropped, exponent outside 1e-4..1e4. */
function formatG(v: number): string {
  const exponent = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(4)))));
  if (exponent < -4 || exponent >= 4) {
    const [mantissa, power] = v.toExponential(3).split('e');
    const sign = power.startsWith('-') ? '-' : '+';
    const digits = power.replace(/^[+-]/, '').padStart(2, '0');
    return `${stripZeros(mantissa)}e${sign}${digits}`;
  }
  return stripZeros(v.toFixed(Math.max(0, 3 - exponent)));
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function shapeText(g: Grid): string {
  return `${g.length} x ${g[0].length}`;
}

/** An element with a class and, when given, its text (set as text: never parsed as HTML). */
export function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function svgEl(tag: string, attributes: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  return node;
}
