/**
 * The voxmem error family, the same codes as the Python package:
 *
 * ```
 * VoxmemError
 *  ├── BadRequest            bad_request, index.batch_too_large      (4xx, not retryable)
 *  ├── Unauthorized          unauthorized, forbidden                 (401/403)
 *  ├── NotFound              not_found, session_not_found            (404)
 *  ├── IdentityMismatch      identity_mismatch                       (409)
 *  ├── MemoryTimeout         timeout                                 (504, retryable)
 *  ├── StoreUnavailable      store.unavailable                       (503, retryable)
 *  ├── RuntimeStartFailed    runtime.start_failed                    (503, retryable)
 *  ├── PoolError             pool.exhausted, pool.port_exhausted, pool.closed
 *  └── InternalError         internal                                (500)
 * ```
 *
 * The runtime sends every failure as `{"error": {"code", "message", "details"}}`;
 * {@link errorFromEnvelope} turns it back into the matching class. Network and OS
 * errors never reach the caller raw: the transport maps them to these codes.
 */

/** Every error code the runtime or the client can produce. */
export type ErrorCode =
  | "bad_request"
  | "index.batch_too_large"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "session_not_found"
  | "identity_mismatch"
  | "timeout"
  | "store.unavailable"
  | "runtime.start_failed"
  | "pool.exhausted"
  | "pool.port_exhausted"
  | "pool.closed"
  | "internal"
  | (string & {});

/** Options shared by every {@link VoxmemError} constructor. */
export interface VoxmemErrorOptions {
  code?: ErrorCode;
  statusCode?: number;
  details?: Record<string, unknown>;
  retryable?: boolean;
  cause?: unknown;
}

/**
 * Base of every error voxmem raises.
 *
 * @example
 * try { await client.preload({ user: { id: "" } }); }
 * catch (err) { if (err instanceof VoxmemError && err.code === "bad_request") console.log(err.details.field); }
 */
export class VoxmemError extends Error {
  /** Stable machine-readable code, e.g. `"bad_request"`. */
  readonly code: ErrorCode;
  /** The HTTP status this error maps to. */
  readonly statusCode: number;
  /** Extra structured context (for `bad_request`, `{ field }`). */
  readonly details: Record<string, unknown>;
  /** Whether the same call may succeed if tried again later. */
  readonly retryable: boolean;

  protected static defaultCode: ErrorCode = "internal";
  protected static defaultStatus = 500;
  protected static defaultRetryable = false;

  constructor(message: string, options: VoxmemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const kind = new.target as unknown as typeof VoxmemError;
    this.name = kind.name;
    this.code = options.code ?? kind.defaultCode;
    this.statusCode = options.statusCode ?? kind.defaultStatus;
    this.details = { ...(options.details ?? {}) };
    this.retryable = options.retryable ?? kind.defaultRetryable;
  }

  /** The wire envelope of this error. */
  toEnvelope(): { error: { code: string; message: string; details: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** The input is invalid; `details.field` names the field. Nothing was written. */
export class BadRequest extends VoxmemError {
  protected static override defaultCode: ErrorCode = "bad_request";
  protected static override defaultStatus = 400;

  /** The field at fault, when the runtime named one. */
  get field(): string | undefined {
    const value = this.details["field"];
    return typeof value === "string" ? value : undefined;
  }
}

/** Missing or wrong runtime token. */
export class Unauthorized extends VoxmemError {
  protected static override defaultCode: ErrorCode = "unauthorized";
  protected static override defaultStatus = 401;
}

/** The named thing (session, memory, index, route) does not exist in this scope. */
export class NotFound extends VoxmemError {
  protected static override defaultCode: ErrorCode = "not_found";
  protected static override defaultStatus = 404;
}

/** A session id was used with a caller other than the one that opened it. */
export class IdentityMismatch extends VoxmemError {
  protected static override defaultCode: ErrorCode = "identity_mismatch";
  protected static override defaultStatus = 409;
}

/** An operation missed its deadline. */
export class MemoryTimeout extends VoxmemError {
  protected static override defaultCode: ErrorCode = "timeout";
  protected static override defaultStatus = 504;
  protected static override defaultRetryable = true;
}

/** The store cannot take writes, or a remote runtime is unreachable. */
export class StoreUnavailable extends VoxmemError {
  protected static override defaultCode: ErrorCode = "store.unavailable";
  protected static override defaultStatus = 503;
  protected static override defaultRetryable = true;
}

/** The local runtime could not be started or reached. */
export class RuntimeStartFailed extends VoxmemError {
  protected static override defaultCode: ErrorCode = "runtime.start_failed";
  protected static override defaultStatus = 503;
  protected static override defaultRetryable = true;
}

/** The client refused the call (closed, or no free port for the runtime). */
export class PoolError extends VoxmemError {
  protected static override defaultCode: ErrorCode = "pool.exhausted";
  protected static override defaultStatus = 503;
  protected static override defaultRetryable = true;
}

/** A bug: something voxmem did not expect. */
export class InternalError extends VoxmemError {}

const BY_CODE: Record<string, typeof VoxmemError> = {
  bad_request: BadRequest,
  "index.batch_too_large": BadRequest,
  unauthorized: Unauthorized,
  forbidden: Unauthorized,
  not_found: NotFound,
  session_not_found: NotFound,
  identity_mismatch: IdentityMismatch,
  timeout: MemoryTimeout,
  "store.unavailable": StoreUnavailable,
  "runtime.start_failed": RuntimeStartFailed,
  "pool.exhausted": PoolError,
  "pool.port_exhausted": PoolError,
  "pool.closed": PoolError,
  internal: InternalError,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The matching {@link VoxmemError} for an error response body; a body that is not an
 * envelope becomes `internal` carrying the status.
 */
export function errorFromEnvelope(body: unknown, statusCode: number): VoxmemError {
  const error = isRecord(body) ? body["error"] : undefined;
  if (!isRecord(error)) {
    return new InternalError(`runtime answered ${statusCode} without an error envelope`, {
      statusCode,
    });
  }
  const code = typeof error["code"] === "string" && error["code"] ? error["code"] : "internal";
  const message = typeof error["message"] === "string" && error["message"] ? error["message"] : code;
  const details = isRecord(error["details"]) ? error["details"] : {};
  const kind = BY_CODE[code] ?? VoxmemError;
  return new kind(message, { code, statusCode, details });
}
