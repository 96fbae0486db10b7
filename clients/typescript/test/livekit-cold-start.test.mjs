// The first LiveKit call on a cold host (Node agent): the runtime is not running and the
// client waits for a `voxmem serve` that is slow to start (held by the test). The caller
// is answered without memory meanwhile, the preload reaches the first reply after the
// runtime answers, and the turns said meanwhile are saved, in order, in this call.
// Found by this test: those turns went out to a runtime that was not up yet and were
// lost after their save timeout; the first reply waited out `preloadTimeoutMs` (the
// client did not tell when its runtime was starting); and the opening's `startSession`
// timed out when the start outlasted the client's 30 s request deadline (CI at load
// 11-14), so the preload never came. No expectation here is a deadline: the preload
// deadline is an hour, and the preload is awaited through `memory.waitOpen()`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { initializeLogger, llm, voice } from "@livekit/agents";

import { setTimeout as sleep } from "node:timers/promises";

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

/** Longer than any start: the first reply comes at once only if the client tells it is starting. */
const AN_HOUR_MS = 3_600_000;
/** A bound for failures only: a start on a loaded host takes tens of seconds. */
const START_TIMEOUT_MS = 600_000;

/**
 * A held runtime seeded by `seed`, and a client of its data directory that launches its
 * own runtime the way a host would (with the test runtime's settings in the environment).
 */
async function heldRuntimeAndClient(t, seed, options = {}) {
  const held = await startHeldRuntime(t, seed);
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
    runtimeStartTimeoutMs: START_TIMEOUT_MS,
    ...options,
  });
  return { held, client };
}

const CALLERS = [
  ["an explicit caller", "lk-cold", () => CallerIdentity.explicit("lk-cold")],
  // The caller directory is asked first for a SIP caller: that must not hold the reply either.
  ["a SIP caller", "+15105550100", () => new CallerIdentity("+15105550100", "sip", { phone: "+15105550100" })],
];

for (const [who, userId, identity] of CALLERS) {
  test(`the first call on a cold host (${who}) is answered at once, gets its memory later and keeps every turn`, { timeout: START_TIMEOUT_MS }, async (t) => {
    const { held, client } = await heldRuntimeAndClient(t, `vm.save_response(user={'id': '${userId}'}, user_text='My dog Biscuit needs grooming', assistant_text='Noted.')`);
    const fake = new RecordingLLM([
      { input: "I am calling about the grooming", content: "Happy to help with that." },
      { input: "What was my dog called?", content: "Biscuit." },
    ]);
    const agent = new MemoryAgent({
      client,
      instructions: "You are Ava.\n\n{{memory}}\n\nBe brief.",
      identity: identity(),
      preloadTimeoutMs: AN_HOUR_MS,
    });
    const session = new voice.AgentSession({ llm: fake });
    await session.start({ agent });

    // The runtime is held until after this reply: it can only come without memory.
    await session.run({ userInput: "I am calling about the grooming" }).wait();
    assert.equal(preloadOf(fake.requests.at(-1)), undefined); // answered without memory
    const memory = agent.memory;
    assert.equal(memory.identity.userId, userId);
    assert.equal(memory.saves, 0); // waiting for the runtime, not lost

    held.release();
    const preload = await memory.waitOpen();
    assert.match(preload?.contextText ?? "", /Biscuit/);
    await session.run({ userInput: "What was my dog called?" }).wait();
    assert.match(preloadOf(fake.requests.at(-1))?.textContent ?? "", /Biscuit/);

    await session.close();
    await memory.close();
    assert.equal(memory.saveFailures, 0);
    const exported = await client.exportUser({ user: { id: userId } });
    const turns = exported.items
      .filter((item) => item.kind === "turn" && item.sessionId === memory.sessionId)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((item) => item.userText);
    assert.deepEqual(turns, ["I am calling about the grooming", "What was my dog called?"]);
    await client.close();
  });
}

test("a call made while the runtime starts waits for the start, not for its request deadline", { timeout: START_TIMEOUT_MS }, async (t) => {
  const requestTimeoutMs = 10_000;
  const { held, client } = await heldRuntimeAndClient(t, "vm.save_response(user={'id': 'lk-slow'}, user_text='My cat is Miso', assistant_text='Noted.')", { requestTimeoutMs });
  const pending = client.preload({ user: { id: "lk-slow" } });
  pending.catch(() => undefined); // awaited below
  // A start that outlasts the request deadline, as one on a loaded host does.
  await sleep(requestTimeoutMs + 1000);
  held.release();
  assert.match((await pending).contextText, /Miso/);
  await client.close();
});

test("a call that ends while its runtime starts ends the session it opens, after its turns", { timeout: START_TIMEOUT_MS }, async (t) => {
  const { held, client } = await heldRuntimeAndClient(t, "vm.save_response(user={'id': 'lk-short'}, user_text='I drive a blue van', assistant_text='Noted.')");
  const fake = new RecordingLLM([{ input: "Just a quick question", content: "Sure." }]);
  const agent = new MemoryAgent({
    client,
    instructions: "You are Ava.\n\n{{memory}}",
    identity: CallerIdentity.explicit("lk-short"),
    preloadTimeoutMs: AN_HOUR_MS,
    closeTimeoutMs: 200,
  });
  const session = new voice.AgentSession({ llm: fake });
  await session.start({ agent });
  await session.run({ userInput: "Just a quick question" }).wait();
  const memory = agent.memory;
  await session.close();
  await memory.close(); // within its budget: the runtime is still held
  assert.equal(memory.sessionId, undefined);

  held.release();
  await memory.waitOpen();
  const sessionId = memory.sessionId;
  assert.ok(sessionId);
  // The end goes out after the call's turn, once the runtime answers: wait for it.
  const deadline = Date.now() + 120_000;
  let exported;
  for (;;) {
    exported = await client.exportUser({ user: { id: "lk-short" } });
    if (exported.sessions.find((call) => call.sessionId === sessionId)?.endedAt) break;
    assert.ok(Date.now() < deadline, "the session the call opened was never ended");
    await sleep(50);
  }
  // Nothing this call opened is left open (the seed's own call is not the agent's).
  assert.deepEqual(exported.sessions.filter((call) => !call.endedAt && call.metadata?.source === "livekit"), []);
  const turns = exported.items.filter((item) => item.kind === "turn" && item.sessionId === sessionId).map((item) => item.userText);
  assert.deepEqual(turns, ["Just a quick question"]);
  await client.close();
});
