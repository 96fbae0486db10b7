/**
 * Result and argument types, taken from the generated OpenAPI types wherever the runtime's
 * document describes them; the few fallbacks below only apply to a document without
 * typed schemas and name just the fields this client itself reads.
 */
import type { components, operations } from "./generated/openapi.js";
import type { OperationName } from "./generated/operations.js";

type JsonBody<T> = T extends { content: { "application/json": infer Body } } ? Body : unknown;
/** `Generated` unless the document left it untyped (`unknown`), then `Fallback`. */
type Known<Generated, Fallback> = unknown extends Generated ? Fallback : Generated;
type Schemas = components extends { schemas: infer S } ? S : Record<string, never>;
type Schema<Name extends string, Fallback> = Name extends keyof Schemas ? Known<Schemas[Name], Fallback> : Fallback;

/** The JSON body a runtime operation answers with (200). */
export type ResponseOf<Op extends OperationName> = Op extends keyof operations
  ? operations[Op] extends { responses: { 200: infer Ok } }
    ? JsonBody<Ok>
    : unknown
  : unknown;

/** The JSON body a runtime operation takes. */
export type RequestOf<Op extends OperationName> = Op extends keyof operations
  ? operations[Op] extends { requestBody: infer Body }
    ? JsonBody<Body>
    : Record<string, unknown>
  : Record<string, unknown>;

type JsonObject = Record<string, unknown>;

/** The person on the line: `{ id, name, metadata }`. */
export type CallerRef = Schema<"CallerRef", { id: string; name?: string | null; metadata?: JsonObject | null }>;

/** How a search went: per-lane milliseconds, `degraded`, `errors`. */
export type SearchTrace = Schema<
  "SearchTrace",
  { degraded: boolean; errors?: Record<string, string>; totalMs?: number | null; [key: string]: unknown }
>;

/** What `searchMemory` returns: `contextText` to put before the user's message, and more. */
export type SearchResult = Known<
  ResponseOf<"search_memory">,
  { contextText: string; trace: SearchTrace; [key: string]: unknown }
>;

/** The session-start block `preload` returns. */
export type Preload = Known<ResponseOf<"preload">, { contextText: string; [key: string]: unknown }>;

/** What `saveResponse` gets back: the durable event id. */
export type TurnSaved = Known<ResponseOf<"save_response">, { eventId: string | null }>;

/** What `createIndex` returns. */
export type IndexBuildResult = Known<
  ResponseOf<"create_index">,
  { indexName: string; chunkCount: number; version: number; [key: string]: unknown }
>;

/** An untyped JSON object (results the document does not describe). */
export type Json = JsonObject;

/** Fields every request carries from the client itself, never from the caller's options. */
type ScopeFields = "projectId" | "agentId" | "tenantId" | "deadlineAt";

/**
 * The options of a client method: the operation's request body minus the scope the
 * client fills in, straight from the generated types; `Fallback` for a document that
 * does not describe the body field by field.
 */
export type OptionsOf<Op extends OperationName, Fallback> = RequestOf<Op> extends infer Body
  ? string extends keyof Body
    ? Fallback
    : Omit<Body, ScopeFields>
  : Fallback;
