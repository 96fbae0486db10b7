/**
 * `MemoryAgent`: a `voice.Agent` with the caller's memory.
 */
import { getJobContext, llm, voice } from "@livekit/agents";

import type { VoiceClient } from "../client.js";
import { CallMemory, DEFAULT_PRELOAD_TIMEOUT_MS, RECALL_MESSAGE_PREFIX, checkCallOptions, insertRecall, log, untilDeadlineOrStart, withDeadline } from "./call.js";
import { CallerIdentity, canonicalIdentity, renderMemoryInstructions, resolveCaller, type RoomLike } from "./identity.js";

/** Id LiveKit gives the agent's instructions message in the chat context. */
const INSTRUCTIONS_MESSAGE_ID = "lk.agent_task.instructions";
/** Id of the system message holding the caller's preloaded memory (as in Python). */
export const MEMORY_MESSAGE_ID = "voxmem_memory";

/** Options of {@link MemoryAgent}: LiveKit's agent options plus the memory ones. */
export type MemoryAgentOptions<UserData> = Omit<voice.AgentOptions<UserData>, "instructions"> & {
  client: VoiceClient;
  /** The instructions (the same for every caller; a `{{memory}}` in them is removed). */
  instructions: string;
  /** The caller, when you know it; otherwise job metadata → SIP → remote participant. */
  identity?: CallerIdentity;
  defaultCountryCode?: string;
  searchTimeoutMs?: number;
  preloadTimeoutMs?: number;
  /** Longest wait for queued saves (and for ending the session) when the call ends. */
  closeTimeoutMs?: number;
  lanes?: string[];
};

/** The preload in its own system message right after the instructions (replaced, never repeated). */
function putMemoryMessage(chatCtx: llm.ChatContext, text: string): void {
  const existing = chatCtx.indexById(MEMORY_MESSAGE_ID);
  if (existing !== undefined) chatCtx.items.splice(existing, 1);
  if (!text) return;
  const at = chatCtx.indexById(INSTRUCTIONS_MESSAGE_ID);
  const anchor = at === undefined ? undefined : chatCtx.items[at];
  // Stamped like the instructions, so the context stays in createdAt order for inserts.
  const createdAt = anchor?.createdAt ?? chatCtx.items[0]?.createdAt ?? Date.now();
  const message = llm.ChatMessage.create({ id: MEMORY_MESSAGE_ID, role: "system", content: [text], createdAt });
  chatCtx.items.splice(at === undefined ? 0 : at + 1, 0, message);
}

function lastUserMessage(chatCtx: llm.ChatContext): llm.ChatMessage | undefined {
  for (let i = chatCtx.items.length - 1; i >= 0; i -= 1) {
    const item = chatCtx.items[i];
    if (item instanceof llm.ChatMessage && item.role === "user") return item;
  }
  return undefined;
}

/**
 * An agent that remembers its callers.
 *
 * - On entering the session it resolves the caller, opens their voxmem session and
 *   preloads their memory, which goes in a system message of its own right after the
 *   instructions before the first reply (into the instructions on a realtime model).
 * - On every user turn it recalls under the deadline and inserts the result as a system
 *   message immediately before the user's message — for speech (`onUserTurnCompleted`)
 *   and for text input (`session.run`), which skips that hook.
 * - Turns are saved from the session's events; the call ends when the session closes.
 * Memory failures never stop the call.
 *
 * @example
 * const agent = new MemoryAgent({ client, instructions: "You are Ava.", tools: memoryTools() });
 * await session.start({ agent, room: ctx.room });
 */
export class MemoryAgent<UserData = unknown> extends voice.Agent<UserData> {
  readonly client: VoiceClient;
  private template: string;
  private readonly explicitIdentity: CallerIdentity | undefined;
  private readonly memoryOptions: {
    searchTimeoutMs?: number;
    preloadTimeoutMs?: number;
    closeTimeoutMs?: number;
    lanes?: string[];
    defaultCountryCode?: string;
  };
  private memoryOfCall: CallMemory | undefined;
  private memoryReady: Promise<CallMemory> | undefined;

  constructor(options: MemoryAgentOptions<UserData>) {
    const { client, instructions, identity, defaultCountryCode, searchTimeoutMs, preloadTimeoutMs, closeTimeoutMs, lanes, ...agentOptions } = options;
    checkCallOptions({ searchTimeoutMs, preloadTimeoutMs, lanes });
    super({ ...agentOptions, instructions: renderMemoryInstructions(instructions, "") });
    this.client = client;
    this.template = instructions;
    this.explicitIdentity = identity;
    this.memoryOptions = { searchTimeoutMs, preloadTimeoutMs, closeTimeoutMs, defaultCountryCode, ...(lanes ? { lanes } : {}) };
  }

  /** The memory of the current call (after the agent entered a session). */
  get memory(): CallMemory | undefined {
    return this.memoryOfCall;
  }

  /** The call's memory: shared with earlier agents of the session, or opened here once. */
  private attachMemory(): Promise<CallMemory> {
    this.memoryReady ??= this.openMemory();
    return this.memoryReady;
  }

  private async openMemory(): Promise<CallMemory> {
    const session = this.session;
    const existing = CallMemory.of(session);
    if (existing !== undefined) {
      this.memoryOfCall = existing; // a handoff: the call's memory is shared
      return existing;
    }
    let identity = this.resolveIdentity();
    try {
      // Bounded like the preload: a slow directory, or a runtime still starting, must
      // not hold the first reply.
      const canonical = canonicalIdentity(this.client, identity);
      const found = await untilDeadlineOrStart(this.client, canonical, this.memoryOptions.preloadTimeoutMs ?? DEFAULT_PRELOAD_TIMEOUT_MS);
      if ("value" in found) identity = found.value;
    } catch {
      // keep the identity the room gave
    }
    const tenantId = identity.extra.tenantId;
    if (tenantId) {
      const deadline = this.memoryOptions.preloadTimeoutMs ?? DEFAULT_PRELOAD_TIMEOUT_MS;
      const serves = await withDeadline(this.client.servesTenant(tenantId, deadline), deadline).catch(() => false);
      if (serves !== true) {
        // Never write one tenant's caller into another tenant's memory.
        log.error(
          `the caller belongs to tenant ${tenantId} but the memory client does not serve it (its tenant: ${this.client.tenantId}, or its API key's); memory is off for this call`,
        );
        identity = CallerIdentity.anonymousCaller();
      }
    }
    const memory = CallMemory.of(session) ?? new CallMemory({ client: this.client, identity, ...this.memoryOptions }).attach(session);
    this.memoryOfCall = memory;
    return memory;
  }

  private resolveIdentity(): CallerIdentity {
    if (this.explicitIdentity !== undefined) return this.explicitIdentity;
    const job = getJobContext(false);
    if (job === undefined) return CallerIdentity.anonymousCaller();
    return resolveCaller({
      jobMetadata: job.job.metadata,
      room: job.room as unknown as RoomLike,
      defaultCountryCode: this.memoryOptions.defaultCountryCode,
    });
  }

  /** The preload block of the call ("" without one). */
  private memoryText(): string {
    return (this.memoryOfCall?.preload?.contextText ?? "").trim();
  }

  private isRealtime(): boolean {
    let model: unknown = this.llm;
    if (model === undefined) {
      try {
        model = this.session.llm;
      } catch {
        return false; // not in a session yet
      }
    }
    return model instanceof llm.RealtimeModel;
  }

  /**
   * The instructions as sent: the template without its `{{memory}}` (identical for every
   * caller, so a provider's prompt cache keeps serving it; the preload follows in a
   * message of its own), or on a realtime model, which takes one instructions string and
   * no system messages, with the preload in them.
   */
  private sentInstructions(): string {
    return renderMemoryInstructions(this.template, this.isRealtime() ? this.memoryText() : "");
  }

  /** Open the call's memory; a realtime model gets the preload in its instructions. */
  override async onEnter(): Promise<void> {
    const memory = await this.attachMemory();
    const preload = await memory.open();
    if (preload?.contextText && this.isRealtime()) await super.updateInstructions(this.sentInstructions());
  }

  /**
   * New instructions for the rest of the call. They become the template: a `{{memory}}`
   * in them is removed (on a realtime model, the preload takes its place), and the next
   * generation keeps them. An `llm.Instructions` is used as its text.
   */
  override async updateInstructions(instructions: string | llm.Instructions): Promise<void> {
    // The template, not only the text sent: llmNode lays the instructions out from it
    // before every generation, which would otherwise put the constructor's prompt back.
    this.template = String(instructions);
    await super.updateInstructions(this.sentInstructions());
  }

  /** Recall for the finished user turn and put it immediately before the user's message. */
  override async onUserTurnCompleted(chatCtx: llm.ChatContext, newMessage: llm.ChatMessage): Promise<void> {
    const memory = await this.attachMemory();
    await memory.open();
    const text = await memory.recall(newMessage.textContent, newMessage.id);
    if (text) insertRecall(chatCtx, newMessage, text);
  }

  /**
   * Before every generation: the instructions as the template says, the preload in its
   * own message right after them (the first reply may start before `onEnter` finished),
   * and the latest user message with its recall (the text path does not run
   * `onUserTurnCompleted`).
   */
  override async llmNode(chatCtx: llm.ChatContext, toolCtx: llm.ToolContext, modelSettings: voice.ModelSettings) {
    const memory = await this.attachMemory();
    if (memory.enabled) {
      await memory.open();
      const index = chatCtx.indexById(INSTRUCTIONS_MESSAGE_ID);
      const current = index === undefined ? undefined : chatCtx.items[index];
      const sent = renderMemoryInstructions(this.template, "");
      if (index !== undefined && current instanceof llm.ChatMessage && current.textContent !== sent) {
        chatCtx.items[index] = llm.ChatMessage.create({ id: current.id, role: current.role, content: [sent], createdAt: current.createdAt });
      }
      putMemoryMessage(chatCtx, this.memoryText());
      const user = lastUserMessage(chatCtx);
      if (user !== undefined && chatCtx.indexById(`${RECALL_MESSAGE_PREFIX}${user.id}`) === undefined) {
        const text = await memory.recall(user.textContent, user.id);
        if (text) insertRecall(chatCtx, user, text);
      }
    }
    return voice.Agent.default.llmNode(this as voice.Agent, chatCtx, toolCtx, modelSettings);
  }
}
