/**
 * `MemoryTool`: recall as an LLM tool bound to one caller, so the model chooses what to
 * look up, never whose memory.
 */
import { VoxmemError } from "./errors.js";
import type { Json, SearchResult, SearchTrace } from "./types.js";

export const TOOL_NAME = "search_memory";
export const TOOL_DESCRIPTION =
  "Search long-term memory about the caller you are talking to and the company's " +
  "knowledge base. Returns short dated notes: the caller's profile (name, plan, " +
  "preferences), what they said and were promised in earlier calls, identifiers such as " +
  "order, ticket or account numbers, and relevant knowledge-base passages. Use it when " +
  "the answer depends on earlier calls or on company information you do not have in " +
  "the conversation. An empty result means nothing relevant is stored; do not guess.";
export const NOTHING_FOUND = "No relevant memory found for this caller.";
export const UNAVAILABLE = "Memory is unavailable right now; answer without it.";
const QUERY_DESCRIPTION =
  "What to look up, as a short natural-language question, e.g. 'which delivery time does the caller prefer?'";
const INTENT_DESCRIPTION =
  "Why you are searching. answer_current_user (default): answer what the caller just " +
  "asked; personalize: tailor the reply; knowledge: company information only.";
export const INTENTS = ["answer_current_user", "personalize", "knowledge"] as const;

/** Options of {@link MemoryTool}. */
export interface MemoryToolOptions {
  search: (query: string, intent: string) => Promise<SearchResult>;
  description?: string;
}

/**
 * Searches one caller's memory and answers with the composed `contextText`.
 *
 * @example
 * const tool = client.searchMemoryTool({ user: { id: "caller-42" } });
 * const text = await tool.call("what does the caller prefer for follow-ups?");
 */
export class MemoryTool {
  readonly name = TOOL_NAME;
  readonly description: string;
  /** The trace of the most recent search (per-lane ms, degraded flag). */
  lastTrace: SearchTrace | { degraded: true; errors: Record<string, string> } | undefined;
  private readonly search: MemoryToolOptions["search"];

  constructor(options: MemoryToolOptions) {
    this.search = options.search;
    this.description = options.description ?? TOOL_DESCRIPTION;
  }

  /** Search memory; a memory failure is answered with a sentence the LLM can use. */
  async call(query: string, options: { intent?: string } = {}): Promise<string> {
    try {
      const result = await this.search(query, options.intent ?? "answer_current_user");
      this.lastTrace = result.trace;
      return result.contextText || NOTHING_FOUND;
    } catch (error) {
      if (!(error instanceof VoxmemError)) throw error;
      this.lastTrace = { degraded: true, errors: { client: error.code } };
      return UNAVAILABLE;
    }
  }

  /** JSON schema of the tool's arguments. */
  static parameters(): Json {
    return {
      type: "object",
      properties: {
        query: { type: "string", description: QUERY_DESCRIPTION },
        intent: { type: "string", description: INTENT_DESCRIPTION, enum: [...INTENTS] },
      },
      required: ["query"],
      additionalProperties: false,
    };
  }

  /** OpenAI Chat Completions tool schema. */
  static schema(description = TOOL_DESCRIPTION): Json {
    return { type: "function", function: { name: TOOL_NAME, description, parameters: MemoryTool.parameters() } };
  }

  /** This tool's OpenAI function schema. */
  schema(): Json {
    return MemoryTool.schema(this.description);
  }
}
