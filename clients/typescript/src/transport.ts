/**
 * Carries operations to a runtime over HTTP (loopback, or `runtimeUrl`).
 *
 * With no `runtimeUrl` the transport finds the data directory's runtime, starting one on
 * first use ({@link LocalRuntime}). When the runtime goes away mid-flight — killed,
 * restarted — the next one is found or started and the call is retried once with the
 * same body (a save keeps its turn id, so the runtime recognises the retry). Network
 * errors never leave this module raw: they become {@link VoxmemError} codes.
 */
import { OPERATIONS, type OperationName } from "./generated/operations.js";
import {
  MemoryTimeout,
  RuntimeStartFailed,
  StoreUnavailable,
  Unauthorized,
  VoxmemError,
  errorFromEnvelope,
} from "./errors.js";
import { LocalRuntime, type Endpoint, type LocalRuntimeOptions } from "./runtime.js";
import { request } from "./wire.js";

/** Options of {@link RuntimeTransport}. */
export interface TransportOptions {
  /** A remote runtime; needs `token`. Without it the local runtime is used. */
  runtimeUrl?: string;
  token?: string;
  local?: LocalRuntimeOptions;
}

class DeadlineExceeded extends Error {}

/** Hosts already warned about: once per process, however many clients are built. */
const warnedPlain = new Set<string>();

/**
 * Warn once per host when the token would cross a network in the clear: `http://` to
 * loopback stays on this machine; to any other host, whoever is on the path reads the
 * token (or the tenant's key) and every caller's memory with it.
 */
function warnIfPlain(runtimeUrl: string): void {
  let url: URL;
  try {
    url = new URL(runtimeUrl);
  } catch {
    return; // the request names the bad URL when it fails
  }
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (url.protocol !== "http:" || warnedPlain.has(host)) return;
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1") return;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return;
  warnedPlain.add(host);
  process.emitWarning(
    `runtimeUrl http://${host} is plain http:// to a host that is not loopback: the token travels ` +
      "unencrypted; use https:// (a TLS proxy in front of the runtime)",
    { type: "voxmem.client", code: "VOXMEM_PLAIN_HTTP" },
  );
}

/** Resolves like `promise`, or rejects with {@link DeadlineExceeded} once `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new DeadlineExceeded());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new DeadlineExceeded());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Sends runtime operations; async, never blocking, one shared runtime discovery.
 *
 * @example
 * const transport = new RuntimeTransport({ local: { dataDir } });
 * const indexes = await transport.call("list_indexes", { projectId: "p", agentId: "a" }, 30_000);
 */
export class RuntimeTransport {
  /** The local runtime manager (`undefined` when talking to `runtimeUrl`). */
  readonly local: LocalRuntime | undefined;
  private endpoint: Endpoint | undefined;
  private connecting: Promise<Endpoint> | undefined;

  constructor(options: TransportOptions) {
    if (options.runtimeUrl) {
      if (!options.token) {
        throw new Unauthorized("runtimeUrl needs a token: pass apiKey or set VOXMEM_RUNTIME_TOKEN", {
          details: { field: "apiKey" },
        });
      }
      this.endpoint = { url: options.runtimeUrl.replace(/\/+$/, ""), token: options.token, local: false };
      warnIfPlain(options.runtimeUrl);
      this.local = undefined;
    } else {
      this.local = new LocalRuntime(options.local ?? { dataDir: "" });
    }
  }

  /** The runtime to talk to, found or started once for concurrent callers. */
  async currentEndpoint(signal?: AbortSignal): Promise<Endpoint> {
    if (this.endpoint !== undefined) return this.endpoint;
    const local = this.local as LocalRuntime;
    if (this.connecting === undefined) {
      const connecting = local.findOrStart();
      this.connecting = connecting;
      connecting.then(
        (endpoint) => {
          this.endpoint = endpoint;
          this.connecting = undefined;
        },
        () => {
          this.connecting = undefined;
        },
      );
    }
    // A caller whose deadline expires stops waiting; the launch goes on for the next call.
    return await untilAborted(this.connecting, signal);
  }

  /**
   * Resolves `true` once the local runtime is found not serving and waited for while it
   * starts ({@link LocalRuntime.whenStarting}); `false` once `signal` aborts, which is
   * the only way it settles for `runtimeUrl`, a runtime this transport never starts.
   */
  whenStarting(signal: AbortSignal): Promise<boolean> {
    if (this.local !== undefined) return this.local.whenStarting(signal);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => signal.addEventListener("abort", () => resolve(false), { once: true }));
  }

  private forget(stale: Endpoint): void {
    if (this.endpoint === stale && this.local !== undefined) this.endpoint = undefined;
  }

  /**
   * Send one operation and return its JSON result, or throw the matching error.
   *
   * `timeoutMs` bounds the request once a runtime answers; finding or starting the local
   * runtime is bounded by its own start timeout, as in the Python client (a cold, loaded
   * host takes tens of seconds to start one, and the call made meanwhile — a LiveKit
   * call's opening — used to time out before the runtime was up). `signal` (optional)
   * bounds the whole call, start included: the call then throws `timeout`.
   */
  async call(op: OperationName, body: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    const { method, path } = OPERATIONS[op];
    // Serialised once: a retry sends byte-identical bytes (same turn id).
    const payload = JSON.stringify(body);
    for (const attempt of [1, 2]) {
      let endpoint: Endpoint;
      try {
        endpoint = await this.currentEndpoint(signal);
      } catch (error) {
        if (error instanceof DeadlineExceeded) throw this.timedOut(op, timeoutMs);
        throw error;
      }
      const deadline = signal === undefined
        ? AbortSignal.timeout(timeoutMs)
        : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
      let status: number;
      let text: string;
      try {
        ({ status, text } = await request(endpoint.url, method, path, payload, endpoint.token, deadline));
      } catch (error) {
        if (deadline.aborted) throw this.timedOut(op, timeoutMs);
        if (attempt === 1) {
          this.forget(endpoint);
          continue;
        }
        throw this.unreachable(op, endpoint, error);
      }
      if (status === 401 && attempt === 1 && this.local !== undefined) {
        // A restarted local runtime has a new token: rediscover once.
        this.forget(endpoint);
        continue;
      }
      return parseResponse(status, text);
    }
    throw new VoxmemError("unreachable"); // both attempts return or throw
  }

  private timedOut(op: OperationName, timeoutMs: number): MemoryTimeout {
    return new MemoryTimeout(`${op}: the runtime did not answer within ${timeoutMs} ms`);
  }

  private unreachable(op: OperationName, endpoint: Endpoint, error: unknown): VoxmemError {
    const reason = describe(error);
    if (this.local !== undefined) {
      return new RuntimeStartFailed(
        `${op}: the local runtime at ${endpoint.url} went away and no replacement answered (${reason})`,
        { details: { dataDir: this.local.dataDir } },
      );
    }
    return new StoreUnavailable(`${op}: the runtime at ${endpoint.url} is unreachable (${reason})`, {
      details: { runtimeUrl: endpoint.url },
    });
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** The result of a response, or the matching {@link VoxmemError} thrown. */
export function parseResponse(status: number, text: string): unknown {
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (status >= 200 && status < 300) {
    if (data === undefined) {
      throw new VoxmemError(`runtime answered ${status} with a body that is not JSON`, {
        code: "internal",
        statusCode: 502,
      });
    }
    return data;
  }
  throw errorFromEnvelope(data, status);
}
