/**
 * The memory tools for the LLM of a LiveKit agent (`llm.tool` with zod schemas).
 *
 * Every tool is bound to the caller of the session it runs in (found through
 * {@link CallMemory.of}): the model chooses what to look up or store, never whose memory.
 * A memory failure becomes a `ToolError`, a message the model can work with.
 */
import { llm } from "@livekit/agents";
import { z } from "zod";

import { VoxmemError } from "../errors.js";
import { INTENTS, type MemoryTool } from "../tool.js";
import { CallMemory } from "./call.js";

/** Profile fields the model may set with `update_profile` unless told otherwise. */
export const DEFAULT_PROFILE_FIELDS = ["name", "preferred_name", "email", "preferred_language", "timezone", "preferred_contact_time"];
/** Spoken while a knowledge search runs long. */
export const DEFAULT_FILLER = "One moment, I'm looking that up.";
/** Silence before the filler: a faster search is answered without it. */
export const DEFAULT_FILLER_DELAY_MS = 500;
const TOOL_TIMEOUT_MS = 1000;
const KNOWLEDGE_TIMEOUT_MS = 1500;
/** Knowledge lookups read only the org lane; this id never reaches any caller's memory. */
const KNOWLEDGE_LOOKUP_USER = { id: "voxmem:knowledge-lookup" };
export const TOOL_NAMES = [
  "remember_detail",
  "recall_detail",
  "forget_detail",
  "search_memories",
  "list_user_memories",
  "update_profile",
  "search_knowledge",
] as const;

function slug(raw: string): string {
  const value = raw.trim().toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (!value) throw new llm.ToolError("memory_type must contain letters or digits, e.g. 'preferred_contact_time'");
  return value.slice(0, 48);
}

function callerOf(session: object): CallMemory {
  const memory = CallMemory.of(session);
  if (memory === undefined || !memory.enabled || memory.client === undefined) {
    throw new llm.ToolError("Memory is off for this call (the caller is not identified); continue without it.");
  }
  return memory;
}

async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof llm.ToolError) throw error;
    if (error instanceof VoxmemError && error.code === "bad_request") throw new llm.ToolError(`Could not ${what}: ${error.message}`);
    throw new llm.ToolError(`Memory is unavailable right now, so I could not ${what}; continue without it.`);
  }
}

function factLine(fact: Record<string, unknown>): string | undefined {
  const text = fact["text"] ?? fact["content"];
  return typeof text === "string" && text.trim() ? `- ${text.trim()}` : undefined;
}

/** Options of {@link memoryTools}. */
export interface MemoryToolsOptions {
  profileFields?: string[];
  filler?: string;
  fillerDelayMs?: number;
}

/**
 * The memory tools, keyed by name, for `new voice.Agent({ tools: memoryTools() })`.
 *
 * @example
 * const agent = new MemoryAgent({ client, instructions: "You are Ava.", tools: memoryTools() });
 */
export function memoryTools(options: MemoryToolsOptions = {}) {
  const profileFields = options.profileFields ?? DEFAULT_PROFILE_FIELDS;
  const filler = options.filler ?? DEFAULT_FILLER;
  const fillerDelayMs = options.fillerDelayMs ?? DEFAULT_FILLER_DELAY_MS;
  return {
    remember_detail: llm.tool({
      description:
        "Store one durable detail about the caller under a short snake_case type, e.g. " +
        "preferred_contact_time; a new value replaces the old one of that type.",
      parameters: z.object({
        memory_type: z.string().describe("Short snake_case kind of detail, e.g. delivery_preference"),
        content: z.string().describe("The detail in the caller's own terms"),
      }),
      execute: async ({ memory_type, content }, { ctx }) => {
        const memory = callerOf(ctx.session);
        const type = slug(memory_type);
        await guarded("store that", () => memory.client!.remember({ user: memory.identity.toUser(), memoryType: type, content: content.slice(0, 1000) }));
        return `Stored ${type}.`;
      },
    }),
    recall_detail: llm.tool({
      description: "The caller's stored value for one memory type, e.g. preferred_contact_time.",
      parameters: z.object({ memory_type: z.string().describe("The snake_case kind of detail") }),
      execute: async ({ memory_type }, { ctx }) => {
        const memory = callerOf(ctx.session);
        const type = slug(memory_type);
        const value = await guarded("look that up", () => memory.client!.recall({ user: memory.identity.toUser(), memoryType: type }));
        return value === null ? `Nothing stored for ${type}.` : value;
      },
    }),
    forget_detail: llm.tool({
      description: "Delete the caller's stored value for one memory type when they ask you to forget it.",
      parameters: z.object({ memory_type: z.string().describe("The snake_case kind of detail") }),
      execute: async ({ memory_type }, { ctx }) => {
        const memory = callerOf(ctx.session);
        const type = slug(memory_type);
        const gone = await guarded("forget that", () => memory.client!.forget({ user: memory.identity.toUser(), memoryType: type }));
        return gone ? `Forgot ${type}.` : `Nothing was stored for ${type}.`;
      },
    }),
    search_memories: llm.tool({
      description: "Search what the caller said and was promised in earlier calls.",
      parameters: z.object({ query: z.string().describe("What to look up, as a short question") }),
      execute: async ({ query }, { ctx }) => {
        const memory = callerOf(ctx.session);
        const result = await memory.client!.searchMemory(query, { user: memory.identity.toUser(), timeoutMs: TOOL_TIMEOUT_MS });
        return result.contextText || "No relevant memory found for this caller.";
      },
    }),
    list_user_memories: llm.tool({
      description: "List the facts stored about the caller.",
      execute: async (_args, { ctx }) => {
        const memory = callerOf(ctx.session);
        const facts = await guarded("list memories", () => memory.client!.listMemories({ user: memory.identity.toUser() }));
        const lines = facts.map(factLine).filter((line): line is string => line !== undefined);
        return lines.length > 0 ? lines.slice(0, 30).join("\n") : "Nothing is stored about this caller yet.";
      },
    }),
    update_profile: llm.tool({
      description: `Set one profile field of the caller (one of: ${profileFields.join(", ")}).`,
      parameters: z.object({
        field: z.string().describe(`One of: ${profileFields.join(", ")}`),
        value: z.string().describe("The new value"),
      }),
      execute: async ({ field, value }, { ctx }) => {
        const memory = callerOf(ctx.session);
        if (!profileFields.includes(field)) {
          throw new llm.ToolError(`'${field}' is not a profile field; use one of: ${profileFields.join(", ")}`);
        }
        await guarded("update the profile", () => memory.client!.updateProfile({ user: memory.identity.toUser(), field, value }));
        return `Profile ${field} updated.`;
      },
    }),
    search_knowledge: llm.tool({
      description: "Search the company's knowledge base (policies, products, opening hours).",
      parameters: z.object({ query: z.string().describe("What to look up") }),
      execute: async ({ query }, { ctx }) => {
        const memory = CallMemory.of(ctx.session);
        if (memory?.client === undefined) throw new llm.ToolError("The knowledge base is not available in this call.");
        // Speak a short filler only when the lookup is slow enough to leave silence.
        const timer = setTimeout(() => {
          try {
            ctx.session.say(filler, { addToChatCtx: false });
          } catch {
            // no audio output (text session): the filler is not needed
          }
        }, fillerDelayMs);
        try {
          const result = await memory.client.searchMemory(query, { user: KNOWLEDGE_LOOKUP_USER, lanes: ["org"], intent: "knowledge", timeoutMs: KNOWLEDGE_TIMEOUT_MS });
          return result.contextText || "Nothing in the knowledge base about that.";
        } finally {
          clearTimeout(timer);
        }
      },
    }),
  };
}

/**
 * A LiveKit `llm.tool` for a {@link MemoryTool} (Python: `MemoryTool.to_livekit_tool()`),
 * under the same name and description; the tool stays bound to its caller.
 *
 * @example
 * const tools = { search_memory: toLivekitTool(client.searchMemoryTool({ user })) };
 */
export function toLivekitTool(memoryTool: MemoryTool) {
  return llm.tool({
    description: memoryTool.description,
    parameters: z.object({
      query: z.string().describe("What to look up, as a short natural-language question"),
      intent: z.enum(INTENTS).optional().describe("Why you are searching; answer_current_user by default"),
    }),
    execute: async ({ query, intent }) => await memoryTool.call(query, { intent }),
  });
}
