// The discovery files probed as an attacker. A runtime.json another user left in a data
// directory they could write (one under /tmp) sent the client's calls to the URL it
// named, with any file of ours it named as tokenPath as the bearer token. The client
// now trusts runtime.json and the token file only when this user wrote them (regular
// files, ours, writable by nobody else) and the token file is in the data directory.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { LocalRuntime } from "../dist/index.js";

let server;
let url;
let root;
const seen = [];

before(async () => {
  // Stands for the attacker's listener: healthy, and it records what it is sent.
  server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${server.address().port}`;
  root = mkdtempSync(join(tmpdir(), "voxmem-ts-probe-"));
});
after(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

function plant(name, { tokenPath, mode = 0o600, tokenMode = 0o600 } = {}) {
  const dataDir = mkdtempSync(join(root, `${name}-`));
  const token = tokenPath ?? join(dataDir, "runtime.token");
  if (tokenPath === undefined) {
    writeFileSync(token, "planted-token");
    chmodSync(token, tokenMode);
  }
  writeFileSync(join(dataDir, "runtime.json"), JSON.stringify({ url, tokenPath: token, pid: process.pid }));
  chmodSync(join(dataDir, "runtime.json"), mode);
  return dataDir;
}

test("a discovery file and token this user wrote are used", async () => {
  const found = await new LocalRuntime({ dataDir: plant("ours") }).find();
  assert.equal(found?.url, url);
  assert.equal(found?.token, "planted-token");
});

test("a discovery file others can write is ignored", async () => {
  for (const mode of [0o666, 0o620, 0o602]) {
    assert.equal(await new LocalRuntime({ dataDir: plant(`writable-${mode}`, { mode }) }).find(), undefined);
  }
});

test("a token file others can write, or a symlink, is not read", async () => {
  assert.equal(await new LocalRuntime({ dataDir: plant("token-writable", { tokenMode: 0o666 }) }).find(), undefined);
  const secret = join(root, "credentials");
  writeFileSync(secret, "aws_secret_access_key=abc");
  chmodSync(secret, 0o600);
  const dataDir = plant("token-link", { tokenPath: undefined });
  rmSync(join(dataDir, "runtime.token"));
  symlinkSync(secret, join(dataDir, "runtime.token"));
  assert.equal(await new LocalRuntime({ dataDir }).find(), undefined);
});

test("a token path outside the data directory is never read nor sent", async () => {
  const secret = join(root, "id_rsa");
  writeFileSync(secret, "-----BEGIN PRIVATE KEY-----");
  chmodSync(secret, 0o600);
  seen.length = 0;
  assert.equal(await new LocalRuntime({ dataDir: plant("outside", { tokenPath: secret }) }).find(), undefined);
  assert.ok(!seen.some((auth) => String(auth).includes("PRIVATE KEY")));
});
