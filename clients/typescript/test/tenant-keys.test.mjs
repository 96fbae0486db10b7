// A tenant's API key (`voxmem keys create`) through the Node client, against a real
// `voxmem serve`: the client names no tenant and lands in the key's; naming another
// tenant is refused (403 `forbidden`); a revoked key is refused from its next request.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, test } from "node:test";

import { Unauthorized, VoiceClient } from "../dist/index.js";
import { PYTHON, startRuntime } from "./_runtime.mjs";

let runtime;

/** Run `voxmem keys ...` on the runtime's data directory; its stdout. */
async function keys(...args) {
  const child = spawn(PYTHON, ["-m", "voxmem", "keys", ...args, "--data-dir", runtime.dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (err += chunk));
  const [code] = await once(child, "exit");
  assert.equal(code, 0, err);
  return out;
}

const client = (apiKey, extra = {}) =>
  new VoiceClient({ projectId: "ts-keys", agentId: "desk", runtimeUrl: runtime.url, apiKey, ...extra });

before(async () => {
  runtime = await startRuntime();
});
after(async () => {
  await runtime?.stop();
});

test("a tenant key works without a tenantId, in its tenant only, until revoked", async () => {
  const acme = JSON.parse(await keys("create", "--tenant", "acme", "--json"));
  const user = { id: "caller-keys" };
  const memory = client(acme.key);
  await memory.saveResponse({ user, userText: "My code word is marmalade.", assistantText: "Noted." });
  const mine = await memory.exportUser({ user });
  assert.equal(mine.sessions.length, 1);

  // Stored in acme: the default tenant (runtime token, no tenant) has nothing of it.
  const admin = await client(runtime.token).exportUser({ user });
  assert.equal(admin.sessions.length, 0);
  const adminAcme = await client(runtime.token, { tenantId: "acme" }).exportUser({ user });
  assert.equal(adminAcme.sessions.length, 1);

  // Naming another tenant with acme's key: refused, nothing read.
  const intruder = client(acme.key, { tenantId: "beta" });
  await assert.rejects(intruder.listMemories({ user }), (err) => {
    assert.ok(err instanceof Unauthorized);
    assert.equal(err.code, "forbidden");
    assert.equal(err.statusCode, 403);
    return true;
  });

  await keys("revoke", acme.keyId);
  await assert.rejects(memory.exportUser({ user }), (err) => {
    assert.ok(err instanceof Unauthorized);
    assert.equal(err.code, "unauthorized");
    assert.ok(!String(err.message).includes(acme.key), "the key is never echoed");
    return true;
  });
});

test("the LiveKit agent serves a job's tenant with a client holding only that tenant's key", async () => {
  // Found by this test: the Node agent ignored the job's tenant (a job of tenant beta was
  // filed under the key's tenant acme), and `tenantId` reads "default" for such a client,
  // so comparing with it would have switched memory off for acme's own callers.
  const { initializeLogger, voice } = await import("@livekit/agents");
  const { CallerIdentity, MemoryAgent } = await import("../dist/livekit.js");
  initializeLogger({ pretty: false, level: "fatal" });
  const acme = JSON.parse(await keys("create", "--tenant", "acme", "--json"));
  const memory = client(acme.key);
  assert.equal(memory.tenantId, "default");
  assert.equal(await memory.servesTenant("acme"), true);
  assert.equal(await memory.servesTenant("beta"), false);
  assert.equal(await client(runtime.token).servesTenant("acme"), false); // runs in "default"
  assert.equal(await client(runtime.token, { tenantId: "acme" }).servesTenant("acme"), true);

  const call = async (tenant) => {
    const agent = new MemoryAgent({
      client: memory,
      instructions: "You are Ava.",
      identity: new CallerIdentity("caller-lk-keys", "job_metadata", { tenantId: tenant }),
    });
    const session = new voice.AgentSession({
      llm: new voice.testing.FakeLLM([{ input: `calling for ${tenant}`, content: "Noted." }]),
    });
    await session.start({ agent });
    await session.run({ userInput: `calling for ${tenant}` }).wait();
    await session.close();
    await agent.memory.close();
    return agent.memory;
  };
  assert.equal((await call("acme")).enabled, true);
  assert.equal((await call("beta")).enabled, false);
  const user = { id: "caller-lk-keys" };
  const inAcme = await client(runtime.token, { tenantId: "acme" }).exportUser({ user });
  assert.deepEqual(
    inAcme.items.filter((i) => i.kind === "turn").map((i) => i.userText),
    ["calling for acme"],
  );
  const inBeta = await client(runtime.token, { tenantId: "beta" }).exportUser({ user });
  assert.equal(inBeta.items.length, 0);
});
