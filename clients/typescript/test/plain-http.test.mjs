// A client sending its token over plain http:// to a host that is not loopback warns
// once per host (a process warning of type "voxmem.client"); loopback and https do not.
import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import { test } from "node:test";

import { VoiceClient } from "../dist/index.js";

async function warningsWhile(build) {
  const seen = [];
  const listen = (warning) => {
    if (warning.name === "voxmem.client") seen.push(warning);
  };
  process.on("warning", listen);
  try {
    build();
    await tick(); // process warnings are emitted on the next tick
    await tick();
  } finally {
    process.off("warning", listen);
  }
  return seen;
}

const make = (runtimeUrl) => new VoiceClient({ projectId: "p", agentId: "a", runtimeUrl, apiKey: "vxk_secret_value" });

test("plain http to another host warns once per host, without the token", async () => {
  const seen = await warningsWhile(() => {
    make("http://192.0.2.10:7878");
    make("http://192.0.2.10:7879/");
    make("http://memory.example.internal:7878");
  });
  assert.equal(seen.length, 2, seen.map(String).join("\n"));
  assert.match(seen[0].message, /http:\/\/192\.0\.2\.10 .*https:\/\//);
  assert.equal(seen[0].code, "VOXMEM_PLAIN_HTTP");
  assert.match(seen[1].message, /memory\.example\.internal/);
  assert.ok(seen.every((w) => !w.message.includes("vxk_secret_value")));
});

test("loopback and https do not warn", async () => {
  const seen = await warningsWhile(() => {
    for (const url of ["http://127.0.0.1:7878", "http://127.3.4.5:7878", "http://[::1]:7878", "http://localhost:7878", "http://LOCALHOST:7878", "https://192.0.2.11:7878"]) {
      make(url);
    }
  });
  assert.deepEqual(seen.map(String), []);
});
