/**
 * voxmem for LiveKit Agents (Node, `@livekit/agents` >= 1.8): a memory agent, caller
 * identity and memory tools. Needs the optional peers `@livekit/agents` and `zod`.
 *
 * @example
 * import { VoiceClient } from "@voxmem/client";
 * import { MemoryAgent, memoryTools } from "@voxmem/client/livekit";
 *
 * const client = new VoiceClient({ projectId: "support", agentId: "front-desk" });
 * const agent = new MemoryAgent({ client, instructions: "You are Ava.", tools: memoryTools() });
 * await session.start({ agent, room: ctx.room });
 */
export { MEMORY_MESSAGE_ID, MemoryAgent, type MemoryAgentOptions } from "./livekit/agent.js";
export {
  CallMemory,
  DEFAULT_PRELOAD_TIMEOUT_MS,
  DEFAULT_SEARCH_TIMEOUT_MS,
  DEFAULT_TURN_LANES,
  RECALL_MESSAGE_PREFIX,
  insertRecall,
  isRecallMessage,
  type CallMemoryOptions,
} from "./livekit/call.js";
export {
  CallerIdentity,
  MEMORY_PLACEHOLDER,
  PARTICIPANT_KIND_AGENT,
  PARTICIPANT_KIND_CONNECTOR,
  PARTICIPANT_KIND_SIP,
  PARTICIPANT_KIND_STANDARD,
  callerFromJobMetadata,
  canonicalIdentity,
  resolutionIdentifiers,
  callerFromParticipants,
  normalizeE164,
  renderMemoryInstructions,
  resolveCaller,
  type CallerResolver,
  type IdentitySource,
  type ParticipantLike,
  type RoomLike,
} from "./livekit/identity.js";
export {
  DEFAULT_FILLER,
  DEFAULT_PROFILE_FIELDS,
  TOOL_NAMES,
  memoryTools,
  toLivekitTool,
  type MemoryToolsOptions,
} from "./livekit/tools.js";
