// Every error a client can get from Inlet, with a stable code. Routes throw these; the error
// handler turns them into `{ error, code }` with the status below.

export class InletError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** seconds, for 429 and 503 */
  readonly retryAfter?: number;
  /** the answer closes the connection: what is left of the body is not wanted, nor the client's next request on it */
  readonly closesConnection: boolean;

  constructor(code: string, statusCode: number, message: string, retryAfter?: number, closesConnection = false) {
    // An answer to the client, never logged with a stack (error-reply.ts): capturing one cost ~5 µs
    // per error, and under overload every refusal is one.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.statusCode = statusCode;
    this.retryAfter = retryAfter;
    this.closesConnection = closesConnection;
    this.name = 'InletError';
  }
}

const define = (code: string, statusCode: number, message: string) => Object.assign(
  (detail?: string) => new InletError(code, statusCode, detail ? `${message}: ${detail}` : message),
  { code },
);

export const Errors = {
  missingWriteKey: define('INLET_MISSING_WRITE_KEY', 401, 'Missing write key'),
  invalidWriteKey: define('INLET_INVALID_WRITE_KEY', 401, 'Invalid write key'),
  malformedAuthorization: define('INLET_MALFORMED_AUTHORIZATION', 401, 'Malformed Authorization header'),
  malformedJson: define('INLET_MALFORMED_JSON', 400, 'Malformed JSON body'),
  invalidBody: define('INLET_INVALID_BODY', 400, 'Invalid body'),
  invalidEvent: define('INLET_INVALID_EVENT', 400, 'Invalid event'),
  planViolation: define('INLET_PLAN_VIOLATION', 400, "Event breaks its source's tracking plan"),
  invalidGzip: define('INLET_INVALID_GZIP', 400, 'Body is not valid gzip'),
  bodyTooLarge: define('INLET_BODY_TOO_LARGE', 413, 'Body too large'),
  tooManyEvents: define('INLET_TOO_MANY_EVENTS', 413, 'Too many events in one batch'),
  unsupportedEncoding: define('INLET_UNSUPPORTED_ENCODING', 415, 'Unsupported Content-Encoding; send gzip or identity'),
  badRequest: define('INLET_BAD_REQUEST', 400, 'Bad request'),
  headersTooLarge: define('INLET_HEADERS_TOO_LARGE', 431, 'The request headers are too large'),
  uriTooLong: define('INLET_URI_TOO_LONG', 414, 'The request path is too long'),
  notFound: define('INLET_NOT_FOUND', 404, 'Not found'),
  methodNotAllowed: define('INLET_METHOD_NOT_ALLOWED', 405, 'Method not allowed'),
  adminTokenRequired: define('INLET_ADMIN_TOKEN_REQUIRED', 401, 'The admin API needs the admin token: Authorization: Bearer <token>'),
  invalidAdminToken: define('INLET_INVALID_ADMIN_TOKEN', 401, 'Invalid admin token'),
  // The console (admin listener): its session cookie, login limits, CSRF header, live viewers.
  sessionExpired: define('INLET_SESSION_EXPIRED', 401, 'The console session has ended (expired, signed out, or the admin token was rotated); sign in again'),
  loginLimited: (retryAfter: number) => new InletError('INLET_LOGIN_LIMITED', 429, 'Too many wrong admin tokens from this address; wait before trying again', retryAfter),
  csrfHeaderRequired: define('INLET_CSRF_HEADER_REQUIRED', 403, 'A change made with the console session needs the header x-inlet-csrf: 1'),
  foreignOrigin: define('INLET_FOREIGN_ORIGIN', 403, 'A console request from another origin is refused'),
  tooManyViewers: (retryAfter: number) => new InletError('INLET_TOO_MANY_VIEWERS', 503, 'Too many live views are open on this server; close one or retry later', retryAfter),
  invalidParameter: define('INLET_INVALID_PARAMETER', 400, 'Invalid parameter'),
  sourceNotFound: define('INLET_SOURCE_NOT_FOUND', 404, 'No such source'),
  sourceNameTaken: define('INLET_SOURCE_NAME_TAKEN', 409, 'Source name taken'),
  failedEventNotFound: define('INLET_FAILED_EVENT_NOT_FOUND', 404, 'No such failed event'),
  planNotFound: define('INLET_PLAN_NOT_FOUND', 404, 'No such plan'),
  invalidPlan: define('INLET_INVALID_PLAN', 400, 'Invalid tracking plan'),
  planTooLarge: define('INLET_PLAN_TOO_LARGE', 413, 'Tracking plan too large'),
  notAvailable: define('INLET_NOT_AVAILABLE', 501, 'Not available'),
  rateLimited: (retryAfter: number) => new InletError('INLET_RATE_LIMITED', 429, 'Rate limit exceeded; retry later', retryAfter),
  /** one client address's share of a browser source's budgets (limits/source-budget.ts) */
  addressRateLimited: (retryAfter: number) => new InletError('INLET_RATE_LIMITED', 429, 'This client address has used its share of the write key\'s rate limit; retry later (if every client reaches you through one proxy, set TRUSTED_PROXIES, or INLET_PROXY_SECRET for the collect proxy, so each is counted by its own address)', retryAfter),
  /** the budget of an address whose requests came without a valid write key, not a key's rate limit */
  unauthenticatedLimited: (retryAfter: number) => new InletError('INLET_RATE_LIMITED', 429, 'Too many requests without a valid write key from this address (check the write key; behind a load balancer, set TRUSTED_PROXIES); retry later', retryAfter),
  sinkUnavailable: (retryAfter = 1, detail?: string) => new InletError('INLET_SINK_UNAVAILABLE', 503, detail ? `Cannot store events right now: ${detail}` : 'Cannot store events right now; retry later', retryAfter),
  // Answered by @inlet/node's collect proxy (inletCollect) in the site's own server: the Inlet server
  // could not be reached or did not answer in time (503, Retry-After). The 408 is answered by both:
  // the proxy when the browser's body is late, Inlet when a body takes longer than BODY_TIMEOUT_MS.
  upstreamUnavailable: define('INLET_UPSTREAM_UNAVAILABLE', 503, 'The analytics server cannot be reached right now; retry later'),
  requestTimeout: define('INLET_REQUEST_TIMEOUT', 408, 'The request body did not arrive in time'),
  /** `closesConnection`: for bodies that must not be read (an attack's); refusals for the sink keep it */
  overloaded: (detail: string, closesConnection: boolean) => new InletError('INLET_OVERLOADED', 503, `The server is busy: ${detail}; retry later`, 1, closesConnection),
  sourceStoreUnavailable: (retryAfter = 1) => new InletError('INLET_SOURCE_STORE_UNAVAILABLE', 503, 'Cannot verify the write key right now; retry later', retryAfter),
  /** the admin API's answer when the sources' database (which holds the admin token too) is down */
  databaseGone: (detail: string) => new InletError('INLET_DATABASE_GONE', 503, detail),
  sourceDatabaseUnavailable: (retryAfter = 5) => new InletError('INLET_SOURCE_STORE_UNAVAILABLE', 503, 'The source store (its database) cannot be reached right now; retry later', retryAfter),
} as const;

/** Thrown by a sink that cannot make a write durable within its bound. */
export class SinkUnavailableError extends Error {
  override name = 'SinkUnavailableError';
}

/** Thrown by a source store whose database cannot be reached. */
export class SourceStoreUnavailableError extends Error {
  override name = 'SourceStoreUnavailableError';
}

/** The embedded database file was deleted, moved or replaced under the server: no retry helps, a restart does. */
export class DatabaseGoneError extends SourceStoreUnavailableError {
  override name = 'DatabaseGoneError';
}
