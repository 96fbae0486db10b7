// A runtime.json left by a runtime that died (kill -9, the OOM killer) names a pid the
// system may have given to another process since, and a port another runtime may serve
// by now. While the next runtime of the directory starts (`voxmem serve` holds the runtime
// lock from its first moment and writes its pid there, then imports for seconds) that
// file is still the dead one's. The Python clients no longer trust a runtime.json naming
// another pid than the lock holder's; this client follows the same rule.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { LocalRuntime, RuntimeStartFailed } from "../dist/index.js";
import { lockHolder } from "../dist/runtime.js";
import { PYTHON, RUNTIME_COMMAND, detachedDataDir, runtimeSettings, startRuntime } from "./_runtime.mjs";

// Takes the runtime lock as `voxmem serve` does before its imports (flock, then its pid
// written into the file), says so, and holds it until killed.
const HOLD_LOCK = `
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.ftruncate(fd, 0)
os.pwrite(fd, f"{os.getpid()}\\n".encode("ascii"), 0)
print("held", flush=True)
time.sleep(300)
`;

async function started(child) {
  const [chunk] = await Promise.race([
    once(child.stdout, "data"),
    once(child, "exit").then(() => { throw new Error("the process exited before it was ready"); }),
  ]);
  return String(chunk);
}

function stopper(t, child) {
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  });
}

test("a runtime.json of a dead runtime is not used while the next one holds the lock", async (t) => {
  // Another data directory's runtime, on the port the dead one had: it answers health.
  const other = await startRuntime();
  t.after(() => other.stop());
  // Another process of this user, holding the pid the dead runtime had.
  const bystander = spawn(process.execPath, ["-e", "console.log('up'); setTimeout(() => {}, 300000)"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  stopper(t, bystander);
  await started(bystander);

  const dataDir = detachedDataDir(t); // the serve it launches is stopped at the end
  writeFileSync(join(dataDir, "runtime.token"), "token-of-the-dead-runtime\n", { mode: 0o600 });
  writeFileSync(join(dataDir, "runtime.json"), JSON.stringify({
    pid: bystander.pid, url: other.url, tokenPath: join(dataDir, "runtime.token"),
    startedAt: Date.now() / 1000 - 60, instance: "0123456789abcdef", version: "0.1.0",
  }), { mode: 0o600 });
  const local = new LocalRuntime({ dataDir, command: RUNTIME_COMMAND, env: runtimeSettings(), startTimeoutMs: 3000 });
  // Nobody holds the lock (the runtime died): the file is trusted, as before, and the
  // health check is what tells. Here it answers, so this is the case the rule is for.
  assert.equal((await local.find())?.url, other.url);

  const holder = spawn(PYTHON, ["-c", HOLD_LOCK, join(dataDir, "runtime.lock")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  stopper(t, holder);
  assert.equal((await started(holder)).trim(), "held");
  assert.equal(lockHolder(dataDir), holder.pid);

  // Before, the client took the other directory's runtime for its own (and sent it the
  // dead runtime's token); now it waits for the one starting, which here never publishes.
  assert.equal(await local.find(), undefined);
  await assert.rejects(local.findOrStart(), (error) => {
    assert.ok(error instanceof RuntimeStartFailed, String(error));
    return true;
  });
  assert.equal(bystander.exitCode, null, "a client signalled a process that was no runtime");
  assert.equal(bystander.signalCode, null, "a client signalled a process that was no runtime");
});

test("a runtime that holds the lock and published itself is used", async (t) => {
  const runtime = await startRuntime();
  t.after(() => runtime.stop());
  const found = await new LocalRuntime({ dataDir: runtime.dataDir, command: [] }).find();
  assert.equal(found?.url, runtime.url);
  // A runtime that writes its pid into the lock names itself; an older one leaves it empty.
  const holder = lockHolder(runtime.dataDir);
  assert.ok(holder === undefined || holder === found.pid, `lock ${holder}, runtime.json ${found.pid}`);
});
