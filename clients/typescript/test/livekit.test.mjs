// The LiveKit Agents (Node) integration: a real AgentSession in-process with a scripted
// fake LLM (the framework's own FakeLLM), against a real `voxmem serve`. No network.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { initializeLogger, llm, voice } from "@livekit/agents";

import { VoiceClient } from "../dist/index.js";
import {
  CallMemory,
  CallerIdentity,
  MEMORY_MESSAGE_ID,
  MemoryAgent,
  PARTICIPANT_KIND_AGENT,
  RECALL_MESSAGE_PREFIX,
  canonicalIdentity,
  memoryTools,
  toLivekitTool,
  normalizeE164,
  renderMemoryInstructions,
  resolveCaller,
} from "../dist/livekit.js";
import { recordingProxy, startRuntime, UNHURRIED_MS } from "./_runtime.mjs";

initializeLogger({ pretty: false, level: "warn" });

/** The framework's scripted LLM, also keeping the chat context of every request. */
class RecordingLLM extends voice.testing.FakeLLM {
  requests = [];
  chat(options) {
    this.requests.push(options.chatCtx.copy());
    return super.chat(options);
  }
}

/** A speech-to-speech model that never speaks and records the instructions it is given. */
class RecordingRealtimeModel extends llm.RealtimeModel {
  instructions = [];
  waiters = [];
  constructor() {
    super({ messageTruncation: false, turnDetection: true, userTranscription: true, autoToolReplyGeneration: false, audioOutput: false, manualFunctionCalls: false });
  }
  get model() {
    return "recording";
  }
  session() {
    return new RecordingRealtimeSession(this);
  }
  async close() {}
  record(text) {
    this.instructions.push(text);
    for (const waiter of this.waiters) if (waiter.predicate(text)) waiter.resolve(text);
  }
  instructionsMatching(predicate) {
    const found = this.instructions.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }
}

class RecordingRealtimeSession extends llm.RealtimeSession {
  ctx = llm.ChatContext.empty();
  toolCtx = {};
  get chatCtx() {
    return this.ctx;
  }
  get tools() {
    return this.toolCtx;
  }
  async updateInstructions(instructions) {
    this.realtimeModel.record(instructions);
  }
  async updateChatCtx(chatCtx) {
    this.ctx = chatCtx.copy();
  }
  async updateTools(tools) {
    this.toolCtx = tools;
  }
  updateOptions() {}
  pushAudio() {}
  async generateReply() {
    throw new Error("this fake never speaks");
  }
  async commitAudio() {}
  async clearAudio() {}
  async interrupt() {}
  async truncate() {}
}

let runtime;
let proxy;
before(async () => {
  runtime = await startRuntime();
  proxy = await recordingProxy(runtime);
});
after(async () => {
  await proxy?.close();
  await runtime?.stop();
});

const newClient = () => new VoiceClient({ projectId: "ts-livekit", agentId: "ava", runtimeUrl: proxy.url, apiKey: runtime.token });

function itemsOf(chatCtx) {
  return chatCtx.items.filter((item) => item instanceof llm.ChatMessage);
}

async function runCall({ userId, llmResponses, inputs, tools }) {
  const client = newClient();
  const fake = new RecordingLLM(llmResponses);
  const agent = new MemoryAgent({
    client,
    instructions: "You are Ava.\n\n{{memory}}\n\nBe brief.",
    identity: userId === undefined ? CallerIdentity.anonymousCaller() : CallerIdentity.explicit(userId),
    searchTimeoutMs: UNHURRIED_MS,
    preloadTimeoutMs: UNHURRIED_MS,
    tools,
  });
  const session = new voice.AgentSession({ llm: fake });
  await session.start({ agent });
  for (const userInput of inputs) await session.run({ userInput }).wait();
  return { client, fake, agent, session };
}

describe("MemoryAgent in a real AgentSession", () => {
  test("preload before the first reply, recall right before the user's message, saves and end on close", async () => {
    const seed = newClient();
    const user = { id: "lk-caller-1" };
    await seed.updateProfile({ user, field: "preferred_name", value: "Dana" });
    await seed.saveResponse({ user, userText: "My parcels go to the blue shed behind the house.", assistantText: "Blue shed, noted." });
    await seed.flush();

    const { fake, agent, session } = await runCall({
      userId: user.id,
      llmResponses: [
        { input: "where do my parcels go? blue shed", content: "To the blue shed, Dana." },
        { input: "thanks", content: "You're welcome." },
      ],
      inputs: ["where do my parcels go? blue shed", "thanks"],
    });

    // The first request already carries the preload, in its own message right after the
    // instructions, which are the same for every caller (as in Python: prompt caching).
    const first = itemsOf(fake.requests[0]);
    const instructions = first.find((m) => m.id === "lk.agent_task.instructions");
    assert.equal(instructions.textContent, "You are Ava.\n\nBe brief.");
    const preload = first[first.indexOf(instructions) + 1];
    assert.equal(preload.id, MEMORY_MESSAGE_ID);
    assert.equal(preload.role, "system");
    assert.match(preload.textContent, /Dana/);
    assert.equal(first.filter((m) => m.id === MEMORY_MESSAGE_ID).length, 1);
    // The recall sits immediately before the user's message, which is last.
    const userIndex = first.findLastIndex((m) => m.role === "user");
    assert.equal(userIndex, first.length - 1);
    const recall = first[userIndex - 1];
    assert.equal(recall.role, "system");
    assert.ok(recall.id.startsWith(RECALL_MESSAGE_PREFIX));
    assert.match(recall.textContent, /blue shed/);
    assert.ok(recall.createdAt < first[userIndex].createdAt);

    const memory = agent.memory;
    await session.close();
    await memory.close();
    assert.equal(memory.saves, 2);
    assert.equal(memory.saveFailures, 0);
    const saves = proxy.bodies("/v1/memory/turns").filter((b) => JSON.stringify(b).includes("lk-caller-1"));
    const texts = saves.map((b) => b.userText ?? b.user_text);
    assert.ok(texts.includes("where do my parcels go? blue shed"));
    assert.ok(texts.includes("thanks"));
    for (const body of saves.slice(-2)) assert.match(body.turnId ?? body.turn_id, /\S/);
    const ends = proxy.bodies("/v1/sessions/end").filter((b) => JSON.stringify(b).includes("lk-caller-1"));
    assert.equal(ends.length, 1);
    assert.equal(CallMemory.of(session), memory);
  });

  test("a reply cut off by a barge-in is saved flagged, with every user turn before it", async () => {
    const { agent, session } = await runCall({ userId: "lk-caller-2", llmResponses: [], inputs: [] });
    const emit = (item) => session.emit(voice.AgentSessionEventTypes.ConversationItemAdded, voice.createConversationItemAddedEvent(item));
    emit(llm.ChatMessage.create({ role: "user", content: "I need to move my booking" }));
    emit(llm.ChatMessage.create({ role: "user", content: "to Friday" }));
    emit(llm.ChatMessage.create({ role: "assistant", content: "Sure, which booking", interrupted: true }));
    const memory = agent.memory;
    await session.close();
    await memory.close();
    const save = proxy.bodies("/v1/memory/turns").find((b) => JSON.stringify(b).includes("to Friday"));
    assert.equal(save.userText ?? save.user_text, "I need to move my booking\nto Friday");
    assert.equal(save.interrupted, true);
    assert.equal(memory.saveFailures, 0);
  });

  test("text no store can keep (a NUL, half an emoji) costs neither the turn nor its recall", async () => {
    // Found by probing: the runtime refuses both at the door, so the whole turn was lost.
    const { agent, session } = await runCall({ userId: "lk-caller-nul", llmResponses: [], inputs: [] });
    const emit = (item) => session.emit(voice.AgentSessionEventTypes.ConversationItemAdded, voice.createConversationItemAddedEvent(item));
    emit(llm.ChatMessage.create({ role: "user", content: "my order is A\u0000123" }));
    emit(llm.ChatMessage.create({ role: "assistant", content: "smile \ud83d, order A123" }));
    const memory = agent.memory;
    await memory.recall("order A\u0000123 \udc00");
    await session.close();
    await memory.close();
    assert.equal(memory.saveFailures, 0);
    assert.equal(memory.saves, 1);
    const save = proxy.bodies("/v1/memory/turns").find((b) => JSON.stringify(b).includes("lk-caller-nul"));
    assert.equal(save.userText ?? save.user_text, "my order is A123");
    assert.equal(save.assistantText ?? save.assistant_text, "smile \ufffd, order A123");
    const searches = proxy.bodies("/v1/memory/search").filter((b) => JSON.stringify(b).includes("lk-caller-nul"));
    assert.deepEqual(searches.map((b) => b.query), ["order A123 \ufffd"]);
  });

  test("updateInstructions mid-call sticks, and its {{memory}} takes the caller's preload", async () => {
    // Found walking the agent as a builder: llmNode put the constructor's template back
    // before every generation, so a prompt changed mid-call was silently reverted (and a
    // {{memory}} in it reached the model literally until then).
    const seed = newClient();
    const user = { id: "lk-caller-instr" };
    await seed.updateProfile({ user, field: "preferred_name", value: "Noor" });
    await seed.flush();
    const { fake, agent, session } = await runCall({
      userId: user.id,
      llmResponses: [
        { input: "hello", content: "Hello Noor." },
        { input: "hola", content: "Hola Noor." },
      ],
      inputs: ["hello"],
    });
    await agent.updateInstructions("Eres Ava. Habla español.\n\n{{memory}}");
    await session.run({ userInput: "hola" }).wait();
    const instructionsOf = (request) => itemsOf(request).find((m) => m.id === "lk.agent_task.instructions").textContent;
    assert.match(instructionsOf(fake.requests[0]), /You are Ava\./);
    const last = itemsOf(fake.requests.at(-1));
    assert.equal(instructionsOf(fake.requests.at(-1)), "Eres Ava. Habla español.");
    const preloads = last.filter((m) => m.id === MEMORY_MESSAGE_ID);
    assert.equal(preloads.length, 1);
    assert.match(preloads[0].textContent, /Noor/);
    const memory = agent.memory;
    await session.close();
    await memory.close();
  });

  test("a realtime model gets the preload in its instructions, a new prompt too", async () => {
    // A realtime session takes one instructions string and no system messages.
    const seed = newClient();
    const user = { id: "lk-caller-realtime" };
    await seed.updateProfile({ user, field: "preferred_name", value: "Ines" });
    await seed.flush();
    const model = new RecordingRealtimeModel();
    const agent = new MemoryAgent({ client: newClient(), instructions: "You are Ava.\n\n{{memory}}", identity: CallerIdentity.explicit(user.id) });
    const session = new voice.AgentSession({ llm: model });
    await session.start({ agent });
    const withMemory = await model.instructionsMatching((text) => text.includes("Ines"));
    assert.ok(withMemory.startsWith("You are Ava.\n\n## Memory"));
    assert.doesNotMatch(withMemory, /\{\{memory\}\}/);
    await agent.updateInstructions("Habla español.\n{{memory}}");
    const updated = await model.instructionsMatching((text) => text.startsWith("Habla"));
    assert.match(updated, /Ines/);
    assert.doesNotMatch(updated, /\{\{memory\}\}/);
    const memory = agent.memory;
    await session.close();
    await memory.close();
  });

  test("a mistake in the options is refused when the agent is built", () => {
    // Found by probing: each was accepted, then every turn's recall failed with a warning.
    const client = newClient();
    const build = (options) => new MemoryAgent({ client, instructions: "You are Ava.", identity: CallerIdentity.explicit("lk-x"), ...options });
    assert.throws(() => build({ lanes: "permanent" }), /lanes must be an array/);
    assert.throws(() => build({ lanes: ["permanent", "memories"] }), /unknown lane "memories"/);
    assert.throws(() => build({ searchTimeoutMs: Number.NaN }), /searchTimeoutMs must be a positive number/);
    assert.throws(() => build({ preloadTimeoutMs: "1500" }), /preloadTimeoutMs must be a positive number/);
    assert.throws(() => new CallMemory({ client, identity: CallerIdentity.explicit("lk-x"), lanes: ["nope"] }), /unknown lane/);
    build({ lanes: ["permanent"], searchTimeoutMs: 250 });
  });

  test("memory tools act on the session's caller", async () => {
    const { client, session, agent } = await runCall({
      userId: "lk-caller-3",
      llmResponses: [
        { input: "please remember I prefer email", toolCalls: [{ name: "remember_detail", args: { memory_type: "Contact channel", content: "email" } }] },
        { input: "Stored contact_channel.", content: "Noted, email it is." },
      ],
      inputs: ["please remember I prefer email"],
      tools: memoryTools(),
    });
    assert.equal(await client.recall({ user: { id: "lk-caller-3" }, memoryType: "contact_channel" }), "email");
    const memory = agent.memory;
    await session.close();
    await memory.close();
    // The tool call travels with the saved turn.
    const save = proxy.bodies("/v1/memory/turns").find((b) => JSON.stringify(b).includes("please remember I prefer email"));
    assert.equal((save.toolCalls ?? save.tool_calls)[0].name, "remember_detail");
  });

  test("toLivekitTool turns the client's memory tool into an llm.tool the model can call", async () => {
    const seed = newClient();
    const user = { id: "lk-caller-4" };
    await seed.saveResponse({ user, userText: "My bike is a green Brompton.", assistantText: "Green Brompton." });
    await seed.flush();
    const { fake, session, agent } = await runCall({
      userId: user.id,
      llmResponses: [{ input: "look it up", toolCalls: [{ name: "search_memory", args: { query: "green Brompton bike" } }] }],
      inputs: ["look it up"],
      tools: { search_memory: toLivekitTool(seed.searchMemoryTool({ user, timeoutMs: UNHURRIED_MS })) },
    });
    // The tool's answer reached the model as the function call output.
    const last = fake.requests.at(-1).items.at(-1);
    assert.equal(last.type, "function_call_output");
    assert.match(last.output, /Brompton/);
    await session.close();
    await agent.memory.close();
  });

  test("an anonymous caller is neither recalled nor recorded", async () => {
    const before = proxy.requests.length;
    const { fake, agent, session } = await runCall({ userId: undefined, llmResponses: [{ input: "hello", content: "Hi." }], inputs: ["hello"] });
    const items = itemsOf(fake.requests[0]);
    assert.equal(items.some((m) => m.id.startsWith(RECALL_MESSAGE_PREFIX)), false);
    assert.equal(agent.memory.enabled, false);
    await session.close();
    await agent.memory.close();
    assert.equal(proxy.requests.length, before);
  });
});

describe("the speech hook", () => {
  test("onUserTurnCompleted puts the recall immediately before the new user message", async () => {
    const seed = newClient();
    const user = { id: "lk-caller-5" };
    await seed.saveResponse({ user, userText: "My gate code is 4471 heron.", assistantText: "Gate code noted." });
    await seed.flush();
    const { agent, session } = await runCall({ userId: user.id, llmResponses: [], inputs: [] });
    const chatCtx = new llm.ChatContext();
    chatCtx.addMessage({ role: "assistant", content: "Hello, how can I help?" });
    const message = llm.ChatMessage.create({ role: "user", content: "what is my gate code heron?" });
    chatCtx.insert(message);
    await agent.onUserTurnCompleted(chatCtx, message);
    const items = itemsOf(chatCtx);
    const at = items.findIndex((m) => m.id === message.id);
    assert.ok(items[at - 1].id.startsWith(RECALL_MESSAGE_PREFIX));
    assert.match(items[at - 1].textContent, /heron/);
    assert.equal(items[0].role, "assistant");
    await session.close();
    await agent.memory.close();
  });

  test("a paused runtime: the turn goes on without memory, within the deadline", async () => {
    const client = newClient();
    const memory = new CallMemory({ client, identity: CallerIdentity.explicit("lk-caller-6"), searchTimeoutMs: 100 });
    process.kill(runtime.pid, "SIGSTOP");
    try {
      const started = performance.now();
      assert.equal(await memory.recall("anything about me?", "msg-1"), "");
      // 100 ms deadline + the client's 250 ms transport allowance + 50 ms slack; the
      // rest is scheduling on a loaded host.
      assert.ok(performance.now() - started < 2000);
    } finally {
      process.kill(runtime.pid, "SIGCONT");
    }
  });

  test("a paused runtime: closing the call gives up on its saves within closeTimeoutMs", async () => {
    const client = newClient();
    const memory = new CallMemory({ client, identity: CallerIdentity.explicit("lk-caller-7"), closeTimeoutMs: 200 });
    const session = new voice.AgentSession({ llm: new RecordingLLM([]) });
    memory.attach(session);
    await memory.open();
    const emit = (item) => session.emit(voice.AgentSessionEventTypes.ConversationItemAdded, voice.createConversationItemAddedEvent(item));
    process.kill(runtime.pid, "SIGSTOP");
    try {
      emit(llm.ChatMessage.create({ role: "user", content: "The gate code is blue seven" }));
      emit(llm.ChatMessage.create({ role: "assistant", content: "Blue seven, noted." }));
      const started = performance.now();
      await memory.close();
      // A job's shutdown waits for this: each request's own 30 s timeout (a save, then
      // the end of the session) used to hold it for a minute. 200 ms for the saves and
      // as long for the end; the rest is scheduling on a loaded host.
      assert.ok(performance.now() - started < 5000, `close took ${performance.now() - started} ms`);
    } finally {
      process.kill(runtime.pid, "SIGCONT");
    }
  });
});

describe("caller identity", () => {
  const agentSelf = { identity: "agent-ava", kind: PARTICIPANT_KIND_AGENT, attributes: {} };
  const room = (...remote) => ({ localParticipant: agentSelf, remoteParticipants: new Map(remote.map((p) => [p.identity, p])) });

  test("job metadata wins, with what the room says kept as identifiers", () => {
    const sip = { identity: "sip_1", kind: 3, attributes: { "sip.phoneNumber": "+44 20 7946 0018", "sip.callID": "c1" } };
    const caller = resolveCaller({ jobMetadata: '{"user_id": "acct-7", "tenant_id": "acme"}', room: room(sip) });
    assert.equal(caller.userId, "acct-7");
    assert.equal(caller.source, "job_metadata");
    assert.equal(caller.extra.tenantId, "acme");
    assert.equal(caller.extra.phone, "+442079460018");
  });

  test("then the SIP caller's number, then a person's identity, never the agent", () => {
    const sip = { identity: "sip_1", kind: 3, attributes: { "sip.phoneNumber": "tel:+1 (510) 555-0100" } };
    assert.equal(resolveCaller({ room: room(sip) }).userId, "+15105550100");
    const person = { identity: "dana", kind: 0, attributes: {} };
    const otherAgent = { identity: "agent-bob", kind: PARTICIPANT_KIND_AGENT, attributes: {} };
    assert.equal(resolveCaller({ room: room(otherAgent, person) }).userId, "dana");
    // The agent's own identity is never the caller, whatever its kind says.
    const selfAsStandard = { identity: "agent-ava", kind: 0, attributes: {} };
    const onlyAgents = { localParticipant: selfAsStandard, remoteParticipants: new Map([["agent-bob", otherAgent]]) };
    assert.equal(resolveCaller({ room: onlyAgents }).anonymous, true);
    assert.equal(resolveCaller({ jobMetadata: "not json" }).anonymous, true);
  });

  test("a SIP caller who withholds their number is anonymous, not everyone's sip_anonymous", () => {
    for (const number of ["anonymous", "Restricted", "unknown", "Private", ""]) {
      const withheld = { identity: "sip_anonymous", kind: 3, attributes: { "sip.phoneNumber": number } };
      assert.equal(resolveCaller({ room: room(withheld) }).anonymous, true, number);
      const supervisor = { identity: "dana", kind: 0, attributes: {} };
      assert.equal(resolveCaller({ room: room(withheld, supervisor) }).anonymous, true, number);
      assert.equal(resolveCaller({ jobMetadata: '{"user_id": "u-9"}', room: room(withheld) }).userId, "u-9");
    }
    // A number that is there but cannot be completed still names one line.
    const national = { identity: "sip_5105550100", kind: 3, attributes: { "sip.phoneNumber": "5105550100" } };
    assert.equal(resolveCaller({ room: room(national) }).userId, "sip_5105550100");
  });

  test("a phone number gets the id the runtime (Python) gives it, whatever its format", async () => {
    // A Node worker and a Python worker on one runtime must file one caller under one id;
    // the hand-written normaliser made "+44 (0)20 ..." a different, wrong number.
    const client = newClient();
    const formats = [
      ["+44 (0)20 7946 0018"], ["+49 (0)30 1234567"], ["+33 (0)1 23 45 67 89"], ["tel:+1-510-555-0142"],
      ["011 44 20 7946 0019", "1"], ["+1 (510) 555-01000"], ["+15105550100;ext=1"], ["+1 510 555 0100 ext. 23"],
      ["+999 1234567"], ["0044 20 7946 0017"], ["+7 495 123-45-67"],
      // Format characters: a right-to-left override shows "\u202e0010-555-015" as
      // 510-555-0100 and both sides read +10010555015; refused now. Invisible ones are
      // dropped (a phone app wraps a copied number in left-to-right controls).
      ["\u202e0010-555-015", "1"], ["\u202e+15105550100"], ["+1 510\u200f555 0100"],
      ["(510)\u200d555-0100", "1"], ["\u202d+1 (510) 555-0100\u202c"], ["+1 510\u200b555\u20600100"],
    ];
    for (const [i, [raw, countryCode]] of formats.entries()) {
      const user = { id: `fmt-${i}` };
      let stored;
      try {
        await client.linkIdentifier("phone", raw, { user });
        stored = (await client.showCaller({ user })).identifiers[0].value;
      } catch (error) {
        assert.equal(error.code, "bad_request", raw);
      }
      assert.equal(normalizeE164(raw, countryCode), stored, raw);
    }
  });

  test("a SIP caller whose number is linked to an account is that account's caller", async () => {
    const client = newClient();
    await client.linkIdentifier("phone", "+15105550177", { user: { id: "acct-9" } });
    const sip = { identity: "sip_9", kind: 3, attributes: { "sip.phoneNumber": "+1 510 555 0177" } };
    const fromRoom = resolveCaller({ room: room(sip) });
    assert.equal(fromRoom.userId, "+15105550177");
    const canonical = await canonicalIdentity(client, fromRoom);
    assert.equal(canonical.userId, "acct-9");
    assert.equal(canonical.source, "sip");
    // The app's own id is never replaced.
    const explicit = CallerIdentity.explicit("app-user-1");
    assert.equal((await canonicalIdentity(client, explicit)).userId, "app-user-1");
  });

  test("E.164 normalisation and the {{memory}} placeholder", () => {
    assert.equal(normalizeE164("sip:+1 (510) 555-0100@trunk.example"), "+15105550100");
    assert.equal(normalizeE164("020 7946 0018", "44"), "+442079460018");
    assert.equal(normalizeE164("(510) 555-0100"), undefined);
    assert.equal(normalizeE164("\u202e0010-555-015", "1"), undefined); // shows as 510-555-0100
    assert.equal(normalizeE164("\ufeff(510)\u200d555-0100", "1"), "+15105550100");
    assert.equal(renderMemoryInstructions("You are Ava.\n{{memory}}\nBe brief.", ""), "You are Ava.\nBe brief.");
    assert.equal(renderMemoryInstructions("A {{memory}} B", "$1 \\n"), "A $1 \\n B");
    assert.equal(renderMemoryInstructions("You are Ava.", "Name: Dana"), "You are Ava.\n\nName: Dana");
    // Found walking the template: two placeholders sent the caller's memory twice.
    const twice = "You are Ava.\n{{memory}}\nBe brief.\n\n{{memory}}\n\nBook calls. {{memory}}";
    assert.equal(renderMemoryInstructions(twice, "Name: Dana"), "You are Ava.\nName: Dana\nBe brief.\n\nBook calls. ");
    assert.equal(renderMemoryInstructions(twice, ""), "You are Ava.\nBe brief.\n\nBook calls.");
    assert.equal(renderMemoryInstructions("[{{memory}}]", "said {{memory}} $&"), "[said {{memory}} $&]");
  });
});
