// VoiceClient against a real `voxmem serve` started by the test.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";

import {
  BadRequest,
  NotFound,
  RuntimeStartFailed,
  StoreUnavailable,
  Unauthorized,
  VoiceClient,
  VoxmemError,
  errorFromEnvelope,
} from "../dist/index.js";
import { recordingProxy, startRuntime, UNHURRIED_MS } from "./_runtime.mjs";

let runtime;
const client = () =>
  new VoiceClient({ projectId: "ts-tests", agentId: "desk", runtimeUrl: runtime.url, apiKey: runtime.token });

before(async () => {
  runtime = await startRuntime();
});
after(async () => {
  await runtime?.stop();
});

describe("VoiceClient over the runtime", () => {
  test("a saved turn is recalled in the next search", async () => {
    const memory = client();
    const user = { id: "caller-recall", name: "Dana" };
    const eventId = await memory.saveResponse({
      user,
      userText: "Please deliver my parcels to the side door of the bakery.",
      assistantText: "Noted: side door of the bakery.",
    });
    assert.match(eventId, /\S/);
    await memory.flush();
    const result = await memory.searchMemory("where should parcels be delivered?", { user, timeoutMs: UNHURRIED_MS });
    assert.equal(result.trace.degraded, false);
    assert.match(result.contextText, /bakery/);
  });

  test("an exported caller, erased, comes back whole with importUser", async () => {
    const memory = client();
    const user = { id: "caller-import" };
    await memory.startSession({ user, sessionId: "ts-import-call" });
    await memory.saveResponse({ user, userText: "My locker code word is marmalade.", assistantText: "Noted.", turnId: "t1" });
    await memory.endSession({ user });
    const exported = await memory.exportUser({ user });
    assert.equal(exported.format, 2);
    await memory.forgetUser({ user });
    const done = await memory.importUser(exported);
    assert.equal(done.turns, 1);
    assert.equal(done.alreadyStored, 0);
    const again = await memory.importUser(exported);
    assert.equal(again.turns, 0);
    assert.equal(again.alreadyStored, 1);
    const result = await memory.searchMemory("what is the locker code word?", { user, timeoutMs: 5000 });
    assert.match(result.contextText, /marmalade/);
    await assert.rejects(memory.importUser({ ...exported, format: 9 }), BadRequest);
  });

  test("importUser brings back the caller's merges and identifiers, unverified unless trusted", async () => {
    const memory = client();
    const phone = "+14155550166";
    const user = { id: "caller-import-links" };
    await memory.saveResponse({ user: { id: "guest-import-links" }, userText: "My favourite jam is quince.", assistantText: "Noted.", turnId: "g1" });
    await memory.flush();
    await memory.mergeCallers("guest-import-links", user.id);
    await memory.resolveCaller([{ kind: "phone", value: phone, source: "sip" }], { userId: user.id });
    const exported = await memory.exportUser({ user });
    assert.equal(exported.identifiers.length, 1);
    assert.equal(exported.merges.length, 1);
    await memory.forgetUser({ user });

    const done = await memory.importUser(exported);
    assert.equal(done.merges, 1);
    assert.equal(done.identifiers, 1);
    // The merged-away guest id reaches the caller again.
    const found = await memory.searchMemory("which jam do I like?", { userId: "guest-import-links", timeoutMs: 5000 });
    assert.match(found.contextText, /quince/);
    // A link from a file is the weakest kind: it does not decide who the next call is.
    const linked = await memory.findCallers(phone);
    assert.deepEqual(linked.map((f) => [f.userId, f.source, f.strength]), [[user.id, "imported sip", 0.8]]);
    const start = await memory.resolveCaller([{ kind: "phone", value: phone, source: "sip" }], { defaultUserId: "someone-new" });
    assert.deepEqual([start.userId, start.created], ["someone-new", true]);

    // The operator who vouches for the file keeps its links deciding.
    await memory.forgetUser({ userId: "someone-new" });
    await memory.forgetUser({ user });
    await memory.importUser(exported, { trustIdentifiers: true });
    const trusted = await memory.resolveCaller([{ kind: "phone", value: phone, source: "sip" }], { defaultUserId: "someone-else" });
    assert.deepEqual([trusted.userId, trusted.created], [user.id, false]);
  });

  test("preload, sessions and memory management round-trip with camelCase options", async () => {
    const memory = client();
    const user = { id: "caller-manage" };
    const opened = await memory.startSession({ user, metadata: { channel: "phone" } });
    assert.equal(typeof opened.sessionId, "string");
    await memory.remember({ user, memoryType: "favourite_drink", content: "oat flat white" });
    assert.equal(await memory.recall({ user, memoryType: "favourite_drink" }), "oat flat white");
    assert.equal(await memory.forget({ user, memoryType: "favourite_drink" }), true);
    assert.equal(await memory.recall({ user, memoryType: "favourite_drink" }), null);
    await memory.updateProfile({ user, field: "preferred_name", value: "Sam" });
    const block = await memory.preload({ user });
    assert.match(block.contextText, /Sam/);
    const ended = await memory.endSession({ user, reason: "completed" });
    assert.equal(typeof ended, "object");
    assert.ok(Array.isArray(await memory.listMemories({ user, includeDeleted: true })));
    assert.deepEqual(await memory.listQuarantined(), []);
  });

  test("endSession({ wait }) and flush(timeoutS, { learning }) wait for learning, as in Python", async () => {
    // Found checking parity: the Python client's end_session(wait=True) and
    // flush(learning=True) had no Node counterpart, so a Node app could not know when a
    // call's facts were learned.
    const proxy = await recordingProxy(runtime);
    try {
      const memory = new VoiceClient({ projectId: "ts-tests", agentId: "desk", runtimeUrl: proxy.url, apiKey: runtime.token });
      const user = { id: "caller-learned" };
      await memory.startSession({ user });
      await memory.saveResponse({ user, userText: "My name is Priya Raman and my account number is 88231.", assistantText: "Thanks, Priya." });
      const ended = await memory.endSession({ user, wait: true });
      assert.equal(ended.learning?.status, "learned");
      const flushed = await memory.flush(30, { learning: true });
      assert.equal(flushed.flushed, true);
      assert.deepEqual(proxy.bodies("/v1/admin/flush").map((body) => body.learning), [true]);
      assert.match((await memory.preload({ user })).contextText, /Priya/);
    } finally {
      await proxy.close();
    }
  });

  test("session() opens the call, hands a caller-bound handle, and ends it", async () => {
    const memory = client();
    const user = { id: "caller-session" };
    const sessionId = await memory.session({ user }, async (call) => {
      await call.saveResponse({ userText: "My order number is 4417.", assistantText: "Got it." });
      return call.sessionId;
    });
    assert.equal(typeof sessionId, "string");
    // The call is closed: ending it again has no open call to end.
    await assert.rejects(memory.endSession({ user }), (error) => error instanceof NotFound);
  });

  test("org indexes: build, list, search, delete", async () => {
    const memory = client();
    const built = await memory.createIndex("ts-faq", [
      { id: "returns.md", text: "Returns are accepted within 30 days with the receipt." },
      { id: "hours.md", text: "The shop opens at nine and closes at six." },
    ]);
    assert.equal(built.indexName ?? built.index_name, "ts-faq");
    assert.ok((await memory.listIndexes()).some((index) => JSON.stringify(index).includes("ts-faq")));
    const chunks = await memory.searchIndex("when are returns accepted receipt", { name: "ts-faq" });
    assert.match(JSON.stringify(chunks), /30 days/);
    await memory.deleteDocuments("ts-faq", ["returns.md"]);
    assert.doesNotMatch(JSON.stringify(await memory.listDocuments("ts-faq")), /returns\.md/);
    await memory.deleteIndex("ts-faq");
    assert.ok(!(await memory.listIndexes()).some((index) => JSON.stringify(index).includes("ts-faq")));
  });

  test("caller directory: resolve, link, find, show, merge and unmerge", async () => {
    const memory = client();
    const resolved = await memory.resolveCaller([{ kind: "phone", value: "+1 510 555 0142", source: "sip" }], {
      defaultUserId: "ts-dir-caller",
    });
    assert.equal(resolved.userId, "ts-dir-caller");
    await memory.linkIdentifier("email", "dana@example.com", { user: { id: "ts-dir-caller" } });
    const found = await memory.findCallers("dana@example.com");
    assert.match(JSON.stringify(found), /ts-dir-caller/);
    assert.match(JSON.stringify(await memory.showCaller({ userId: "ts-dir-caller" })), /dana@example\.com/);
    await memory.saveResponse({ user: { id: "ts-dir-guest" }, userText: "hello", assistantText: "hi" });
    const merged = await memory.mergeCallers("ts-dir-guest", "ts-dir-caller", { reason: "same person" });
    const mergeId = merged.mergeId ?? merged.merge_id ?? merged.id;
    assert.equal(typeof mergeId, "string");
    assert.match(JSON.stringify(await memory.listMerges({ userId: "ts-dir-caller" })), new RegExp(mergeId));
    await memory.unmergeCallers(mergeId);
  });

  test("unlinkIdentifier removes one link; an identifier the caller lacks is NotFound", async () => {
    const memory = client();
    await memory.linkIdentifier("phone", "+1 510 555 0177", { user: { id: "ts-unlink" } });
    assert.match(JSON.stringify(await memory.findCallers("(510) 555-0177")), /ts-unlink/);
    const removed = await memory.unlinkIdentifier("phone", "(510) 555-0177", { userId: "ts-unlink" });
    assert.equal(removed.value, "+15105550177");
    assert.equal(removed.userId, "ts-unlink");
    assert.deepEqual(await memory.findCallers("+15105550177"), []);
    await assert.rejects(memory.unlinkIdentifier("phone", "+15105550177", { userId: "ts-unlink" }), NotFound);
    await assert.rejects(memory.unlinkIdentifier("fax", "1", { userId: "ts-unlink" }), BadRequest);
  });

  test("saves carry a stable turn id that the runtime keeps", async () => {
    const memory = client();
    const user = { id: "caller-turn-ids" };
    await memory.saveResponse({
      user,
      userText: "The gate code for the warehouse is kestrel.",
      assistantText: "Gate code kestrel noted.",
      turnId: "turn_fixed_by_caller",
    });
    await memory.saveResponse({ user, userText: "My locker number is marmot.", assistantText: "Locker marmot." });
    await memory.flush();
    const fixed = await memory.searchMemory("warehouse gate code kestrel", { user, timeoutMs: UNHURRIED_MS });
    assert.match(JSON.stringify(fixed), /"turnId":"turn_fixed_by_caller"/);
    const generated = await memory.searchMemory("locker number marmot", { user, timeoutMs: UNHURRIED_MS });
    assert.match(JSON.stringify(generated), /"turnId":"turn_[0-9a-f]{32}"/);
  });

  test("a retried save after a dropped connection sends the same turn id", async (t) => {
    // A proxy that kills the first connection after reading the request, as a runtime
    // restart would, and forwards every later request to the real runtime.
    const bodies = [];
    let dropped = false;
    const proxy = createServer(async (request, response) => {
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      const body = Buffer.concat(chunks).toString("utf8");
      bodies.push(body);
      if (!dropped) {
        dropped = true;
        request.socket.destroy();
        return;
      }
      const forwarded = await fetch(`${runtime.url}${request.url}`, {
        method: request.method,
        headers: { authorization: request.headers.authorization, "content-type": "application/json" },
        body,
      });
      response.writeHead(forwarded.status, { "content-type": "application/json" });
      response.end(await forwarded.text());
    });
    proxy.listen(0, "127.0.0.1");
    await once(proxy, "listening");
    t.after(() => proxy.close());
    const memory = new VoiceClient({
      projectId: "ts-tests",
      agentId: "desk",
      runtimeUrl: `http://127.0.0.1:${proxy.address().port}`,
      apiKey: runtime.token,
    });
    const eventId = await memory.saveResponse({ user: { id: "caller-retry" }, userText: "hi", assistantText: "hello" });
    assert.ok(eventId);
    assert.equal(bodies.length, 2);
    const turnIds = bodies.map((body) => JSON.parse(body).turnId ?? JSON.parse(body).turn_id);
    assert.match(turnIds[0], /^turn_[0-9a-f]{32}$/);
    assert.equal(turnIds[1], turnIds[0]);
  });

  test("the error envelope becomes a typed VoxmemError with the runtime's code", async () => {
    const memory = client();
    await assert.rejects(memory.preload({ user: { id: "" } }), (error) => {
      assert.ok(error instanceof BadRequest);
      assert.equal(error.code, "bad_request");
      assert.equal(error.statusCode, 400);
      assert.equal(error.field, "user.id");
      return true;
    });
    // Fields named as this client sends them (camelCase), in details.field and in the
    // message: the runtime said user_text, a name a TypeScript caller never wrote.
    for (const [turn, field] of [
      [{ userText: "", assistantText: "" }, "userText"],
      [{ userText: "a\u0000b", assistantText: "x" }, "userText"],
      [{ userText: "a", assistantText: "x", toolCalls: "nope" }, "toolCalls"],
    ]) {
      await assert.rejects(memory.saveResponse({ user: { id: "caller-fields" }, ...turn }), (error) => {
        assert.ok(error instanceof BadRequest);
        assert.equal(error.field, field);
        assert.ok(error.message.includes(field), error.message);
        assert.ok(!/user_text|assistant_text|tool_calls/.test(error.message), error.message);
        return true;
      });
    }
    await assert.rejects(memory.endSession({ user: { id: "caller-never-called" } }), (error) => {
      assert.ok(error instanceof NotFound);
      assert.equal(error.code, "session_not_found");
      return true;
    });
    // A bad search is the developer's to fix: it throws rather than degrading.
    await assert.rejects(memory.searchMemory("x", { user: { id: "u" }, lanes: ["gossip"] }), BadRequest);
    const unknown = errorFromEnvelope({ error: { code: "store.unavailable", message: "disk full", details: {} } }, 503);
    assert.ok(unknown instanceof StoreUnavailable);
    assert.equal(unknown.retryable, true);
    assert.ok(errorFromEnvelope("<html>", 502) instanceof VoxmemError);
  });

  test("a wrong token is Unauthorized", async () => {
    const memory = new VoiceClient({ projectId: "p", agentId: "a", runtimeUrl: runtime.url, apiKey: "wrong" });
    await assert.rejects(memory.listIndexes(), Unauthorized);
  });

  test("VOXMEM_RUNTIME_URL and VOXMEM_RUNTIME_TOKEN select the runtime", async () => {
    const memory = new VoiceClient({
      projectId: "ts-tests",
      agentId: "desk",
      env: { VOXMEM_RUNTIME_URL: runtime.url, VOXMEM_RUNTIME_TOKEN: runtime.token },
    });
    assert.ok(Array.isArray(await memory.listIndexes()));
  });

  test("the data directory's runtime file and token file are found", async () => {
    const memory = new VoiceClient({ projectId: "ts-tests", agentId: "desk", dataDir: runtime.dataDir, runtimeCommand: [] });
    assert.ok(Array.isArray(await memory.listIndexes()));
    assert.equal(memory.transport.local.launched, 0);
  });

  test("the memory tool answers with context, and with a sentence when memory is down", async () => {
    const memory = client();
    const user = { id: "caller-tool" };
    await memory.saveResponse({ user, userText: "Our office plants are watered by the gardener on Thursdays.", assistantText: "Thursdays, noted." });
    await memory.flush();
    const tool = memory.searchMemoryTool({ user, timeoutMs: UNHURRIED_MS });
    assert.equal(tool.name, "search_memory");
    assert.equal(tool.schema().function.name, "search_memory");
    assert.match(await tool.call("when does the gardener water the office plants?"), /Thursday/);
    const offline = new VoiceClient({ projectId: "p", agentId: "a", runtimeUrl: "http://127.0.0.1:9", apiKey: "t" });
    const down = offline.searchMemoryTool({ user });
    assert.match(await down.call("plants?"), /No relevant memory|unavailable/);
  });
});

describe("an unreachable runtime", () => {
  const offline = () =>
    new VoiceClient({ projectId: "p", agentId: "a", runtimeUrl: "http://127.0.0.1:9", apiKey: "t" });

  test("searchMemory answers empty and degraded instead of throwing", async () => {
    const result = await offline().searchMemory("anything", { user: { id: "u" }, timeoutMs: 200 });
    assert.equal(result.contextText, "");
    assert.equal(result.trace.degraded, true);
    assert.equal(result.trace.errors.runtime, "store.unavailable");
  });

  test("other calls throw store.unavailable", async () => {
    await assert.rejects(offline().preload({ user: { id: "u" } }), (error) => {
      assert.ok(error instanceof StoreUnavailable);
      assert.equal(error.code, "store.unavailable");
      return true;
    });
  });

  test("a closed client refuses calls with pool.closed", async () => {
    const memory = client();
    await memory.close();
    await assert.rejects(memory.listIndexes(), (error) => error.code === "pool.closed");
  });

  test("construction checks the scope", () => {
    assert.throws(() => new VoiceClient({ projectId: "", agentId: "a" }), BadRequest);
    assert.throws(() => new VoiceClient({ projectId: "p", agentId: "a", runtimeUrl: "http://x", env: {} }), Unauthorized);
  });

  test("RuntimeStartFailed is exported for callers to catch", () => {
    assert.equal(new RuntimeStartFailed("x").code, "runtime.start_failed");
  });
});
