/**
 * `VoiceClient`: the operations of the Python `VoiceClient`, camelCased, over the runtime.
 */
import { randomUUID } from "node:crypto";

import { BadRequest, MemoryTimeout, PoolError, RuntimeStartFailed, StoreUnavailable, Unauthorized } from "./errors.js";
import { OPERATIONS, type OperationName } from "./generated/operations.js";
import { defaultDataDir } from "./runtime.js";
import { MemoryTool, type MemoryToolOptions } from "./tool.js";
import { RuntimeTransport } from "./transport.js";
import type { CallerRef, IndexBuildResult, Json, OptionsOf, Preload, SearchResult, TurnSaved } from "./types.js";

/** Default deadline of a recall, as in the Python client. */
export const DEFAULT_RECALL_TIMEOUT_MS = 250;
/** Transport allowance on top of `timeoutMs` before a recall answers without memory. */
export const DEFAULT_RECALL_GRACE_MS = 250;
/** Deadline of every call other than `searchMemory`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Options of {@link VoiceClient}; the Python keyword names in camelCase. */
export interface VoiceClientOptions {
  projectId: string;
  agentId: string;
  /**
   * Tenant of every call. Not given: no tenant is sent, so the runtime applies its
   * default tenant, or the tenant of the API key in `apiKey` (a key of another tenant
   * than one given here is refused with 403 `forbidden`).
   */
  tenantId?: string;
  /** The runtime token, or a tenant's API key (`voxmem keys create`); default `VOXMEM_RUNTIME_TOKEN`. */
  apiKey?: string;
  /** A runtime to talk to instead of the local one (default `VOXMEM_RUNTIME_URL`). */
  runtimeUrl?: string;
  /** Data directory of the local runtime (default `VOXMEM_DATA_DIR`, else `$XDG_DATA_HOME/voxmem`). */
  dataDir?: string;
  /** How to run the runtime when none is running; default: `voxmem` on PATH. */
  runtimeCommand?: string[];
  /** Port range of a runtime this client starts. */
  runtimePortRange?: [number, number];
  /** Settings of a runtime this client starts, by name (`{ embedder: "hashing" }`). */
  settings?: Record<string, string | number | boolean>;
  recallTimeoutMs?: number;
  recallGraceMs?: number;
  /** Deadline of a request once the runtime answers (default 30 s; `searchMemory` has its own). */
  requestTimeoutMs?: number;
  /** How long a call waits for a local runtime to start (default 30 s), on top of its request's deadline. */
  runtimeStartTimeoutMs?: number;
  /** Environment to read `VOXMEM_*` variables from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** Who a call is about: `user` (`{ id, name, metadata }`) or its alias `userId`. */
export interface CallerArgs {
  user?: CallerRef | null;
  userId?: string | null;
}

/** Options of {@link VoiceClient.searchMemory}, for a document without typed bodies. */
interface SearchFields extends CallerArgs {
  lanes?: string[];
  intent?: string;
  topK?: Record<string, number>;
  timeoutMs?: number;
  mode?: "fast" | "accurate";
}

/** Options of {@link VoiceClient.searchMemory}: `lanes`, `intent`, `topK`, `timeoutMs`, `mode`. */
export type SearchOptions = Omit<OptionsOf<"search_memory", SearchFields>, "query">;

/** Options of {@link VoiceClient.saveResponse}: `userText`, `assistantText`, `turnId`, `toolCalls`, `metadata`, `interrupted`. */
export type SaveOptions = OptionsOf<
  "save_response",
  CallerArgs & {
    userText: string;
    assistantText: string;
    turnId?: string;
    toolCalls?: Json[];
    metadata?: Json;
    interrupted?: boolean;
  }
>;

/** Options of {@link VoiceClient.startSession}. */
export type StartSessionOptions = OptionsOf<"start_session", CallerArgs & { sessionId?: string; metadata?: Json }>;
/** Options of {@link VoiceClient.endSession}. */
export type EndSessionOptions = OptionsOf<
  "end_session",
  /** `wait`: return once learning from the call has finished (result's `learning`). */
  CallerArgs & { reason?: string; sessionId?: string; report?: Json; wait?: boolean }
>;
/** Options of {@link VoiceClient.importHistory}. */
export type ImportHistoryOptions = OptionsOf<
  "import_history",
  CallerArgs & { sessions: Json[]; learn?: boolean; outsideRetention?: "refuse" | "skip" }
>;

const camelToSnake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The name `field` (camelCase) travels under for `op`: the name the runtime's document
 * lists for the operation; for a field it does not list, the operation's convention as
 * its scope fields show it (`projectId` or `project_id`); for an operation the document
 * does not describe field by field, the snake_case Python parameter name.
 */
export function wireName(op: OperationName, field: string): string {
  const known: readonly string[] = OPERATIONS[op].requestFields;
  if (known.includes(field)) return field;
  const snake = camelToSnake(field);
  if (known.includes(snake)) return snake;
  return known.includes("projectId") ? field : snake;
}

/** A fresh turn id, fixed before the first attempt so a retry is the same turn. */
export function newTurnId(): string {
  return `turn_${randomUUID().replaceAll("-", "")}`;
}

/**
 * Memory for a voice agent, served by the local voxmem runtime.
 *
 * With no `runtimeUrl` the first call finds this host's runtime through the data
 * directory's `runtime.json` and `runtime.token`, or starts one with the `voxmem`
 * command (`pip install voxmem`).
 *
 * @example
 * const client = new VoiceClient({ projectId: "support", agentId: "front-desk" });
 * const user = { id: "caller-42", name: "Dana" };
 * const recall = await client.searchMemory("when should we call back?", { user });
 * await client.saveResponse({ user, userText: "Call me after 5.", assistantText: "Will do." });
 */
export class VoiceClient {
  readonly projectId: string;
  readonly agentId: string;
  readonly tenantId: string;
  /** The tenant sent with each call: only one the caller named (see `tenantId` option). */
  private readonly wireTenantId: string | undefined;
  /** The tenant API key this client signs in with to `runtimeUrl`, if it is one. */
  private readonly tenantKey: string | undefined;
  /** What the runtime said about each tenant asked of {@link servesTenant}. */
  private readonly tenantAnswers = new Map<string, boolean>();
  readonly runtimeUrl: string | undefined;
  readonly recallTimeoutMs: number;
  readonly recallGraceMs: number;
  readonly requestTimeoutMs: number;
  /** How the client reaches the runtime (exposed for diagnostics and tests). */
  readonly transport: RuntimeTransport;
  private closed = false;

  constructor(options: VoiceClientOptions) {
    for (const name of ["projectId", "agentId"] as const) {
      const value = options[name];
      if (typeof value !== "string" || !value.trim()) {
        throw new BadRequest(`${name} must be a non-empty string`, { details: { field: name } });
      }
    }
    const env = options.env ?? process.env;
    this.projectId = options.projectId;
    this.agentId = options.agentId;
    this.tenantId = options.tenantId || "default";
    this.wireTenantId = options.tenantId || undefined;
    this.runtimeUrl = options.runtimeUrl || env["VOXMEM_RUNTIME_URL"] || undefined;
    const token = options.apiKey || env["VOXMEM_RUNTIME_TOKEN"] || undefined;
    // A tenant's key reads vxk_<id>_<secret>: no tenant in it (see servesTenant).
    this.tenantKey = this.runtimeUrl && token?.startsWith("vxk_") ? token : undefined;
    this.recallTimeoutMs = options.recallTimeoutMs ?? DEFAULT_RECALL_TIMEOUT_MS;
    this.recallGraceMs = options.recallGraceMs ?? DEFAULT_RECALL_GRACE_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const runtimeEnv: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.settings ?? {})) {
      runtimeEnv[`VOXMEM_${name.toUpperCase()}`] = String(value);
    }
    if (options.runtimePortRange) {
      runtimeEnv["VOXMEM_RUNTIME_PORT_MIN"] = String(options.runtimePortRange[0]);
      runtimeEnv["VOXMEM_RUNTIME_PORT_MAX"] = String(options.runtimePortRange[1]);
    }
    this.transport = new RuntimeTransport({
      runtimeUrl: this.runtimeUrl,
      token,
      local: {
        dataDir: options.dataDir ?? defaultDataDir(env),
        command: options.runtimeCommand,
        env: runtimeEnv,
        startTimeoutMs: options.runtimeStartTimeoutMs,
        processEnv: env,
      },
    });
  }

  /**
   * Whether this client's calls run in `tenantId`: the `tenantId` it was given; with none
   * and a tenant's API key, whether the key is bound to `tenantId` (asked of the runtime
   * once: a call naming another tenant than the key's is refused with 403; `false` when
   * it cannot tell); else the default tenant. `tenantId` alone reads "default" for a
   * client built with only a key, whose calls run in the key's tenant.
   */
  async servesTenant(tenantId: string, timeoutMs: number = this.requestTimeoutMs): Promise<boolean> {
    if (this.wireTenantId !== undefined || this.tenantKey === undefined) return this.tenantId === tenantId;
    const known = this.tenantAnswers.get(tenantId);
    if (known !== undefined) return known;
    const body = { tenantId, projectId: this.projectId, agentId: this.agentId };
    try {
      await this.transport.call("get_memory_policy", body, timeoutMs);
    } catch (error) {
      if (error instanceof Unauthorized && error.code === "forbidden") {
        this.tenantAnswers.set(tenantId, false);
      }
      return false; // anything else: unknown, asked again next time
    }
    this.tenantAnswers.set(tenantId, true);
    return true;
  }

  private body(op: OperationName, fields: Record<string, unknown>): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    const scope = { tenantId: this.wireTenantId, projectId: this.projectId, agentId: this.agentId };
    for (const [name, value] of Object.entries({ ...fields, ...scope })) {
      if (value !== undefined) body[wireName(op, name)] = value;
    }
    return body;
  }

  /**
   * Send `op`: `timeoutMs` (default `requestTimeoutMs`) bounds the request once the
   * runtime answers, `signal` the whole call (a runtime's start included).
   */
  private async send(op: OperationName, fields: Record<string, unknown>, timeoutMs?: number, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) {
      throw new PoolError("the client is closed", { code: "pool.closed" });
    }
    return await this.transport.call(op, this.body(op, fields), timeoutMs ?? this.requestTimeoutMs, signal);
  }

  /**
   * Recall what matters for this turn, within `timeoutMs` (default 250).
   *
   * Never stalls the turn and never throws on a timeout or an unreachable runtime: the
   * request is aborted at `timeoutMs` + `recallGraceMs` and the result is empty with
   * `trace.degraded = true` and the reason in `trace.errors`. Bad input, a wrong token
   * or a closed client still throw: those need the developer, not a retry.
   */
  async searchMemory(query: string, options: SearchOptions = {}): Promise<SearchResult> {
    const budgetMs = options.timeoutMs ?? this.recallTimeoutMs;
    if (!Number.isFinite(budgetMs) || budgetMs <= 0) {
      throw new BadRequest("timeoutMs must be a positive number of milliseconds", {
        details: { field: "timeout_ms" },
      });
    }
    // Sent only to a runtime on this machine's clock: time spent queued there counts.
    const deadlineAt = this.runtimeUrl ? undefined : Date.now() / 1000 + budgetMs / 1000;
    const { user, userId, lanes, intent, topK, mode } = options;
    const fields = { query, user, userId, lanes, intent, topK, timeoutMs: options.timeoutMs, mode, deadlineAt };
    try {
      // The turn's budget covers everything, a runtime still starting included.
      const budget = budgetMs + this.recallGraceMs;
      return (await this.send("search_memory", fields, budget, AbortSignal.timeout(budget))) as SearchResult;
    } catch (error) {
      if (error instanceof MemoryTimeout) return degradedSearch("deadline", budgetMs);
      if (error instanceof StoreUnavailable || error instanceof RuntimeStartFailed) {
        return degradedSearch(error.code, budgetMs);
      }
      throw error;
    }
  }

  /**
   * Save one turn; resolves with its event id once it is durable on disk. The turn id
   * is fixed before the first attempt, so a retry after a lost connection is one turn.
   */
  async saveResponse(options: SaveOptions): Promise<string | null> {
    const turnId = options.turnId ?? newTurnId();
    const data = (await this.send("save_response", { ...options, turnId })) as TurnSaved;
    return typeof data?.eventId === "string" && data.eventId ? data.eventId : null;
  }

  /** The session-start block: profile, top facts, last call, open commitments. */
  async preload(options: CallerArgs): Promise<Preload> {
    return (await this.send("preload", { ...options })) as Preload;
  }

  /** Open a call for the caller; another caller's `sessionId` throws `identity_mismatch`. */
  async startSession(options: StartSessionOptions): Promise<Json> {
    return (await this.send("start_session", { ...options })) as Json;
  }

  /** Close the caller's current call (`report`: e.g. the LiveKit session report). */
  async endSession(options: EndSessionOptions): Promise<Json> {
    return (await this.send("end_session", { reason: "completed", ...options })) as Json;
  }

  /** Build or append org index `name` (<= 100 documents and 1 MB per call). */
  async createIndex(name: string, documents: Json[], options: { metadata?: Json } = {}): Promise<IndexBuildResult> {
    return (await this.send("create_index", { name, documents, metadata: options.metadata })) as IndexBuildResult;
  }

  /** The project's org indexes with version and counts. */
  async listIndexes(): Promise<Json[]> {
    return asList(await this.send("list_indexes", {}));
  }

  /** Org index `name` and its documents: `{ index, documents }`. */
  async listDocuments(name: string): Promise<Json> {
    return (await this.send("list_documents", { name })) as Json;
  }

  /** Remove documents (and their chunks) from org index `name`. */
  async deleteDocuments(name: string, documentIds: string[]): Promise<Json> {
    return (await this.send("delete_documents", { name, documentIds })) as Json;
  }

  /** Remove org index `name` with all its documents. */
  async deleteIndex(name: string): Promise<Json> {
    return (await this.send("delete_index", { name })) as Json;
  }

  /** The org chunks recall would return for `query` (from index `name`, or all). */
  async searchIndex(query: string, options: { name?: string; topK?: number } = {}): Promise<Json[]> {
    const data = (await this.send("search_index", { query, ...options })) as Json | null;
    return asList(data?.["chunks"]);
  }

  /** Set one profile field of the caller. */
  async updateProfile(options: CallerArgs & { field: string; value: unknown }): Promise<Json> {
    return (await this.send("update_profile", { ...options })) as Json;
  }

  /** Backfill past calls with their real timestamps. */
  async importHistory(options: ImportHistoryOptions): Promise<Json> {
    return (await this.send("import_history", { ...options })) as Json;
  }

  /**
   * Wait until every acknowledged write is applied to the store. `learning: true` also
   * waits for end-of-call learning already under way (`flushed` is false on timeout).
   */
  async flush(timeoutS = 30, options: { learning?: boolean } = {}): Promise<Json> {
    const learning = options.learning ?? false;
    return (await this.send("flush", { timeoutS, learning }, (timeoutS + 5) * 1000)) as Json;
  }

  /** Journal records the store refused for bad data, set aside so later writes go on. */
  async listQuarantined(): Promise<Json[]> {
    const data = (await this.send("list_quarantined", {})) as Json | null;
    return asList(data?.["records"]);
  }

  /** Send quarantined record `seq` to the store again (once its cause is fixed). */
  async retryQuarantined(seq: number): Promise<Json> {
    return (await this.send("retry_quarantined", { seq })) as Json;
  }

  /** The caller's facts; `includeDeleted` adds superseded and deleted ones. */
  async listMemories(options: CallerArgs & { includeDeleted?: boolean }): Promise<Json[]> {
    return asList(await this.send("list_memories", { ...options }));
  }

  /** Memories written during one call. */
  async sessionMemories(options: CallerArgs & { sessionId: string }): Promise<Json[]> {
    return asList(await this.send("session_memories", { ...options }));
  }

  /** Delete one memory: gone from recall at once, from disk at the next cleanup. */
  async deleteMemory(memoryId: string, options: CallerArgs): Promise<Json> {
    return (await this.send("delete_memory", { ...options, memoryId })) as Json;
  }

  /** Upsert the caller's value for `memoryType` (one value per type). */
  async remember(options: CallerArgs & { memoryType: string; content: string }): Promise<Json> {
    return (await this.send("remember", { ...options })) as Json;
  }

  /** The caller's current value for `memoryType`, or `null`. */
  async recall(options: CallerArgs & { memoryType: string }): Promise<string | null> {
    const data = (await this.send("recall", { ...options })) as Json | null;
    const content = data?.["content"];
    return content === undefined || content === null ? null : String(content);
  }

  /** Delete the caller's value for `memoryType`; `true` when there was one. */
  async forget(options: CallerArgs & { memoryType: string }): Promise<boolean> {
    const data = (await this.send("forget", { ...options })) as Json | null;
    return Boolean(data?.["forgotten"]);
  }

  /** Erase everything about the caller: facts, turns, calls, journal, profile. */
  async forgetUser(options: CallerArgs): Promise<Json> {
    return (await this.send("forget_user", { ...options })) as Json;
  }

  /** Everything stored about the caller, for a data request. */
  async exportUser(options: CallerArgs): Promise<Json> {
    return (await this.send("export_user", { ...options })) as Json;
  }

  /**
   * Put a caller back from {@link exportUser}'s answer: calls, turns and facts under
   * their ids and times, the profile, deletions and supersessions, and (format 2) the
   * caller's identifiers, merges and entity graph. Into the export's own caller unless
   * `options` names another. Importing twice stores once; an export of another format is
   * refused. Identifier links come back unverified (a call start does not resolve to
   * them) unless `trustIdentifiers` says the file is the operator's own; a merge in force
   * of an id the store holds is refused (`IdentityMismatch`).
   */
  async importUser(
    exported: Json, options: CallerArgs & { trustIdentifiers?: boolean } = {},
  ): Promise<Json> {
    const keys = ["format", "name", "metadata", "profile", "sessions", "items"];
    // Format 1 listed identifiers and merges without what imports them.
    if (exported["format"] !== 1) keys.push("identifiers", "merges", "graph");
    const fields: Json = {};
    for (const key of keys) {
      if (key in exported) fields[key] = exported[key];
    }
    // Sent only when set: a runtime before the option refuses the field.
    if (options.trustIdentifiers) fields["trustIdentifiers"] = true;
    const who: CallerArgs = options.user || options.userId
      ? { user: options.user, userId: options.userId }
      : { userId: String(exported["userId"]) };
    return (await this.send("import_user", { ...fields, ...who })) as Json;
  }

  /** Move everything of caller `fromId` (a guest) to `toId` (the account). */
  async mergeUsers(fromId: string, toId: string): Promise<Json> {
    return (await this.send("merge_users", { fromId, toId })) as Json;
  }

  // -- caller directory -------------------------------------------------------------------
  /**
   * The canonical caller of a starting call from its identifiers (`{ kind, value, source }`;
   * kinds: phone, email, account, policy, external_id, livekit_identity, order, ...).
   */
  async resolveCaller(
    identifiers: Array<{ kind: string; value: string; source?: string }>,
    options: { userId?: string; name?: string; defaultUserId?: string; sessionId?: string } = {},
  ): Promise<Json> {
    return (await this.send("resolve_caller", { identifiers, ...options })) as Json;
  }

  /** Link one identifier (as written or spoken) to the caller. */
  async linkIdentifier(kind: string, value: string, options: CallerArgs & { source?: string } = {}): Promise<Json> {
    return (await this.send("link_identifier", { source: "api", ...options, kind, value })) as Json;
  }

  /**
   * Remove one identifier from the caller (a phone linked by mistake). `value` is read as
   * when it was linked, so any spelling finds it. Returns the link removed; throws
   * `NotFound` when the caller has no such identifier.
   */
  async unlinkIdentifier(kind: string, value: string, options: CallerArgs = {}): Promise<Json> {
    return (await this.send("unlink_identifier", { ...options, kind, value })) as Json;
  }

  /** Callers linked to `identifier` (phone, e-mail, account, ... or a name). */
  async findCallers(identifier: string): Promise<Json[]> {
    return asList(await this.send("find_callers", { identifier }));
  }

  /** The caller's identifiers, merges and entity graph. */
  async showCaller(options: CallerArgs): Promise<Json> {
    return (await this.send("show_caller", { ...options })) as Json;
  }

  /** Merge caller `fromId` into `toId` (undoable; `propose` only records it). */
  async mergeCallers(fromId: string, toId: string, options: { reason?: string; propose?: boolean } = {}): Promise<Json> {
    const status = options.propose ? "proposed" : "merged";
    return (await this.send("merge_callers", { fromId, toId, reason: options.reason, status })) as Json;
  }

  /** Undo merge `mergeId`: both callers get back exactly what they had. */
  async unmergeCallers(mergeId: string): Promise<Json> {
    return (await this.send("unmerge_callers", { mergeId })) as Json;
  }

  /** Recorded merges of the project (or of one caller), newest first. */
  async listMerges(options: { userId?: string } = {}): Promise<Json[]> {
    return asList(await this.send("list_merges", { ...options }));
  }

  /** Memory on/off and retention of the project and its agents. */
  async getMemoryPolicy(): Promise<Json> {
    return (await this.send("get_memory_policy", {})) as Json;
  }

  /** Set memory on/off and retention (days, 0 = no cap) for the project or this agent. */
  async setMemoryPolicy(
    options: { memoryEnabled?: boolean; memoryRetentionDays?: number; level?: "project" | "agent" } = {},
  ): Promise<Json> {
    return (await this.send("set_memory_policy", { level: "project", ...options })) as Json;
  }

  /**
   * Run `body` inside one call of the caller: the call is opened first and ended after
   * (`completed`, or `error` when `body` throws), like Python's `async with client.session()`.
   *
   * @example
   * await client.session({ user }, async (call) => {
   *   const block = await call.preload();
   *   await call.saveResponse({ userText: "hi", assistantText: "hello" });
   * });
   */
  async session<T>(
    options: StartSessionOptions,
    body: (call: CallerSession) => Promise<T>,
  ): Promise<T> {
    const opened = await this.startSession(options);
    const sessionId = typeof opened["sessionId"] === "string" ? opened["sessionId"] : (options.sessionId ?? undefined);
    const call = new CallerSession(this, { user: options.user, userId: options.userId }, sessionId);
    let reason = "completed";
    try {
      return await body(call);
    } catch (error) {
      reason = "error";
      throw error;
    } finally {
      await this.endSession({ user: options.user, userId: options.userId, sessionId, reason });
    }
  }

  /** An LLM tool that searches the given caller's memory (the LLM picks what, never whose). */
  searchMemoryTool(options: CallerArgs & Omit<MemoryToolOptions, "search"> & { lanes?: string[]; timeoutMs?: number }): MemoryTool {
    const { user, userId, lanes, timeoutMs, description } = options;
    return new MemoryTool({
      search: (query, intent) => this.searchMemory(query, { user, userId, lanes, intent, timeoutMs }),
      description,
    });
  }

  /** The OpenAI function schema of the memory tool. */
  toOpenAIFunction(): Json {
    return MemoryTool.schema();
  }

  /**
   * Resolves `true` once this client finds no runtime serving its data directory and
   * waits for one to start (seconds on a cold, loaded host), or at once while it does;
   * `false` once `signal` aborts first. Never `true` for a running runtime or a
   * `runtimeUrl`: race it against a call to answer at once instead of waiting out a
   * start, as `MemoryAgent` does with its opening.
   */
  whenRuntimeStarting(signal: AbortSignal): Promise<boolean> {
    return this.transport.whenStarting(signal);
  }

  /** Release the client; later calls throw `pool.closed`. The runtime keeps running. */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** One call of one caller, as handed to the body of {@link VoiceClient.session}. */
export class CallerSession {
  constructor(
    private readonly client: VoiceClient,
    private readonly caller: CallerArgs,
    /** The voxmem session id of this call. */
    readonly sessionId: string | undefined,
  ) {}

  searchMemory(query: string, options: Omit<SearchOptions, keyof CallerArgs> = {}): Promise<SearchResult> {
    return this.client.searchMemory(query, { ...options, ...this.caller });
  }

  saveResponse(options: Omit<SaveOptions, keyof CallerArgs>): Promise<string | null> {
    return this.client.saveResponse({ ...options, ...this.caller });
  }

  preload(): Promise<Preload> {
    return this.client.preload(this.caller);
  }

  searchMemoryTool(options: Omit<MemoryToolOptions, "search"> & { lanes?: string[]; timeoutMs?: number } = {}): MemoryTool {
    return this.client.searchMemoryTool({ ...options, ...this.caller });
  }
}

function asList(data: unknown): Json[] {
  return Array.isArray(data) ? (data as Json[]) : [];
}

/**
 * The result of a recall that could not reach memory in time: empty, flagged. Principle
 * 1 of the spec: a read that misses its deadline returns what it has and the agent
 * answers without it.
 */
export function degradedSearch(reason: string, timeoutMs: number): SearchResult {
  return {
    contextText: "",
    profile: null,
    working: [],
    permanent: [],
    org: [],
    sources: [],
    trace: { lanes: {}, lanesUsed: [], totalMs: null, degraded: true, errors: { runtime: reason }, timeoutMs },
  } as unknown as SearchResult;
}
