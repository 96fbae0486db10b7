#!/usr/bin/env node
// searchMemory latency through the TypeScript client, next to the Python client, in one
// run against one runtime holding one caller with 10,000 past turns.
//
//   (cd clients/typescript && npm ci && npm run build)
//   node benchmarks/ts_client.mjs [--turns 10000] [--searches 500] [--embedder static]
//
// The runtime is `voxmem serve` from `$VOXMEM_PYTHON` (default python3); the Python side
// runs the same queries with `voxmem.VoiceClient` in a child process of that interpreter.
// TypeScript and Python take turns in 5 interleaved rounds over the same questions.
// Writes a table to stdout and benchmarks/results/ts_client.json.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";

import { LocalRuntime, VoiceClient } from "../clients/typescript/dist/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.VOXMEM_PYTHON || "python3";
const { values: args } = parseArgs({
  options: {
    turns: { type: "string", default: "10000" },
    searches: { type: "string", default: "500" },
    embedder: { type: "string", default: "static" },
    out: { type: "string", default: join(HERE, "results", "ts_client.json") },
  },
});
const TURNS = Number(args.turns);
const SEARCHES = Number(args.searches);
const TIMEOUT_MS = 1000;

const SUBJECTS = ["parcel", "invoice", "router", "booking", "refund", "password", "delivery", "subscription", "appointment", "warranty"];
const DETAILS = ["side door", "Friday morning", "order 4471", "the blue van", "extra charge", "my sister", "after five", "the old address", "a replacement", "the loyalty card"];
const turnText = (i) => `About my ${SUBJECTS[i % 10]}: please note ${DETAILS[Math.floor(i / 10) % 10]} (case ${i}).`;
const question = (i) => `what did I say about the ${SUBJECTS[i % 10]} and ${DETAILS[(i * 7) % 10]}?`;

function pct(sorted, p) {
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}
function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  return { p50: round(pct(sorted, 50)), p95: round(pct(sorted, 95)), p99: round(pct(sorted, 99)), n: values.length };
}

const PYTHON_SIDE = `
import asyncio, json, sys, time
from voxmem import VoiceClient
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
questions = json.loads(sys.stdin.read())
async def main():
    client = VoiceClient(project_id="bench", agent_id="agent", runtime_url=url, api_key=token)
    user = {"id": "caller-1"}
    for q in questions[:5]:  # warm the connection
        await client.search_memory(q, user=user, timeout_ms=${TIMEOUT_MS})
    ms, degraded = [], 0
    for q in questions[:n]:
        t = time.perf_counter()
        r = await client.search_memory(q, user=user, timeout_ms=${TIMEOUT_MS})
        ms.append((time.perf_counter() - t) * 1000)
        degraded += bool(r.degraded)
    await client.aclose()
    print(json.dumps({"ms": ms, "degraded": degraded}))
asyncio.run(main())
`;

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "voxmem-ts-bench-"));
  const base = 20000 + Math.floor(Math.random() * 400) * 100;
  const child = spawn(PYTHON, ["-m", "voxmem", "serve", "--data-dir", dataDir, "--embedder", args.embedder], {
    env: { ...process.env, VOXMEM_RUNTIME_PORT_MIN: String(base), VOXMEM_RUNTIME_PORT_MAX: String(base + 99), VOXMEM_MEMORY_RETENTION_DAYS: "0" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    const local = new LocalRuntime({ dataDir, command: [] });
    let endpoint;
    while (!(endpoint = await local.find())) {
      if (child.exitCode !== null) throw new Error(`voxmem serve exited ${child.exitCode}`);
      await sleep(50);
    }
    const client = new VoiceClient({ projectId: "bench", agentId: "agent", runtimeUrl: endpoint.url, apiKey: endpoint.token });
    const user = { id: "caller-1" };
    const started = performance.now();
    const now = Date.now() / 1000;
    const perSession = 50;
    const sessions = [];
    for (let s = 0; s < TURNS / perSession; s += 1) {
      sessions.push({
        started_at: now - 86_400 * (TURNS / perSession - s),
        turns: Array.from({ length: perSession }, (_, j) => ({ user_text: turnText(s * perSession + j), assistant_text: "Okay, noted." })),
      });
    }
    for (let i = 0; i < sessions.length; i += 100) {
      await client.importHistory({ user, sessions: sessions.slice(i, i + 100) });
    }
    await client.flush(1800);
    const importS = (performance.now() - started) / 1000;
    const questions = Array.from({ length: SEARCHES + 20 }, (_, i) => question(i));
    await client.preload({ user });
    for (const q of questions.slice(0, 20)) await client.searchMemory(q, { user, timeoutMs: TIMEOUT_MS });
    await sleep(1000); // let the end-of-call learning of the imported calls settle

    // Interleaved rounds, so background work in the runtime (learning from the imported
    // calls) and load from other processes fall on both clients alike.
    const ROUNDS = 5;
    const perRound = Math.ceil(SEARCHES / ROUNDS);
    const tsMs = [];
    const traceMs = [];
    let tsDegraded = 0;
    const py = { ms: [], degraded: 0 };
    for (let round = 0; round < ROUNDS; round += 1) {
      const batch = questions.slice(20 + round * perRound, 20 + (round + 1) * perRound);
      for (const q of batch) {
        const t = performance.now();
        const result = await client.searchMemory(q, { user, timeoutMs: TIMEOUT_MS });
        tsMs.push(performance.now() - t);
        if (typeof result.trace.totalMs === "number") traceMs.push(result.trace.totalMs);
        if (result.trace.degraded) tsDegraded += 1;
      }
      const side = JSON.parse(
        execFileSync(PYTHON, ["-c", PYTHON_SIDE, endpoint.url, endpoint.token, String(batch.length)], {
          input: JSON.stringify(batch),
          encoding: "utf8",
          maxBuffer: 64 << 20,
        }),
      );
      py.ms.push(...side.ms);
      py.degraded += side.degraded;
    }
    const out = {
      turns: TURNS,
      searches: SEARCHES,
      embedder: args.embedder,
      node: process.version,
      import_s: Math.round(importS * 10) / 10,
      typescript_client_ms: { ...summary(tsMs), degraded: tsDegraded },
      python_client_ms: { ...summary(py.ms), degraded: py.degraded },
      runtime_trace_total_ms: summary(traceMs),
    };
    writeFileSync(args.out, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`searchMemory through the client, one caller with ${TURNS} turns, ${SEARCHES} sequential searches (${args.embedder} embedder)\n`);
    console.log("| client | p50 ms | p95 ms | p99 ms | degraded |");
    console.log("|---|---|---|---|---|");
    console.log(`| TypeScript (${process.version}) | ${out.typescript_client_ms.p50} | ${out.typescript_client_ms.p95} | ${out.typescript_client_ms.p99} | ${tsDegraded} of ${SEARCHES} |`);
    console.log(`| Python | ${out.python_client_ms.p50} | ${out.python_client_ms.p95} | ${out.python_client_ms.p99} | ${py.degraded} of ${SEARCHES} |`);
    console.log(`| runtime's own trace.totalMs | ${out.runtime_trace_total_ms.p50} | ${out.runtime_trace_total_ms.p95} | ${out.runtime_trace_total_ms.p99} | |`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
