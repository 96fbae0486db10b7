// A real `voxmem serve` for the tests, started from the repo's Python package.
//
// The interpreter is `$VOXMEM_PYTHON` (CI sets the repo's virtualenv), else `python3`;
// it must be able to `import voxmem`. Each runtime gets its own temporary data directory
// and a random port range, so test files and other users of the machine never collide.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { LocalRuntime } from "../dist/index.js";

export const PYTHON = process.env.VOXMEM_PYTHON || "python3";
/** How the client starts a runtime in these tests: the repo's package as a module. */
export const RUNTIME_COMMAND = [PYTHON, "-m", "voxmem"];

/**
 * The deadline of a search in a test about what memory answers, not how fast: the
 * runtime's largest. A shorter one (2 s) answers degraded and empty when a loaded host
 * holds the runtime off a core for that long.
 */
export const UNHURRIED_MS = 60_000;

/** `VOXMEM_*` settings of every test runtime: the hashing embedder and a free port range. */
export function runtimeSettings() {
  const base = 20000 + Math.floor(Math.random() * 400) * 100;
  return {
    VOXMEM_EMBEDDER: "hashing",
    VOXMEM_RUNTIME_PORT_MIN: String(base),
    VOXMEM_RUNTIME_PORT_MAX: String(base + 99),
  };
}

export function tempDataDir(t) {
  const dir = mkdtempSync(join(tmpdir(), "voxmem-ts-"));
  t?.after?.(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Start `voxmem serve` on a fresh data directory and wait until it publishes itself.
 * Returns `{ dataDir, url, token, pid, child, stop() }`.
 */
export async function startRuntime() {
  const dataDir = mkdtempSync(join(tmpdir(), "voxmem-ts-"));
  const child = spawn(PYTHON, ["-m", "voxmem", "serve", "--data-dir", dataDir], {
    env: { ...process.env, ...runtimeSettings() },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, "exit");
  const local = new LocalRuntime({ dataDir, command: [] });
  let endpoint;
  const deadline = Date.now() + 60_000;
  while (endpoint === undefined) {
    if (child.exitCode !== null) throw new Error(`voxmem serve exited ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`voxmem serve did not publish itself: ${stderr}`);
    endpoint = await local.find();
    if (endpoint === undefined) await sleep(50);
  }
  return {
    dataDir,
    url: endpoint.url,
    token: endpoint.token,
    pid: child.pid,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh data directory for a runtime the client under test starts (detached): when the
 * test ends the runtime is stopped first, then the directory removed (stopping needs the
 * runtime's files in it; removed first, the runtime would be left running).
 */
export function detachedDataDir(t) {
  const dir = mkdtempSync(join(tmpdir(), "voxmem-ts-"));
  t.after(async () => {
    await stopDetached(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Stop every runtime of `dataDir`: the published one through `voxmem stop`, then any
 * `voxmem serve --data-dir <dataDir>` still alive. A client under test launches its
 * runtime detached; on a loaded host that process may still be importing when the test
 * ends, find the lock free once the test's own runtime is gone, and start serving (and
 * writing) in a directory being removed.
 */
export async function stopDetached(dataDir) {
  const stopper = spawn(PYTHON, ["-m", "voxmem", "stop", "--data-dir", dataDir], { stdio: "ignore" });
  await once(stopper, "exit");
  await killRuntimesOf(dataDir);
}

/** The pids of the live processes whose command line is `... serve --data-dir <dataDir> ...`. */
function runtimesOf(dataDir) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // exited meanwhile
    }
    const at = argv.indexOf("--data-dir");
    if (argv.includes("serve") && at >= 0 && argv[at + 1] === dataDir) pids.push(Number(entry));
  }
  return pids;
}

/** SIGTERM each runtime of `dataDir` (SIGKILL after 30 s) and wait until none is left. */
export async function killRuntimesOf(dataDir) {
  const deadline = Date.now() + 30_000;
  const asked = new Set();
  for (let pids = runtimesOf(dataDir); pids.length > 0; pids = runtimesOf(dataDir)) {
    for (const pid of pids) {
      const late = Date.now() > deadline;
      if (asked.has(pid) && !late) continue;
      asked.add(pid);
      try {
        process.kill(pid, "SIGCONT");
        process.kill(pid, late ? "SIGKILL" : "SIGTERM");
      } catch {
        // gone already
      }
    }
    await sleep(50);
  }
}

/**
 * A loopback proxy in front of `runtime` that records every request body by path; the
 * tests read what the client sent while the real runtime answers.
 */
export async function recordingProxy(runtime) {
  const { createServer } = await import("node:http");
  const requests = [];
  const server = createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    requests.push({ path: request.url, body: body ? JSON.parse(body) : undefined });
    const forwarded = await fetch(`${runtime.url}${request.url}`, {
      method: request.method,
      headers: { authorization: request.headers.authorization ?? "", "content-type": "application/json" },
      body: request.method === "GET" ? undefined : body,
    });
    response.writeHead(forwarded.status, { "content-type": "application/json" });
    response.end(await forwarded.text());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    bodies: (path) => requests.filter((r) => r.path === path).map((r) => r.body),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// `voxmem serve` holding its import of the runtime's server module until the gate file
// exists: it has taken the runtime lock (a client sees a runtime starting and waits for
// it) and does not answer yet, as a cold, loaded host holds a start for seconds.
const HELD_SERVE = `
import importlib.abc, pathlib, sys, time
gate, reached, data_dir, ports = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]

class HoldServerImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "voxmem.runtime._server":
            reached.write_text("importing")
            while not gate.exists():
                time.sleep(0.01)
        return None

sys.meta_path.insert(0, HoldServerImport())
from voxmem.cli import main
raise SystemExit(main(["serve", "--data-dir", data_dir, "--port-range", ports]))
`;

/**
 * A runtime slow to start on a fresh data directory: `seed` (Python, with an embedded
 * client `vm` of project "ts-livekit", agent "ava") runs on the directory first, then a
 * `voxmem serve` is started and held before it answers. `release()` lets it go on;
 * `up()` waits until it serves. Stopped and removed when the test ends.
 */
export async function startHeldRuntime(t, seed) {
  const { existsSync, writeFileSync } = await import("node:fs");
  const dataDir = mkdtempSync(join(tmpdir(), "voxmem-ts-"));
  const env = { ...process.env, ...runtimeSettings() };
  const seeding = spawn(PYTHON, ["-c", [
    "import sys", "from voxmem import VoiceClientSync",
    "vm = VoiceClientSync(project_id='ts-livekit', agent_id='ava', embedded=True, data_dir=sys.argv[1])",
    seed, "vm.flush()", "vm.close()"].join("\n"), dataDir], { env, stdio: ["ignore", "ignore", "inherit"] });
  const [seeded] = await once(seeding, "exit");
  if (seeded !== 0) throw new Error(`seeding exited ${seeded}`);
  const gate = join(dataDir, "..", `${dataDir.split("/").pop()}.gate`);
  const reached = join(dataDir, "..", `${dataDir.split("/").pop()}.reached`);
  const ports = `${env.VOXMEM_RUNTIME_PORT_MIN}-${env.VOXMEM_RUNTIME_PORT_MAX}`;
  const child = spawn(PYTHON, ["-c", HELD_SERVE, gate, reached, dataDir, ports], { env, stdio: "ignore" });
  const exited = once(child, "exit");
  const release = () => writeFileSync(gate, "go");
  t.after(async () => {
    release();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    // The client under test launched a runtime of its own while this one was held.
    await killRuntimesOf(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(gate, { force: true });
    rmSync(reached, { force: true });
  });
  const deadline = Date.now() + 120_000;
  while (!existsSync(reached)) {
    if (child.exitCode !== null) throw new Error(`voxmem serve exited ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("voxmem serve did not start importing");
    await sleep(20);
  }
  const local = new LocalRuntime({ dataDir, command: [] });
  return {
    dataDir,
    env,
    release,
    async up() {
      while ((await local.find()) === undefined) {
        if (child.exitCode !== null) throw new Error(`voxmem serve exited ${child.exitCode}`);
        if (Date.now() > deadline) throw new Error("voxmem serve did not publish itself");
        await sleep(50);
      }
    },
  };
}
