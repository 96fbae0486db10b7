// Discovery and auto-start of the local runtime through the data directory.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { RuntimeStartFailed, VoiceClient } from "../dist/index.js";
import { RUNTIME_COMMAND, detachedDataDir, runtimeSettings, tempDataDir } from "./_runtime.mjs";

test("no runtime running: the client starts one, and the next client finds it", async (t) => {
  const dataDir = detachedDataDir(t);
  const settings = runtimeSettings();
  const options = {
    projectId: "ts-autostart",
    agentId: "desk",
    dataDir,
    runtimeCommand: RUNTIME_COMMAND,
    settings: { embedder: settings.VOXMEM_EMBEDDER },
    runtimePortRange: [Number(settings.VOXMEM_RUNTIME_PORT_MIN), Number(settings.VOXMEM_RUNTIME_PORT_MAX)],
    runtimeStartTimeoutMs: 60_000,
    // The test's own environment (PYTHONPATH, HOME) minus any runtime it may point at.
    env: { ...process.env, VOXMEM_RUNTIME_URL: "", VOXMEM_RUNTIME_TOKEN: "", VOXMEM_DATA_DIR: "" },
  };
  const first = new VoiceClient(options);
  // Concurrent first calls share one launch.
  const [a, b] = await Promise.all([first.listIndexes(), first.listIndexes()]);
  assert.deepEqual(a, b);
  assert.equal(first.transport.local.launched, 1);
  const second = new VoiceClient(options);
  await second.saveResponse({ user: { id: "caller-auto" }, userText: "hi", assistantText: "hello" });
  assert.equal(second.transport.local.launched, 0);

  // The runtime is killed: the next call starts a new one (new port, new token) and
  // goes through, and the new runtime has replayed the acknowledged turn.
  const { pid } = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8"));
  process.kill(pid, "SIGKILL");
  await waitForExit(pid);
  await second.saveResponse({ user: { id: "caller-auto" }, userText: "after the crash", assistantText: "still here" });
  assert.equal(second.transport.local.launched, 1);
  const { pid: newPid } = JSON.parse(readFileSync(join(dataDir, "runtime.json"), "utf8"));
  assert.notEqual(newPid, pid);
});

async function waitForExit(pid) {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test("no runtime and no voxmem command: a clear error naming pip install voxmem", async (t) => {
  const memory = new VoiceClient({ projectId: "p", agentId: "a", dataDir: tempDataDir(t), env: { PATH: "" } });
  await assert.rejects(memory.listIndexes(), (error) => {
    assert.ok(error instanceof RuntimeStartFailed);
    assert.match(error.message, /pip install voxmem/);
    return true;
  });
  // A recall still never throws for it: the turn goes on without memory.
  const result = await memory.searchMemory("q", { user: { id: "u" } });
  assert.equal(result.trace.degraded, true);
  assert.equal(result.trace.errors.runtime, "runtime.start_failed");
});
