/**
 * The result side panel: score per exercise with a link to its answer cell, each failed
 * check's message, the assignment's deadline and the student's earlier submissions.
 * Everything the grader or the student wrote is set as text, never as HTML.
 */
import { Widget } from '@lumino/widgets';

import { ICheck, IDeadlines, IExercise, IOverview, ISubmission } from './api';
import { checkFeedback, el } from './pictures';

/** Called with an exercise name when the student clicks "go to answer". */
export type GoToExercise = (exercise: string) => void;

export class ResultPanel extends Widget {
  constructor() {
    super();
    this.id = 'convgrade-panel';
    this.addClass('convgrade-panel');
    this.title.label = 'Grade';
    this.title.caption = 'convgrade: your grading feedback';
    this.node.appendChild(el('h2', 'convgrade-title', 'Grading feedback'));
    this._assignment = this.node.appendChild(el('div', 'convgrade-assignment'));
    this._status = this.node.appendChild(el('div', 'convgrade-status'));
    this._result = this.node.appendChild(el('div', 'convgrade-result'));
    this._history = this.node.appendChild(el('div', 'convgrade-history'));
    this._status.textContent =
      'Press "Submit for grading" in an assignment notebook to see its feedback here.';
  }

  /** The notebook whose state the panel shows. */
  notebookPath = '';
  /** A submission is on its way: opening another notebook leaves the panel to it. */
  submitting = false;

  showBusy(notebookPath: string): void {
    this.notebookPath = notebookPath;
    this._status.className = 'convgrade-status convgrade-busy';
    this._status.textContent = `Submitting ${notebookPath} ...`;
    this._result.replaceChildren();
  }

  /** A notebook came into view: its state is on its way. */
  showLoading(notebookPath: string): void {
    this.notebookPath = notebookPath;
    this._assignment.replaceChildren();
    this._result.replaceChildren();
    this._history.replaceChildren();
    this._status.className = 'convgrade-status convgrade-busy';
    this._status.textContent = `Loading your submissions of ${notebookPath} ...`;
  }

  showError(message: string, what = 'Not submitted'): void {
    this._status.className = 'convgrade-status convgrade-error';
    this._status.textContent = `${what}: ${message}`;
    this._result.replaceChildren();
  }

  /** A submission's result; `earlier`: one loaded when the notebook opened, not one just sent. */
  showSubmission(submission: ISubmission, goTo: GoToExercise, earlier = false): void {
    this._result.replaceChildren();
    const result = submission.result;
    if (submission.status === 'queued' || submission.status === 'running') {
      this._status.className = 'convgrade-status convgrade-busy';
      this._status.textContent = `Submission ${submission.id} is ${submission.status}: the grader has not finished yet.`;
      return;
    }
    if (submission.status !== 'done' || !result) {
      this._status.className = 'convgrade-status convgrade-error';
      this._status.textContent = `The grader could not grade this submission: ${submission.error || 'no result'}`;
      return;
    }
    if (!result.gradable) {
      this._status.className = 'convgrade-status convgrade-error';
      this._status.textContent = `Not gradable: ${(result.format_errors || []).join('; ')}`;
      return;
    }
    this._status.className = 'convgrade-status convgrade-done';
    const sent = submission.submitted_at || submission.created_at;
    this._status.textContent =
      earlier && sent
        ? `Graded: your last submission, sent ${localTime(sent)} (submission ${submission.id.slice(0, 8)})`
        : `Graded at ${new Date().toLocaleTimeString()} (submission ${submission.id.slice(0, 8)})`;
    const credit = submission.credit ?? 1;
    const credited = submission.credited_score ?? result.score * credit;
    this._result.appendChild(el('div', 'convgrade-score', `${fmt(credited)} / ${fmt(result.max_score)}`));
    this._result.appendChild(
      el('div', 'convgrade-credit', creditWords(result.score, result.max_score, credit, credited))
    );
    // The notes say why a check that passed in the notebook may fail here: right under the
    // score, folded, so the score stays in view however many there are.
    if (result.notes && result.notes.length) {
      const notes = this._result.appendChild(el('details', 'convgrade-notes'));
      const count = result.notes.length;
      notes.appendChild(el('summary', '', `Read this first: ${count} note${count > 1 ? 's' : ''}`));
      const list = notes.appendChild(el('ul', ''));
      for (const note of result.notes) {
        list.appendChild(richText(el('li', 'convgrade-note'), note));
      }
    }
    if (submission.deadlines && result.assignment) {
      this._showDeadlines(result.assignment, submission.deadlines);
    }
    const exercises = submission.exercises || groupByExercise(result.tests);
    this._result.appendChild(exerciseTable(exercises, goTo));
  }

  /** The assignment's deadline and the earlier submissions; with goTo, the last one's result too. */
  showOverview(overview: IOverview, goTo?: GoToExercise): void {
    if (overview.assignment) {
      this._showDeadlines(overview.assignment.name, overview.assignment);
    }
    if (goTo) {
      if (overview.last) {
        this.showSubmission(overview.last, goTo, true);
      } else {
        this._status.className = 'convgrade-status';
        this._status.textContent = 'Not submitted yet: press "Submit for grading" to see its feedback here.';
      }
    }
    this._history.replaceChildren(el('h3', '', 'Your submissions'));
    if (!overview.submissions.length) {
      this._history.appendChild(el('div', 'convgrade-none', 'none yet'));
      return;
    }
    const table = this._history.appendChild(el('table', 'convgrade-history-table'));
    for (const s of overview.submissions) {
      const row = table.appendChild(el('tr', 'convgrade-history-row'));
      row.appendChild(el('td', '', s.created_at ? localTime(s.created_at) : s.id));
      const scored = s.score !== null && s.score !== undefined;
      const counts =
        scored && s.credited_score !== null && s.credited_score !== undefined && (s.credit ?? 1) < 1
          ? ` (counts ${fmt(s.credited_score)})`
          : '';
      row.appendChild(
        el('td', '', scored ? `${fmt(s.score as number)} / ${fmt(s.max_score as number)}${counts}` : s.status)
      );
    }
  }

  private _showDeadlines(name: string, deadlines: IDeadlines): void {
    this._assignment.replaceChildren(
      el('div', 'convgrade-assignment-name', name),
      el('div', 'convgrade-deadline', deadlineWords(deadlines))
    );
  }

  private _assignment: HTMLElement;
  private _status: HTMLElement;
  private _result: HTMLElement;
  private _history: HTMLElement;
}

/** The score that counts and how it came about (grader/course/feedback.py credit_words). */
export function creditWords(score: number, max: number, credit: number, credited: number): string {
  if (credit >= 1) {
    return `${fmt(score)} / ${fmt(max)} points (full credit: this is the score that counts)`;
  }
  if (credit <= 0) {
    return `${fmt(score)} / ${fmt(max)} points, but submitted after the deadline: it counts as 0 / ${fmt(max)}`;
  }
  return `${fmt(score)} / ${fmt(max)} points; submitted late, ${pct(credit)} credit: it counts as ${fmt(credited)} / ${fmt(max)}`;
}

/** The assignment's windows in one sentence (grader/course/feedback.py deadline_words). */
export function deadlineWords(a: IDeadlines): string {
  if (!a.due) {
    return 'No deadline: open, full credit.';
  }
  const parts: string[] = [];
  if (a.opens) {
    parts.push(`opens ${localTime(a.opens)}`);
  }
  parts.push(`due ${localTime(a.due)}${a.extended ? ' (your extension)' : ''}`);
  const late = a.late || [];
  for (const w of late) {
    parts.push(`then ${pct(w.credit)} credit until ${localTime(w.until)}`);
  }
  const closes = late.length ? late[late.length - 1].until : a.due;
  parts.push(`no submissions after ${localTime(closes)}`);
  const sentence = parts.join('; ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1) + '.';
}

/** Exercises in the result's order, failures first, when the grader sent no grouping. */
function groupByExercise(tests: ICheck[]): IExercise[] {
  const groups = new Map<string, IExercise>();
  for (const t of tests) {
    const ex = groups.get(t.exercise) || { name: t.exercise, score: 0, max_score: 0, failed: 0, tests: [] };
    ex.score += t.score;
    ex.max_score += t.max_score;
    ex.failed += t.status === 'passed' ? 0 : 1;
    ex.tests.push(t);
    groups.set(t.exercise, ex);
  }
  for (const ex of groups.values()) {
    ex.tests.sort((a, b) => Number(a.status === 'passed') - Number(b.status === 'passed'));
  }
  return [...groups.values()];
}

/** Each exercise with its points and a link to its answer cell, its failed checks below it. */
function exerciseTable(exercises: IExercise[], goTo: GoToExercise): HTMLElement {
  const list = el('div', 'convgrade-exercises');
  for (const ex of exercises) {
    const block = list.appendChild(el('div', 'convgrade-exercise'));
    block.dataset.exercise = ex.name;
    block.classList.add(ex.failed ? 'convgrade-lost' : 'convgrade-full');
    const head = block.appendChild(el('div', 'convgrade-exercise-head'));
    head.appendChild(el('span', 'convgrade-exercise-name', ex.name));
    head.appendChild(el('span', 'convgrade-exercise-score', `${fmt(ex.score)} / ${fmt(ex.max_score)}`));
    const link = el('a', 'convgrade-goto', 'go to answer') as HTMLAnchorElement;
    link.href = '#';
    link.title = `scroll to the answer cell of ${ex.name}`;
    link.onclick = event => {
      event.preventDefault();
      goTo(ex.name);
    };
    head.appendChild(link);
    const failed = ex.tests.filter(t => t.status !== 'passed');
    if (failed.length) {
      const items = block.appendChild(el('ul', 'convgrade-failed'));
      for (const check of failed) {
        const item = items.appendChild(el('li', 'convgrade-check'));
        item.appendChild(
          el('div', 'convgrade-check-name', `${check.name} (${fmt(check.score)}/${fmt(check.max_score)})`)
        );
        if (check.output) {
          item.appendChild(el('pre', 'convgrade-check-output', check.output));
        }
        item.append(...checkFeedback(check));
      }
    }
  }
  return list;
}

/** A note as text: `code` as code, and the line breaks the grader escaped (a tensor's rows)
 * as breaks. Everything is set as text, never as HTML. */
export function richText(node: HTMLElement, text: string): HTMLElement {
  text.replace(/\\n/g, '\n')
    .split('`')
    .forEach((part, i) => {
      if (part) {
        node.appendChild(i % 2 ? el('code', '', part) : document.createTextNode(part));
      }
    });
  return node;
}

function pct(credit: number): string {
  return `${Math.round(credit * 1000) / 10}%`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function localTime(iso: string): string {
  const when = new Date(iso);
  return isNaN(when.getTime()) ? iso : when.toLocaleString();
}
