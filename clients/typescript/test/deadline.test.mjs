// The searchMemory deadline contract against a runtime paused with SIGSTOP.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { MemoryTimeout, VoiceClient } from "../dist/index.js";
import { startRuntime } from "./_runtime.mjs";

let runtime;
before(async () => {
  runtime = await startRuntime();
});
after(async () => {
  await runtime?.stop();
});

const client = (options = {}) =>
  new VoiceClient({ projectId: "ts-deadline", agentId: "desk", runtimeUrl: runtime.url, apiKey: runtime.token, ...options });

test("a paused runtime: searchMemory answers empty and degraded within timeoutMs + grace", async () => {
  const memory = client({ recallGraceMs: 100 });
  const user = { id: "caller-paused" };
  // Warm: the connection and the caller exist, so only the pause can make it late.
  await memory.saveResponse({ user, userText: "I live in Leeds.", assistantText: "Leeds." });
  process.kill(runtime.pid, "SIGSTOP");
  try {
    const started = performance.now();
    const result = await memory.searchMemory("where do I live?", { user, timeoutMs: 150 });
    const elapsed = performance.now() - started;
    assert.equal(result.contextText, "");
    assert.equal(result.trace.degraded, true);
    assert.equal(result.trace.errors.runtime, "deadline");
    assert.ok(elapsed >= 150, `answered after ${elapsed} ms, before the deadline`);
    // The abort fires at 250 ms; the rest is the event loop's scheduling on a loaded host.
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
    // Other calls are not recalls: they report the timeout.
    await assert.rejects(
      client({ requestTimeoutMs: 200 }).preload({ user }),
      (error) => error instanceof MemoryTimeout && error.code === "timeout",
    );
  } finally {
    process.kill(runtime.pid, "SIGCONT");
  }
  // Resumed, the same client recalls again.
  await memory.flush();
  const result = await memory.searchMemory("where do I live? Leeds", { user, timeoutMs: 5000 });
  assert.equal(result.trace.degraded, false);
  assert.match(result.contextText, /Leeds/);
});
