/**
 * The memory of one LiveKit call: caller, voxmem session, recall cache and save queue.
 *
 * Saves follow the session's own events (`conversation_item_added`,
 * `function_tools_executed`): the user writes no handler. User messages wait for the
 * assistant message that answers them, so several user turns before one reply are all
 * kept in that turn, and a reply cut off by a barge-in is saved with
 * `interrupted: true`. Saves go one at a time, in order, off the audio path. The call
 * ends when the session closes — not on an agent's exit, which also happens on handoffs.
 */
import { getJobContext, llm, log as livekitLog, voice } from "@livekit/agents";

import type { VoiceClient } from "../client.js";
import type { Preload } from "../types.js";
import type { CallerIdentity } from "./identity.js";

let warnedTwoCopies = false;

/**
 * The session comes from another copy of `@livekit/agents` than the one this module
 * loads: the client installed from a folder is a symlink, so its imports resolve in the
 * client's own `node_modules` (its development copy), not the app's. Its messages are
 * then not this copy's `ChatMessage` and its job context is not this copy's: no turn
 * was saved and no caller found, and nothing said so (found installing the client as
 * the README said, into a project with its own `@livekit/agents`).
 */
function warnTwoCopies(): void {
  if (warnedTwoCopies) return;
  warnedTwoCopies = true;
  process.emitWarning(
    "this AgentSession comes from another copy of @livekit/agents than the one " +
      "@voxmem/client/livekit loads (a client installed from a folder is a symlink that " +
      "resolves its own node_modules): turns are not saved and the caller is not found. " +
      "Install it as a copy: npm install --install-links /path/to/voxmem/clients/typescript",
    { type: "voxmem.client", code: "VOXMEM_LIVEKIT_TWO_COPIES" },
  );
}

/** Deadline of one turn's recall. */
export const DEFAULT_SEARCH_TIMEOUT_MS = 250;
/** Deadline of the session-start preload (start_session + preload). */
export const DEFAULT_PRELOAD_TIMEOUT_MS = 1500;
/**
 * How long the end of a call waits for its queued saves, and for ending the voxmem
 * session, before it gives up (logged). A job's shutdown waits for the end of the call,
 * and a stalled runtime would otherwise hold it for the client's request timeout per
 * queued save. The Python integration's bounds.
 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
/** How long one turn's save may take before it is logged as lost. */
const SAVE_TIMEOUT_MS = 10_000;
/** How long ending the voxmem session may take at the end of a call. */
const END_SESSION_TIMEOUT_MS = 10_000;
/** Lanes of a per-turn recall: the profile and recent turns are in the preload already. */
export const DEFAULT_TURN_LANES = ["permanent", "org"];
/** Id prefix of the system message a recall is inserted as. */
export const RECALL_MESSAGE_PREFIX = "voxmem_recall_";
/** Margin on top of the client's own recall deadline (it already adds its grace). */
const DEADLINE_SLACK_MS = 50;
const RECALL_CACHE_SIZE = 64;
const MAX_TOOL_OUTPUT_CHARS = 2000;
/** A recall's createdAt lead over its user message: LiveKit orders items by createdAt. */
const RECALL_LEAD_MS = 0.001;

/** Memory problems are logged through the framework's logger, as `voxmem.livekit`; they never stop a call. */
export const log = {
  warn: (message: string): void => {
    try {
      livekitLog().child({ name: "voxmem.livekit" }).warn(message);
    } catch {
      // the framework's logger is set up by its CLI; a bare script has none
      console.warn(`voxmem.livekit: ${message}`);
    }
  },
  error: (message: string): void => {
    try {
      livekitLog().child({ name: "voxmem.livekit" }).error(message);
    } catch {
      console.error(`voxmem.livekit: ${message}`);
    }
  },
};

interface PendingTurn {
  userTexts: string[];
  userItemIds: string[];
  assistantText: string;
  assistantItemId: string | undefined;
  interrupted: boolean;
  toolCalls: Record<string, unknown>[];
  unanswered: boolean;
}

const SESSIONS = new WeakMap<object, CallMemory>();

// String.prototype.toWellFormed does this from ES2024; the package targets ES2023.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` as the runtime can store it: NUL characters dropped, lone UTF-16 surrogates
 * made U+FFFD. The runtime refuses both (no store keeps them), and an STT transcript or
 * a reply streamed in pieces (half an emoji) can carry either: refused, the whole turn
 * and its recall would be lost.
 */
export function storable(text: string): string {
  return text.replace(/\u0000/g, "").replace(LONE_SURROGATE, "\uFFFD");
}

function storableValue(value: unknown): unknown {
  if (typeof value === "string") return storable(value);
  if (Array.isArray(value)) return value.map(storableValue);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storableValue(v)]));
  }
  return value;
}

/** `promise`, or `undefined` once `ms` have passed (the work itself goes on). */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * `promise`'s value, or why the caller stops waiting for it: `ms` have passed, or
 * `client` has found its runtime still starting (seconds on a cold host: waiting the
 * deadline out would only hold the reply). The work itself goes on either way.
 */
export async function untilDeadlineOrStart<T>(
  client: VoiceClient,
  promise: Promise<T>,
  ms: number,
): Promise<{ value: T } | { late: "deadline" | "starting" }> {
  const stop = new AbortController();
  const starting = client.whenRuntimeStarting(stop.signal).then((yes) => (yes ? "starting" as const : undefined));
  try {
    const first = await withDeadline(Promise.race([promise.then((value) => ({ value })), starting.then((why) => why ?? NEVER)]), ms);
    if (first === undefined) return { late: "deadline" };
    return typeof first === "string" ? { late: first } : first;
  } finally {
    stop.abort(); // no waiter left behind on a runtime that is up
  }
}

const NEVER = new Promise<never>(() => undefined);

const LANES = ["profile", "working", "permanent", "org"];

/**
 * Throws when an option would make every turn's recall fail: a deadline that is not a
 * positive finite number of milliseconds, `lanes` that is not an array, an unknown lane.
 * Accepted, each of these only logged a warning on every turn of every call.
 */
export function checkCallOptions(options: { searchTimeoutMs?: unknown; preloadTimeoutMs?: unknown; lanes?: unknown }): void {
  for (const name of ["searchTimeoutMs", "preloadTimeoutMs"] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value > 0)) {
      throw new RangeError(`${name} must be a positive number of milliseconds, not ${JSON.stringify(value) ?? String(value)}`);
    }
  }
  const lanes = options.lanes;
  if (lanes === undefined) return;
  if (!Array.isArray(lanes)) {
    throw new TypeError(`lanes must be an array of lane names such as ["permanent"], not ${JSON.stringify(lanes)}`);
  }
  const unknown = lanes.filter((lane) => !LANES.includes(lane as string));
  if (unknown.length > 0) {
    throw new RangeError(`unknown lane ${unknown.map((lane) => JSON.stringify(lane)).join(", ")}; lanes are ${LANES.join(", ")}`);
  }
}

/** Options of {@link CallMemory}. */
export interface CallMemoryOptions {
  client: VoiceClient | undefined;
  identity: CallerIdentity;
  searchTimeoutMs?: number;
  preloadTimeoutMs?: number;
  /** Longest wait for queued saves at the end of the call (and for ending the session). */
  closeTimeoutMs?: number;
  /** Lanes of each turn's recall (`undefined`: every lane). */
  lanes?: string[] | undefined;
  sessionMetadata?: Record<string, unknown>;
}

/**
 * The memory of one call. {@link MemoryAgent} creates it on entering a session; every
 * agent of the session (handoffs included) finds it with {@link CallMemory.of}.
 *
 * @example
 * const memory = new CallMemory({ client, identity: CallerIdentity.explicit("caller-42") });
 * memory.attach(session);
 * const preload = await memory.open();
 */
export class CallMemory {
  readonly client: VoiceClient | undefined;
  readonly identity: CallerIdentity;
  readonly searchTimeoutMs: number;
  readonly preloadTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly lanes: string[] | undefined;
  /** The voxmem session id of this call once opened. */
  sessionId: string | undefined;
  /** The session-start memory block once opened (`undefined` if it failed or was late). */
  preload: Preload | undefined;
  /** Per-turn searches run, turns saved, saves that failed. */
  recalls = 0;
  saves = 0;
  saveFailures = 0;
  private readonly sessionMetadata: Record<string, unknown>;
  private opening: Promise<Preload | undefined> | undefined;
  /**
   * Settles when `startSession` + `preload` have (ok or not), however long a runtime still
   * starting takes: the saves wait for it, in order, instead of timing out into nothing.
   */
  private opened: Promise<void> = Promise.resolve();
  /** Past its deadline and still on its way: recall would only wait out its own. */
  private stillOpening = false;
  private openSettled = false;
  private readonly byMessage = new Map<string, Promise<string>>();
  private pendingUser: llm.ChatMessage[] = [];
  private pendingTools: Record<string, unknown>[] = [];
  private saving: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(options: CallMemoryOptions) {
    checkCallOptions(options);
    this.client = options.client;
    this.identity = options.identity;
    this.searchTimeoutMs = options.searchTimeoutMs ?? DEFAULT_SEARCH_TIMEOUT_MS;
    this.preloadTimeoutMs = options.preloadTimeoutMs ?? DEFAULT_PRELOAD_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.lanes = "lanes" in options ? options.lanes : DEFAULT_TURN_LANES;
    this.sessionMetadata = options.sessionMetadata ?? {};
  }

  /** Whether this call is recorded and recalled (a known caller and a client). */
  get enabled(): boolean {
    return this.client !== undefined && !this.identity.anonymous;
  }

  /** The memory attached to `session`, if any. */
  static of(session: object): CallMemory | undefined {
    return SESSIONS.get(session);
  }

  /**
   * Bind to `session`: saves and the end of the call follow its events. Returns the
   * memory already attached to the session if there is one (later agents share it).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any UserData of the session
  attach(session: voice.AgentSession<any>): CallMemory {
    const existing = SESSIONS.get(session);
    if (existing !== undefined) return existing;
    SESSIONS.set(session, this);
    if (!(session instanceof voice.AgentSession)) warnTwoCopies();
    if (this.enabled) {
      session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (event) => this.onItemAdded(event));
      session.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (event) => this.onToolsExecuted(event));
    }
    session.on(voice.AgentSessionEventTypes.Close, (event) => {
      void this.close(String(event.reason ?? "completed"));
    });
    const job = getJobContext(false);
    // A job that shuts down without the session closing still ends the call.
    job?.addShutdownCallback(async () => this.close("job_shutdown"));
    return this;
  }

  /** Open the caller's voxmem session and preload their memory, once per call. */
  open(): Promise<Preload | undefined> {
    if (!this.enabled) return Promise.resolve(undefined);
    this.opening ??= this.doOpen();
    return this.opening;
  }

  /**
   * Wait for the opening however long it takes (a runtime still starting, bounded by the
   * client's start and request timeouts): the preload, or `undefined` when memory is off
   * or the opening failed.
   */
  async waitOpen(): Promise<Preload | undefined> {
    if (!this.enabled) return undefined;
    void this.open();
    await this.opened;
    return this.preload;
  }

  private async doOpen(): Promise<Preload | undefined> {
    const client = this.client as VoiceClient;
    const user = this.identity.toUser();
    const work = (async () => {
      const info = await client.startSession({
        user,
        metadata: { source: "livekit", ...this.identity.identifiers(), ...this.sessionMetadata },
      });
      this.sessionId = typeof info["sessionId"] === "string" ? info["sessionId"] : undefined;
      this.preload = await client.preload({ user });
      return this.preload;
    })();
    this.opened = work.then(
      () => undefined,
      () => undefined,
    );
    void this.opened.then(() => {
      this.openSettled = true;
      this.stillOpening = false;
    });
    try {
      // Not past the deadline on a runtime still starting: the caller hears the first
      // reply at once rather than after a pause (as in Python's CallMemory.open).
      const opened = await untilDeadlineOrStart(client, work, this.preloadTimeoutMs);
      if ("late" in opened) {
        const why = opened.late === "starting" ? "(the runtime is starting)" : `within its ${this.preloadTimeoutMs} ms preload deadline`;
        log.warn(`memory is not ready ${why}; the call starts without it, and it is loaded for the next reply once the runtime answers`);
        // The opening goes on: the preload reaches the next generation (llmNode), and the
        // saves wait for the session id.
        this.stillOpening = !this.openSettled;
        work.catch(() => undefined);
        return undefined;
      }
      return opened.value;
    } catch (error) {
      log.warn(`memory preload failed (${String(error)}); the call starts without memory`);
      return undefined;
    }
  }

  /**
   * The memory block for one user turn, or `""`; never throws, never overruns its
   * deadline. A message already recalled (speech hook, text path) is not searched again.
   */
  recall(textIn: string | undefined, messageId?: string): Promise<string> {
    const query = storable(textIn ?? "").trim();
    if (!this.enabled || !query || this.stillOpening) return Promise.resolve("");
    const cached = messageId === undefined ? undefined : this.byMessage.get(messageId);
    if (cached !== undefined) return cached;
    const search = this.search(query);
    if (messageId !== undefined) {
      this.byMessage.set(messageId, search);
      if (this.byMessage.size > RECALL_CACHE_SIZE) {
        const oldest = this.byMessage.keys().next().value;
        if (oldest !== undefined) this.byMessage.delete(oldest);
      }
    }
    return search;
  }

  private async search(query: string): Promise<string> {
    const client = this.client as VoiceClient;
    this.recalls += 1;
    try {
      const result = await withDeadline(
        client.searchMemory(query, { user: this.identity.toUser(), lanes: this.lanes, timeoutMs: this.searchTimeoutMs }),
        this.searchTimeoutMs + client.recallGraceMs + DEADLINE_SLACK_MS,
      );
      return result?.contextText ?? "";
    } catch (error) {
      log.warn(`memory recall failed (${String(error)}); answering without memory`);
      return "";
    }
  }

  // -- saves ------------------------------------------------------------------------------
  private onItemAdded(event: voice.ConversationItemAddedEvent): void {
    const item = event.item;
    if (!(item instanceof llm.ChatMessage) || this.closing !== undefined) return;
    if (item.role === "user") {
      if (!(item.textContent ?? "").trim()) return;
      if (this.pendingTools.length > 0) {
        // The last turn was answered by tools alone: it ends here.
        this.enqueue(this.takeTurn("", undefined, false));
      }
      this.pendingUser.push(item);
    } else if (item.role === "assistant") {
      const assistantText = (item.textContent ?? "").trim();
      if (!assistantText && this.pendingUser.length === 0) return;
      this.enqueue(this.takeTurn(assistantText, item.id, item.interrupted));
    }
  }

  private onToolsExecuted(event: voice.FunctionToolsExecutedEvent): void {
    for (const [call, output] of voice.zipFunctionCallsAndOutputs(event)) {
      this.pendingTools.push({
        name: call.name,
        arguments: call.args,
        call_id: call.callId,
        output: (output.output ?? "").slice(0, MAX_TOOL_OUTPUT_CHARS),
        is_error: output.isError,
      });
    }
  }

  private takeTurn(assistantText: string, assistantItemId: string | undefined, interrupted: boolean, unanswered = false): PendingTurn {
    const users = this.pendingUser;
    const toolCalls = this.pendingTools;
    this.pendingUser = [];
    this.pendingTools = [];
    return {
      userTexts: users.map((m) => storable((m.textContent ?? "").trim())),
      userItemIds: users.map((m) => m.id),
      assistantText: storable(assistantText),
      assistantItemId,
      interrupted,
      toolCalls: storableValue(toolCalls) as Record<string, unknown>[],
      unanswered,
    };
  }

  private enqueue(turn: PendingTurn): void {
    // One at a time, in order: the turns of a call reach the journal as they were spoken.
    this.saving = this.saving.then(() => this.save(turn));
  }

  private async save(turn: PendingTurn): Promise<void> {
    const metadata: Record<string, unknown> = { source: "livekit", user_item_ids: turn.userItemIds };
    if (turn.assistantItemId) metadata["assistant_item_id"] = turn.assistantItemId;
    if (turn.unanswered) metadata["unanswered"] = true;
    // Said while the runtime starts: saved into the session being opened, once it is.
    await this.opened;
    try {
      const saved = (this.client as VoiceClient).saveResponse({
        user: this.identity.toUser(),
        userText: turn.userTexts.join("\n"),
        assistantText: turn.assistantText,
        // The assistant item id is stable across a retry of this same save.
        turnId: turn.assistantItemId,
        toolCalls: turn.toolCalls,
        metadata,
        interrupted: turn.interrupted,
      });
      // The next turn's save must not queue behind a runtime that stopped answering.
      if ((await withDeadline(saved.then(() => true), SAVE_TIMEOUT_MS)) === undefined) {
        saved.catch(() => undefined);
        throw new Error(`no answer within ${SAVE_TIMEOUT_MS / 1000} s`);
      }
      this.saves += 1;
    } catch (error) {
      this.saveFailures += 1;
      log.warn(`could not save a turn of caller ${this.identity.userId} (${String(error)})`);
    }
  }

  // -- close ------------------------------------------------------------------------------
  /** Drain the saves, then end the voxmem session (once; later calls share it). */
  close(reason = "completed"): Promise<void> {
    this.closing ??= this.doClose(reason);
    return this.closing;
  }

  private async doClose(reason: string): Promise<void> {
    if (!this.enabled) return;
    if (this.pendingUser.length > 0 || this.pendingTools.length > 0) {
      // The caller spoke and the call ended before an answer: keep their words.
      this.enqueue(this.takeTurn("", undefined, false, true));
    }
    const deadline = Date.now() + this.closeTimeoutMs;
    if ((await withDeadline(this.saving.then(() => true), this.closeTimeoutMs)) === undefined) {
      log.warn(`memory saves still pending after ${this.closeTimeoutMs} ms at the end of the call`);
    }
    if (this.opening !== undefined) {
      await this.opening;
      // Past its preload deadline on a runtime still starting, the opening goes on: the
      // session it opens is the one to end. Ended without its id, the runtime would end
      // whatever the caller had open, and the session opened later would stay open.
      const left = Math.max(0, deadline - Date.now());
      if (!this.openSettled && (await withDeadline(this.opened.then(() => true), left)) === undefined) {
        log.warn(`the memory session of caller ${this.identity.userId} is not open yet at the end of the call; it is ended once the runtime answers`);
        void this.opened.then(() => this.saving).then(async () => {
          if (this.sessionId !== undefined) await this.endSession(reason, END_SESSION_TIMEOUT_MS);
        });
        return;
      }
    }
    await this.endSession(reason, Math.min(END_SESSION_TIMEOUT_MS, this.closeTimeoutMs));
  }

  /** End this call's voxmem session within `endMs`; never throws. */
  private async endSession(reason: string, endMs: number): Promise<void> {
    try {
      const ended = (this.client as VoiceClient).endSession({ user: this.identity.toUser(), reason, sessionId: this.sessionId });
      if ((await withDeadline(ended.then(() => true), endMs)) === undefined) {
        ended.catch(() => undefined);
        throw new Error(`no answer within ${endMs} ms`);
      }
    } catch (error) {
      log.warn(`could not end the memory session of caller ${this.identity.userId} (${String(error)})`);
    }
  }
}

/** True for the system message voxmem inserts before a user message. */
export function isRecallMessage(item: unknown): boolean {
  return item instanceof llm.ChatMessage && item.id.startsWith(RECALL_MESSAGE_PREFIX);
}

/**
 * Insert `contextText` as a system message immediately before `userMessage`. LiveKit
 * orders items by `createdAt`, so the recall is stamped just before the user message;
 * when the user message is not in `chatCtx` yet (the speech hook's turn context), the
 * framework inserts it right after this one.
 */
export function insertRecall(chatCtx: llm.ChatContext, userMessage: llm.ChatMessage, contextText: string): llm.ChatMessage {
  const message = llm.ChatMessage.create({
    id: `${RECALL_MESSAGE_PREFIX}${userMessage.id}`,
    role: "system",
    content: [contextText],
    createdAt: userMessage.createdAt - RECALL_LEAD_MS,
    extra: { voxmem: "recall" },
  });
  const index = chatCtx.indexById(userMessage.id);
  if (index === undefined) chatCtx.insert(message);
  else chatCtx.items.splice(index, 0, message);
  return message;
}
