/**
 * The result side panel: score per exercise with a link to its answer cell, each failed
 * check's message, the assignment's deadline and the student's earlier submissions.
 * Everything the grader or the student wrote is set as text, never as HTML.
 */
import { Widget } from '@lumino/widgets';

import { ICheck, IOverview, ISubmission } from './api';

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

  showBusy(notebookPath: string): void {
    this._status.className = 'convgrade-status convgrade-busy';
    this._status.textContent = `Submitting ${notebookPath} ...`;
    this._result.replaceChildren();
  }

  showError(message: string): void {
    this._status.className = 'convgrade-status convgrade-error';
    this._status.textContent = `Not submitted: ${message}`;
    this._result.replaceChildren();
  }

  showSubmission(submission: ISubmission, goTo: GoToExercise): void {
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
    this._status.textContent = `Graded at ${new Date().toLocaleTimeString()} (submission ${submission.id.slice(0, 8)})`;
    const score = el('div', 'convgrade-score', `${fmt(result.score)} / ${fmt(result.max_score)}`);
    this._result.appendChild(score);
    this._result.appendChild(exerciseTable(result.tests, goTo));
    const failed = result.tests.filter(t => t.status !== 'passed');
    if (failed.length) {
      this._result.appendChild(el('h3', '', 'Failed checks'));
      const list = this._result.appendChild(el('ul', 'convgrade-failed'));
      for (const check of failed) {
        const item = list.appendChild(el('li', 'convgrade-check'));
        item.appendChild(el('div', 'convgrade-check-name', `${check.name} (${fmt(check.score)}/${fmt(check.max_score)})`));
        if (check.output) {
          item.appendChild(el('pre', 'convgrade-check-output', check.output));
        }
      }
    }
  }

  showOverview(overview: IOverview): void {
    this._assignment.replaceChildren();
    const assignment = overview.assignment;
    if (assignment) {
      this._assignment.appendChild(el('div', 'convgrade-assignment-name', assignment.name));
      const dates: [string, string | null | undefined][] = [
        ['opens', assignment.opens],
        ['due', assignment.due],
        ['late submissions until', assignment.late]
      ];
      for (const [label, when] of dates.filter(([, when]) => when)) {
        this._assignment.appendChild(el('div', 'convgrade-deadline', `${label}: ${localTime(when as string)}`));
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
      row.appendChild(el('td', '', scored ? `${fmt(s.score as number)} / ${fmt(s.max_score as number)}` : s.status));
    }
  }

  private _assignment: HTMLElement;
  private _status: HTMLElement;
  private _result: HTMLElement;
  private _history: HTMLElement;
}

function exerciseTable(tests: ICheck[], goTo: GoToExercise): HTMLElement {
  const totals = new Map<string, [number, number]>();
  for (const t of tests) {
    const [score, max] = totals.get(t.exercise) || [0, 0];
    totals.set(t.exercise, [score + t.score, max + t.max_score]);
  }
  const table = el('table', 'convgrade-exercises');
  totals.forEach(([score, max], exercise) => {
    const row = table.appendChild(el('tr', 'convgrade-exercise'));
    row.dataset.exercise = exercise;
    row.classList.add(score < max ? 'convgrade-lost' : 'convgrade-full');
    row.appendChild(el('td', 'convgrade-exercise-name', exercise));
    row.appendChild(el('td', 'convgrade-exercise-score', `${fmt(score)} / ${fmt(max)}`));
    const link = el('a', 'convgrade-goto', 'go to answer') as HTMLAnchorElement;
    link.href = '#';
    link.title = `scroll to the answer cell of ${exercise}`;
    link.onclick = event => {
      event.preventDefault();
      goTo(exercise);
    };
    row.appendChild(el('td', '')).appendChild(link);
  });
  return table;
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function localTime(iso: string): string {
  const when = new Date(iso);
  return isNaN(when.getTime()) ? iso : when.toLocaleString();
}
