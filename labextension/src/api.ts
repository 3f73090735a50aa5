/**
 * Requests to the convgrade jupyter_server extension (grader/doors/lab/handlers.py) under
 * <base_url>/convgrade/. The page never talks to the grader itself: the Jupyter server holds
 * the grader's address and the student's token and forwards each request.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One check of the result (docs/reference.md). */
export interface ICheck {
  name: string;
  number: string;
  exercise: string;
  score: number;
  max_score: number;
  status: string;
  output: string;
  /** A failed check: the known mistake the values match, in one sentence. */
  diagnosis?: string;
  /** A failed check: the instructor's comment for the mistake group it falls in. */
  comment?: string;
  /** A failed check: the hint the course's hint table gives this failure. */
  hint?: string;
  /** A failed check on small 2-D values the student may see: nested lists of numbers. */
  expected?: unknown;
  got?: unknown;
}

export interface IResult {
  assignment: string | null;
  gradable: boolean;
  score: number;
  max_score: number;
  tests: ICheck[];
  notes?: string[];
  format_errors?: string[];
}

/** One exercise of a result, as the grader groups them: notebook order, failures first. */
export interface IExercise {
  name: string;
  score: number;
  max_score: number;
  failed: number;
  tests: ICheck[];
}

/** A submission as the grader reports it: queued/running, or done/error with its result. */
export interface ISubmission {
  id: string;
  status: string;
  assignment?: string | null;
  score?: number | null;
  max_score?: number | null;
  created_at?: string;
  submitted_at?: string;
  credit?: number;
  credited_score?: number | null;
  result?: IResult;
  exercises?: IExercise[];
  /** The windows that decided the credit: the student's own, extension applied. */
  deadlines?: IDeadlines;
  error?: string;
}

export interface ILateWindow {
  until: string;
  credit: number;
}

export interface IDeadlines {
  opens?: string | null;
  due?: string | null;
  late?: ILateWindow[];
  extended?: boolean;
  credit_now?: number | null;
}

export interface IAssignment extends IDeadlines {
  name: string;
  max_score: number;
}

/** What the panel shows beside a result: the assignment (deadline), earlier submissions
 * (newest first) and the newest one in full. */
export interface IOverview {
  assignment: IAssignment | null;
  submissions: ISubmission[];
  last?: ISubmission | null;
}

export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'convgrade', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new Error(`the Jupyter server cannot be reached (${error})`);
  }
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(
      `the Jupyter server answered ${response.status} without JSON: is the convgrade server extension enabled?`
    );
  }
  if (!response.ok) {
    throw new Error(body.error || body.message || `the Jupyter server answered ${response.status}`);
  }
  return body as T;
}
