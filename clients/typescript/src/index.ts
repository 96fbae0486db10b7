/**
 * voxmem for Node: a client of the local voxmem runtime (memory for voice agents).
 *
 * @example
 * import { VoiceClient } from "@voxmem/client";
 * const client = new VoiceClient({ projectId: "support", agentId: "front-desk" });
 * const { contextText } = await client.searchMemory("when should we call back?", { user: { id: "caller-42" } });
 */
export {
  CallerSession,
  DEFAULT_RECALL_GRACE_MS,
  DEFAULT_RECALL_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  VoiceClient,
  degradedSearch,
  newTurnId,
  wireName,
  type CallerArgs,
  type SaveOptions,
  type SearchOptions,
  type VoiceClientOptions,
} from "./client.js";
export {
  BadRequest,
  IdentityMismatch,
  InternalError,
  MemoryTimeout,
  NotFound,
  PoolError,
  RuntimeStartFailed,
  StoreUnavailable,
  Unauthorized,
  VoxmemError,
  errorFromEnvelope,
  type ErrorCode,
} from "./errors.js";
export { OPERATIONS, type OperationName } from "./generated/operations.js";
export { LocalRuntime, defaultDataDir, type Endpoint } from "./runtime.js";
export { MemoryTool, TOOL_DESCRIPTION, TOOL_NAME } from "./tool.js";
export type { CallerRef, IndexBuildResult, Json, Preload, RequestOf, ResponseOf, SearchResult, SearchTrace } from "./types.js";
