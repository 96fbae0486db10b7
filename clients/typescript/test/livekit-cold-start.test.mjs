// The first LiveKit call on a cold host (Node agent): the runtime is not running and the
// client waits for a `voxmem serve` that is slow to start (held by the test). The caller
// is answered without memory meanwhile, the preload reaches the first reply after the
// runtime answers, and the turns said meanwhile are saved, in order, in this call.
// Found by this test: those turns went out to a runtime that was not up yet and were
// lost after their save timeout.
import assert from "node:assert/strict";
import { test } from "node:test";

import { initializeLogger, llm, voice } from "@livekit/agents";

import { VoiceClient } from "../dist/index.js";
import { CallerIdentity, MEMORY_MESSAGE_ID, MemoryAgent } from "../dist/livekit.js";
import { RUNTIME_COMMAND, startHeldRuntime } from "./_runtime.mjs";

initializeLogger({ pretty: false, level: "error" });

class RecordingLLM extends voice.testing.FakeLLM {
  requests = [];
  chat(options) {
    this.requests.push(options.chatCtx.copy());
    return super.chat(options);
  }
}

const preloadOf = (chatCtx) => chatCtx.items.find((item) => item instanceof llm.ChatMessage && item.id === MEMORY_MESSAGE_ID);

test("the first call on a cold host is answered at once, gets its memory later and keeps every turn", async (t) => {
  const held = await startHeldRuntime(t, "vm.save_response(user={'id': 'lk-cold'}, user_text='My dog Biscuit needs grooming', assistant_text='Noted.')");
  const saved = { ...process.env };
  Object.assign(process.env, held.env); // the runtime the client launches gets the test's settings
  t.after(() => {
    process.env = saved;
  });
  const client = new VoiceClient({
    projectId: "ts-livekit",
    agentId: "ava",
    dataDir: held.dataDir,
    runtimeCommand: RUNTIME_COMMAND,
    runtimeStartTimeoutMs: 120_000,
  });
  const fake = new RecordingLLM([
    { input: "I am calling about the grooming", content: "Happy to help with that." },
    { input: "What was my dog called?", content: "Biscuit." },
  ]);
  const agent = new MemoryAgent({
    client,
    instructions: "You are Ava.\n\n{{memory}}\n\nBe brief.",
    identity: CallerIdentity.explicit("lk-cold"),
    preloadTimeoutMs: 300,
  });
  const session = new voice.AgentSession({ llm: fake });
  await session.start({ agent });

  await session.run({ userInput: "I am calling about the grooming" }).wait();
  assert.equal(preloadOf(fake.requests.at(-1)), undefined); // answered without memory
  const memory = agent.memory;
  assert.equal(memory.saves, 0); // waiting for the runtime, not lost

  held.release();
  const preload = await memory.waitOpen();
  assert.match(preload?.contextText ?? "", /Biscuit/);
  await session.run({ userInput: "What was my dog called?" }).wait();
  assert.match(preloadOf(fake.requests.at(-1))?.textContent ?? "", /Biscuit/);

  await session.close();
  await memory.close();
  assert.equal(memory.saveFailures, 0);
  const exported = await client.exportUser({ user: { id: "lk-cold" } });
  const turns = exported.items
    .filter((item) => item.kind === "turn" && item.sessionId === memory.sessionId)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((item) => item.userText);
  assert.deepEqual(turns, ["I am calling about the grooming", "What was my dog called?"]);
  await client.close();
});
