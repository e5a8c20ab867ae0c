/**
 * The cloud's error registry and its Fastify error handler. Every error the cloud answers
 * on purpose has a literal code here, a kind that decides the HTTP status, and a summary
 * that `docs/errors.md` repeats (a test checks every code is unique and documented).
 * Every error answer, on purpose or not, has the protocol's `ErrorReply` shape
 * `{ statusCode, code, error, message }`; bad input never becomes a 5xx.
 *
 * Pattern after fastify's `lib/errors.js`, EdgeX's `errors/types.go`, and the gateway's
 * `gateway/src/core/errors.ts` (mirrored, not imported: gateway and cloud share only protocol/).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** What went wrong, in the terms that decide what to do about it. */
export type ErrorKind =
  | 'communication' // a server-side part failed (database down, a bug): the client retries with backoff
  | 'timeout' // a server-side part did not answer in time: the client retries with backoff
  | 'contract' // the request breaks the contract: retrying the same request cannot help
  | 'not_found' // the thing named does not exist
  | 'conflict' // the request clashes with the current state
  | 'limit' // a size or rate limit was reached: send less, or later
  | 'auth'; // credentials missing, wrong, or not allowed here

export interface ErrorSpec {
  readonly kind: ErrorKind;
  /** The HTTP status when it differs from the kind's default (see {@link statusOfKind}). */
  readonly status?: number;
  /** What the code means and what to do about it (docs/errors.md repeats this). */
  readonly summary: string;
}

export const cloudErrors = {
  CS_ERR_VALIDATION: {
    kind: 'contract',
    summary: 'The request body, query or path breaks the route schema. The message names the field (e.g. `body/items/0/seq must be integer`); fix the request.',
  },
  CS_ERR_BAD_REQUEST: {
    kind: 'contract',
    summary: 'The request is malformed before any schema applies: a body that is not JSON, an empty JSON body, or a Content-Length that does not match the body.',
  },
  CS_ERR_MEDIA_TYPE: {
    kind: 'contract',
    status: 415,
    summary: 'The Content-Type (send `application/json`) or the Content-Encoding (send `gzip` or none) is not one the route accepts.',
  },
  CS_ERR_BODY_TOO_LARGE: {
    kind: 'limit',
    status: 413,
    summary: 'The request body is larger than the route accepts. Send less.',
  },
  CS_ERR_AUTH_MISSING: {
    kind: 'auth',
    summary: 'The request has no `Authorization: Bearer <token>` header. Gateways send their secret (from enrolment); people log in with `POST /v1/auth/login` first.',
  },
  CS_ERR_AUTH_INVALID: {
    kind: 'auth',
    summary: 'The bearer token is not a known gateway secret or a live login token (wrong, revoked by a re-enrolment, or expired). Log in again; a gateway needs a new enrolment token from `steward cloud gateway add`.',
  },
  CS_ERR_LOGIN_FAILED: {
    kind: 'auth',
    summary: 'Wrong user name or password at `POST /v1/auth/login`. The answer does not say which of the two.',
  },
  CS_ERR_FORBIDDEN: {
    kind: 'auth',
    status: 403,
    summary: "The credential is valid but may not do this: a gateway touching another gateway's id or another site's data, or a login posting gateway batches.",
  },
  CS_ERR_ENROL_TOKEN: {
    kind: 'auth',
    summary: 'The enrolment token is wrong, already used, or expired (tokens live 7 days and work once). Issue a new one with `steward cloud gateway add --site … --gateway …`.',
  },
  CS_ERR_NOT_FOUND: {
    kind: 'not_found',
    summary: 'No route, gateway, site or other resource with that id exists.',
  },
  CS_ERR_GATEWAY_EXISTS: {
    kind: 'conflict',
    summary: 'A gateway with that id is already registered under another site. Gateway ids are unique across the cloud: pick another id, or keep the site.',
  },
  CS_ERR_USER_EXISTS: {
    kind: 'conflict',
    summary: 'A user with that name already exists.',
  },
  CS_ERR_GATEWAY_MISMATCH: {
    kind: 'contract',
    summary: "A batch's `gateway` field differs from the `:id` in its URL. A gateway sends its own id in both.",
  },
  CS_ERR_BATCH_SEQ_GAP: {
    kind: 'conflict',
    summary: 'The first new item of a lane is not the acknowledged sequence + 1, or a lane\'s new items are not contiguous. Nothing of the batch was stored; the answer carries `lane`, `expected`, `got` and `acked`: resume each lane from `acked[lane] + 1`.',
  },
  CS_ERR_BATCH_SEQ_REPEATED: {
    kind: 'contract',
    summary: 'Two items of one batch have the same lane and sequence. Nothing of the batch was stored.',
  },
  CS_ERR_BATCH_SEQ_REUSED: {
    kind: 'conflict',
    summary: "An item at a sequence the cloud already acknowledged carries a different id: the gateway's numbering restarted (e.g. its database was replaced). Nothing of the batch was stored; the answer carries `lane`, `seq` and `acked`: continue each lane from `acked[lane] + 1` (the enrolment answer carries the marks too).",
  },
  CS_ERR_BATCH_TOO_LARGE: {
    kind: 'limit',
    status: 413,
    summary: 'A batch is over a protocol limit: compressed body over LIMITS.maxCompressedBytes, decompressed over LIMITS.maxBatchBytes, more than LIMITS.maxItems items, or one item body over LIMITS.maxItemBytes. Send smaller batches.',
  },
  CS_ERR_BATCH_ENCODING: {
    kind: 'contract',
    summary: 'A batch sent with `Content-Encoding: gzip` is not valid gzip (corrupt or truncated).',
  },
  CS_ERR_DB_UNAVAILABLE: {
    kind: 'communication',
    status: 503,
    summary: 'The cloud database did not answer. Retry with backoff; operators check `/healthz` and the database.',
  },
  CS_ERR_INTERNAL: {
    kind: 'communication',
    status: 500,
    summary: 'An unexpected fault inside the cloud (a bug). The answer hides the details; the log has them with the request id. Retry with backoff, and report it.',
  },
  CS_ERR_CONFIG_INVALID: {
    kind: 'contract',
    summary: 'A command-line option or setting is invalid (e.g. a --port that is not a number, an unsupported --database URL). The message names it.',
  },
  CS_ERR_WO_TRANSITION: {
    kind: 'conflict',
    summary: "The work-order operation is refused by the state machine (protocol/work-orders.ts applyOp): the message is its reason, e.g. `cannot start a work order that is open (allowed from: assigned)`, or the operation's data is invalid. Nothing changed; reload the work order and pick an allowed operation.",
  },
  CS_ERR_NO_TECHNICIAN: {
    kind: 'conflict',
    summary: "Dispatch found no technician with the work order's skill who has not declined it or let an offer expire. A `dispatch` escalation was recorded; add a technician with the skill, or assign by hand.",
  },
  CS_ERR_ALREADY_RATED: {
    kind: 'conflict',
    summary: 'The resident already rated this work order: one rating per work order.',
  },
  CS_ERR_RATE_LIMITED: {
    kind: 'limit',
    summary: 'Too many requests from this client (logins: 10 a minute per address and name). Wait for the `retry-after` seconds and try again.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type CloudErrorCode = keyof typeof cloudErrors;

/** The one place a kind becomes an HTTP status (CONVENTIONS §3); a few codes override it. */
export function statusOfKind(kind: ErrorKind): number {
  switch (kind) {
    case 'contract':
      return 400;
    case 'auth':
      return 401;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'limit':
      return 429;
    case 'timeout':
      return 504;
    case 'communication':
      return 502; // a part behind the cloud failed (docs/errors.md's table)
  }
}

/** The HTTP status of a code: its override, else its kind's. */
export function statusOf(code: CloudErrorCode): number {
  const spec: ErrorSpec = cloudErrors[code];
  return spec.status ?? statusOfKind(spec.kind);
}

/** An error raised by the cloud on purpose. `code` is stable; match on it, not on the message. */
export class CloudError extends Error {
  readonly code: CloudErrorCode;
  readonly kind: ErrorKind;
  readonly statusCode: number;
  /** Extra fields of the answer beyond ErrorReply (e.g. SeqGapError's lane/expected/got/acked). */
  readonly reply: Readonly<Record<string, unknown>>;

  constructor(code: CloudErrorCode, message: string, options: { cause?: unknown; reply?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CloudError';
    this.code = code;
    this.kind = cloudErrors[code].kind;
    this.statusCode = statusOf(code);
    this.reply = Object.freeze({ ...(options.reply ?? {}) });
  }
}

export function isCloudError(err: unknown, code?: CloudErrorCode): err is CloudError {
  return err instanceof CloudError && (code === undefined || err.code === code);
}

/** The body of an error answer: protocol v1's ErrorReply plus the error's extra fields. */
export function errorReply(err: CloudError): Record<string, unknown> {
  return {
    ...err.reply,
    statusCode: err.statusCode,
    code: err.code,
    error: STATUS_CODES[err.statusCode] ?? 'Error',
    message: err.message,
  };
}

/** One entry of fastify's `error.validation` (Ajv's and TypeBox's error objects share these fields). */
interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

const MAX_ISSUES_IN_MESSAGE = 5;

/**
 * A validation message that names the fields, e.g. `body/items/0/seq must be integer;
 * body/extra is not allowed`. TypeBox reports an unknown property twice (as the false
 * `additionalProperties` sub-schema and as the object's keyword); keep the one with the path.
 */
export function validationMessage(issues: readonly ValidationIssue[], context: string): string {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = `${context}${issue.instancePath}`;
    if (issue.keyword === 'additionalProperties') continue;
    if (issue.keyword === 'boolean' && issue.message === 'schema is false') lines.push(`${path} is not an allowed property`);
    else lines.push(`${path} ${issue.message ?? 'is invalid'}`);
  }
  if (lines.length === 0) {
    const extra = issues.find((i) => i.keyword === 'additionalProperties');
    const names = extra?.params?.['additionalProperties'];
    lines.push(Array.isArray(names) ? `${context} has properties that are not allowed: ${names.join(', ')}` : `${context} is invalid`);
  }
  const unique = [...new Set(lines)];
  const shown = unique.slice(0, MAX_ISSUES_IN_MESSAGE);
  return unique.length > shown.length ? `${shown.join('; ')}; and ${unique.length - shown.length} more` : shown.join('; ');
}

/** Fastify's own error codes that mean "the request is malformed", mapped to ours. */
const FASTIFY_CODES: Readonly<Record<string, CloudErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'CS_ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'CS_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'CS_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'CS_ERR_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'CS_ERR_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'CS_ERR_BODY_TOO_LARGE',
};

/** Per-route settings of the error handler (fastify route `config`). */
export interface ErrorRouteConfig {
  /** The code for this route's size refusals (body over bodyLimit, arrays over maxItems). */
  bodyTooLargeCode?: CloudErrorCode;
  /** Body paths (e.g. `/items`) whose maxItems / maxLength failures are size refusals (413), not schema errors (400). */
  sizeLimitPaths?: readonly string[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    bodyTooLargeCode?: CloudErrorCode;
    sizeLimitPaths?: readonly string[];
  }
}

const SIZE_KEYWORDS = new Set(['maxItems', 'maxLength', 'maxProperties']);

/**
 * Connection-level database failures: node socket errors, PostgreSQL SQLSTATE class 08
 * (connection exception), 53300 (too many connections), 57P0x (shutdown), pg-pool's
 * connect timeout, SQLite busy/locked past busy_timeout. They are not bugs: answer 503.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code: unknown = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '53300', 'SQLITE_BUSY', 'SQLITE_LOCKED'].includes(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[1-3]$/.test(code)) return true;
  }
  return /timeout exceeded when trying to connect|Connection terminated/i.test(err.message);
}

/** Turn anything thrown into a CloudError, keeping 4xx for what the client did wrong. */
export function toCloudError(err: unknown, routeConfig: ErrorRouteConfig = {}): CloudError {
  if (err instanceof CloudError) return err;
  const fe = err as Partial<FastifyError> & { validation?: ValidationIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const sizePaths = routeConfig.sizeLimitPaths ?? [];
    const oversize = fe.validationContext === 'body' && routeConfig.bodyTooLargeCode !== undefined
      ? fe.validation.find((i) => SIZE_KEYWORDS.has(i.keyword) && sizePaths.includes(i.instancePath))
      : undefined;
    if (oversize !== undefined && routeConfig.bodyTooLargeCode !== undefined) {
      return new CloudError(routeConfig.bodyTooLargeCode, `body${oversize.instancePath} ${oversize.message ?? 'is too large'}`, { cause: err });
    }
    return new CloudError('CS_ERR_VALIDATION', validationMessage(fe.validation, fe.validationContext ?? 'request'), { cause: err });
  }
  const mapped = typeof fe.code === 'string' ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped === 'CS_ERR_BODY_TOO_LARGE' && routeConfig.bodyTooLargeCode !== undefined) {
    return new CloudError(routeConfig.bodyTooLargeCode, 'request body is larger than this route accepts', { cause: err });
  }
  if (mapped !== undefined) return new CloudError(mapped, fe.message ?? 'bad request', { cause: err });
  if (isDatabaseUnavailable(err)) return new CloudError('CS_ERR_DB_UNAVAILABLE', 'the database is unavailable; retry later', { cause: err });
  // Safety net: PostgreSQL SQLSTATE class 22 (data exception: out of range, bad text
  // representation) means a value the schemas let through does not fit a column. It is the
  // request's value, so answer 400, never a 5xx; the schemas should be tightened to match.
  if (typeof fe.code === 'string' && /^22[0-9A-Z]{3}$/.test(fe.code)) {
    return new CloudError('CS_ERR_VALIDATION', 'a value in the request is out of range or malformed for storage', { cause: err });
  }
  // Any other error fastify marks as the client's (4xx): keep it a client error.
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 404) return new CloudError('CS_ERR_NOT_FOUND', fe.message ?? 'not found', { cause: err });
  if (status === 413) return new CloudError('CS_ERR_BODY_TOO_LARGE', fe.message ?? 'request body too large', { cause: err });
  if (status === 415) return new CloudError('CS_ERR_MEDIA_TYPE', fe.message ?? 'unsupported media type', { cause: err });
  if (status >= 400 && status < 500) return new CloudError('CS_ERR_BAD_REQUEST', fe.message ?? 'bad request', { cause: err });
  return new CloudError('CS_ERR_INTERNAL', 'internal error', { cause: err });
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const routeConfig = (request.routeOptions.config ?? {}) as ErrorRouteConfig;
    const ce = toCloudError(err, routeConfig);
    if (ce.statusCode >= 500) request.log.error({ err, code: ce.code }, 'request failed');
    else request.log.info({ code: ce.code, statusCode: ce.statusCode, reason: ce.message }, 'request refused');
    // RFC 9110 §15.5.2: a 401 carries a challenge; RFC 6750 §3 names the Bearer scheme.
    if (ce.statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="steward"');
    return reply.code(ce.statusCode).send(errorReply(ce));
  });
  app.setNotFoundHandler((request, reply) => {
    const ce = new CloudError('CS_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
    return reply.code(ce.statusCode).send(errorReply(ce));
  });
}

/** Sets the error and not-found handlers. Register it first: later plugins inherit the handler. */
export default fp(errorsPlugin, { name: 'steward-errors', fastify: '5.x' });
