/**
 * convgrade for JupyterLab 4: a "Submit for grading" button on assignment notebooks (those
 * carrying nbgrader metadata) and a side panel with the grader's feedback.
 *
 * The button saves the notebook and asks the Jupyter server (grader/doors/lab/handlers.py) to send
 * the saved file to the grader; the grader's address and the student's token stay on the
 * server (JupyterLab settings or CONVGRADE_URL / CONVGRADE_TOKEN).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { IOverview, ISubmission, requestAPI } from './api';
import { GoToExercise, ResultPanel } from './panel';

const PLUGIN_ID = 'convgrade:plugin';
// The Jupyter server waits for the grader up to this long per request; the page then polls.
const POLL_SECONDS = 30;

/** The nbgrader grade_id of a cell model, if any. */
function gradeId(cell: { getMetadata(key: string): any }): string | undefined {
  const nbgrader = cell.getMetadata('nbgrader');
  return nbgrader && typeof nbgrader.grade_id === 'string' ? nbgrader.grade_id : undefined;
}

function isAssignment(model: INotebookModel): boolean {
  for (let i = 0; i < model.cells.length; i++) {
    if (gradeId(model.cells.get(i))) {
      return true;
    }
  }
  return false;
}

/** Make the answer cell of `exercise` (grade_id == exercise) the active cell and scroll to it. */
async function goToExercise(
  app: JupyterFrontEnd,
  notebookPanel: NotebookPanel,
  exercise: string
): Promise<void> {
  const notebook = notebookPanel.content;
  const index = notebook.widgets.findIndex(cell => gradeId(cell.model) === exercise);
  if (index < 0) {
    return;
  }
  app.shell.activateById(notebookPanel.id);
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await notebook.scrollToItem(index, 'start');
  notebook.activeCell?.node.focus();
}

async function submit(
  app: JupyterFrontEnd,
  panel: ResultPanel,
  notebookPanel: NotebookPanel
): Promise<void> {
  const context = notebookPanel.context;
  app.shell.activateById(panel.id);
  panel.showBusy(context.path);
  panel.submitting = true;
  const goTo = (exercise: string) => void goToExercise(app, notebookPanel, exercise);
  let assignment: string | null = null;
  try {
    await context.save();
    let submission = await requestAPI<ISubmission>('submit', {
      method: 'POST',
      body: JSON.stringify({ path: context.path })
    });
    // How long to keep polling: the waitSeconds setting, as the server reads it.
    const config = await requestAPI<{ wait_seconds: number }>('config');
    const deadline = Date.now() + config.wait_seconds * 1000;
    while (
      (submission.status === 'queued' || submission.status === 'running') &&
      Date.now() < deadline
    ) {
      panel.showSubmission(submission, goTo);
      submission = await requestAPI<ISubmission>(
        `submissions/${encodeURIComponent(submission.id)}?wait=${POLL_SECONDS}`
      );
    }
    panel.showSubmission(submission, goTo);
    assignment = submission.result?.assignment || submission.assignment || null;
  } catch (error) {
    panel.showError((error as Error).message);
  }
  panel.submitting = false;
  await showOverview(panel, context.path, assignment);
}

async function showOverview(
  panel: ResultPanel,
  path: string,
  assignment: string | null,
  goTo?: GoToExercise
): Promise<void> {
  const query = new URLSearchParams({ path });
  if (assignment) {
    query.set('assignment', assignment);
  }
  try {
    const overview = await requestAPI<IOverview>(`overview?${query}`);
    if (!goTo || (panel.notebookPath === path && !panel.submitting)) {
      panel.showOverview(overview, goTo);
    }
  } catch (error) {
    if (goTo && panel.notebookPath === path && !panel.submitting) {
      panel.showError((error as Error).message, 'Not loaded');
    }
    // After a submission the status line already says what is wrong with the grader.
  }
}

/** The student's state for the assignment notebook in view: deadline, last result, history. */
async function showState(
  app: JupyterFrontEnd,
  panel: ResultPanel,
  notebookPanel: NotebookPanel | null
): Promise<void> {
  if (!notebookPanel || panel.submitting) {
    return;
  }
  await notebookPanel.context.ready;
  const path = notebookPanel.context.path;
  if (!isAssignment(notebookPanel.context.model) || panel.notebookPath === path) {
    return;
  }
  panel.showLoading(path);
  const goTo = (exercise: string) => void goToExercise(app, notebookPanel, exercise);
  await showOverview(panel, path, null, goTo);
}

class SubmitButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(
    private app: JupyterFrontEnd,
    private panel: ResultPanel
  ) {}

  createNew(
    notebookPanel: NotebookPanel,
    context: DocumentRegistry.IContext<INotebookModel>
  ): IDisposable {
    const button = new ToolbarButton({
      className: 'convgrade-submit',
      label: 'Submit for grading',
      tooltip: 'Save this notebook and send it to the convgrade grader',
      onClick: () => void submit(this.app, this.panel, notebookPanel)
    });
    button.hide();
    notebookPanel.toolbar.insertItem(10, 'convgradeSubmit', button);
    void context.ready.then(() => {
      if (isAssignment(context.model)) {
        button.show();
      }
    });
    return new DisposableDelegate(() => button.dispose());
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Submit convgrade assignment notebooks for grading and read the feedback.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, notebooks: INotebookTracker) => {
    const panel = new ResultPanel();
    app.shell.add(panel, 'right', { rank: 900 });
    app.docRegistry.addWidgetExtension('Notebook', new SubmitButtonExtension(app, panel));
    notebooks.currentChanged.connect((_, current) => void showState(app, panel, current));
    void showState(app, panel, notebooks.currentWidget);
  }
};

export default plugin;
