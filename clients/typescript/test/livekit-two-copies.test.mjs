// An app whose @livekit/agents is not the copy @voxmem/client/livekit loads. `npm install
// /path/to/voxmem/clients/typescript` (the README's way) links the folder, so the client
// resolves its imports in the folder's own node_modules, beside the app's copy. Each
// check runs a small app laid out that way: the client linked in, and @livekit/agents
// either the very same files (linked) or a copy of them (another path, so
// another module instance, as a second install is).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const CLIENT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MODULES = join(CLIENT, "node_modules");
const made = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

// Builds a session and a MemoryAgent the way an app does, with a caller given outright
// and a runtime that is not there (the check is made when the agent joins the session).
const APP = `
import { initializeLogger, voice } from "@livekit/agents";
import { VoiceClient } from "@voxmem/client";
import { CallerIdentity, MemoryAgent } from "@voxmem/client/livekit";
initializeLogger({ pretty: false, level: "fatal" });
const codes = [];
process.on("warning", (w) => { if (w.name === "voxmem.client") codes.push(w.code); });
const client = new VoiceClient({ projectId: "p", agentId: "a", runtimeUrl: "http://127.0.0.1:9", apiKey: "t" });
const agent = new MemoryAgent({ client, instructions: "You are Ava.", identity: CallerIdentity.explicit("u-1"), preloadTimeoutMs: 50 });
const session = new voice.AgentSession({ llm: new voice.testing.FakeLLM([]) });
await session.start({ agent });
await new Promise((done) => setImmediate(done));
console.log(JSON.stringify(codes));
process.exit(0);
`;

function runApp(copyLivekit) {
  const app = mkdtempSync(join(tmpdir(), "voxmem-ts-app-"));
  made.push(app);
  const modules = join(app, "node_modules");
  mkdirSync(join(modules, "@voxmem"), { recursive: true });
  symlinkSync(CLIENT, join(modules, "@voxmem", "client"));
  // The app's other packages: the ones @livekit/agents needs, shared.
  for (const name of readdirSync(MODULES)) {
    if (name.startsWith(".") || name === "@livekit") continue;
    symlinkSync(join(MODULES, name), join(modules, name));
  }
  mkdirSync(join(modules, "@livekit"));
  for (const name of readdirSync(join(MODULES, "@livekit"))) {
    const from = join(MODULES, "@livekit", name);
    const to = join(modules, "@livekit", name);
    if (name === "agents" && copyLivekit) cpSync(from, to, { recursive: true });
    else symlinkSync(from, to);
  }
  writeFileSync(join(app, "app.mjs"), APP);
  const run = spawnSync(process.execPath, ["app.mjs"], { cwd: app, encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split("\n").at(-1));
}

test("a session from another copy of @livekit/agents is named in a process warning", () => {
  assert.deepEqual(runApp(true), ["VOXMEM_LIVEKIT_TWO_COPIES"]);
});

test("the same copy of @livekit/agents gives no such warning", () => {
  assert.deepEqual(runApp(false), []);
});
