// The public names of the package are pinned: adding or removing one is a deliberate change.
import assert from "node:assert/strict";
import { test } from "node:test";

test("@voxmem/client exports", async () => {
  const names = Object.keys(await import("../dist/index.js")).sort();
  assert.deepEqual(names, [
    "BadRequest", "CallerSession", "DEFAULT_RECALL_GRACE_MS", "DEFAULT_RECALL_TIMEOUT_MS",
    "DEFAULT_REQUEST_TIMEOUT_MS", "IdentityMismatch", "InternalError", "LocalRuntime", "MemoryTimeout",
    "MemoryTool", "NotFound", "OPERATIONS", "PoolError", "RuntimeStartFailed", "StoreUnavailable",
    "TOOL_DESCRIPTION", "TOOL_NAME", "Unauthorized", "VoiceClient", "VoxmemError", "defaultDataDir",
    "degradedSearch", "errorFromEnvelope", "newTurnId", "wireName",
  ]);
});

test("@voxmem/client/livekit exports", async () => {
  const names = Object.keys(await import("../dist/livekit.js")).sort();
  assert.deepEqual(names, [
    "CallMemory", "CallerIdentity", "DEFAULT_FILLER", "DEFAULT_PRELOAD_TIMEOUT_MS", "DEFAULT_PROFILE_FIELDS",
    "DEFAULT_SEARCH_TIMEOUT_MS", "DEFAULT_TURN_LANES", "MEMORY_MESSAGE_ID", "MEMORY_PLACEHOLDER", "MemoryAgent",
    "PARTICIPANT_KIND_AGENT", "PARTICIPANT_KIND_CONNECTOR", "PARTICIPANT_KIND_SIP", "PARTICIPANT_KIND_STANDARD",
    "RECALL_MESSAGE_PREFIX", "TOOL_NAMES", "callerFromJobMetadata", "callerFromParticipants", "canonicalIdentity", "insertRecall",
    "isRecallMessage", "memoryTools", "normalizeE164", "renderMemoryInstructions", "resolutionIdentifiers", "resolveCaller",
    "toLivekitTool",
  ]);
});
