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
