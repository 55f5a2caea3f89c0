// Every call the console makes goes through here, to the same admin API the CLI and scripts use.
// The session cookie rides along (same origin); each call also sends x-inlet-csrf, a header an
// HTML form on another site cannot send, which the server requires of every cookie-authenticated
// change.
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(message: string, status: number, code?: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onSignedOut: () => void = () => {};
/** What to do when the session has ended (expired, signed out elsewhere, rotated token): show the login form. */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export const CSRF_HEADER = { 'x-inlet-csrf': '1' };

/** `body`: an object (sent as JSON) or a string (sent as it is: a plan document being edited). */
export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...CSRF_HEADER };
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await response.text();
  let data: unknown = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { error: text }; }
  if (!response.ok) {
    const { error, code } = data as { error?: string; code?: string };
    if (response.status === 401 && path !== '/api/session') onSignedOut();
    throw new ApiError(error ?? `${response.status} ${response.statusText}`, response.status, code);
  }
  return data as T;
}

export const query = (params: Record<string, string | undefined>): string => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
};

export interface Source { id: string; name: string; kind?: string; ipPolicy: string; createdAt: string; revokedAt?: string | null }

export const listSources = async (): Promise<Source[]> => (await api<{ sources: Source[] }>('GET', '/api/sources')).sources;

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
