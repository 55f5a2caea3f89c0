// Reading the Kafka client's errors, in one place. @platformatic/kafka nests them (MultipleErrors
// holds `errors`, some carry a `cause`), names a broker's protocol error in `apiId` with the
// broker's own text in `serverErrorMessage`, and throws UserError for requests it refuses to send.
import { UserError } from '@platformatic/kafka';

interface ClientErrorShape {
  message?: string;
  apiId?: string;
  serverErrorMessage?: string | null;
  errors?: unknown[];
  cause?: unknown;
}

/** Visits an error and everything nested in it (bounded, in case of cycles). */
export function walkErrors(error: unknown, visit: (e: object, depth: number) => void): void {
  walk(error, visit);
}

function walk(error: unknown, visit: (e: ClientErrorShape, depth: number) => void, depth = 0): void {
  if (!error || typeof error !== 'object' || depth > 8) return;
  const e = error as ClientErrorShape;
  visit(e, depth);
  if (Array.isArray(e.errors)) for (const inner of e.errors) walk(inner, visit, depth + 1);
  if (e.cause !== undefined) walk(e.cause, visit, depth + 1);
}

/** The protocol error ids (TOPIC_ALREADY_EXISTS, NOT_LEADER_OR_FOLLOWER, ...) anywhere in an error. */
export function protocolErrorIds(error: unknown): string[] {
  const ids: string[] = [];
  walk(error, (e) => {
    if (typeof e.apiId === 'string') ids.push(e.apiId);
  });
  return ids;
}

/** True when the error (or one nested in it) is this Kafka protocol error. */
export function hasProtocolError(error: unknown, apiId: string): boolean {
  return protocolErrorIds(error).includes(apiId);
}

function nestedDetails(error: unknown, outer: string): string[] {
  const details: string[] = [];
  walk(error, (e, depth) => {
    if (depth === 0) return;
    const text = e.apiId ? (e.serverErrorMessage ? `${e.apiId}: ${e.serverErrorMessage}` : e.apiId) : Array.isArray(e.errors) ? undefined : e.message;
    if (text && !outer.includes(text) && !details.includes(text)) details.push(text);
  });
  return details;
}

/**
 * One line a person can read: the outer message, then what each nested error says (protocol
 * errors as `ID: broker text`), without repeats. Never includes record contents.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error) && (typeof error !== 'object' || error === null)) return String(error);
  const outer = (error as ClientErrorShape).message ?? String(error);
  const own = (error as ClientErrorShape).apiId;
  const head = own && !outer.includes(own) ? `${outer} (${own})` : outer;
  const details = nestedDetails(error, outer);
  return details.length > 0 ? `${head.replace(/\.$/, '')}: ${details.join('; ')}` : head;
}

/** Only what the nested errors say (`INVALID_REPLICATION_FACTOR: broker text`), or the message when nothing is nested. */
export function errorDetails(error: unknown): string {
  const own = (error as ClientErrorShape | undefined)?.apiId;
  if (own) return describeError(error);
  const details = nestedDetails(error, '');
  return details.length > 0 ? details.join('; ') : describeError(error);
}

/** The client refused the request itself (bad options, a record it cannot encode): sending it again cannot help. */
export function isRequestError(error: unknown): boolean {
  return error instanceof UserError;
}
