// The committed generated types must match the runtime's OpenAPI document.
import assert from "node:assert/strict";
import { test } from "node:test";

import { drifted, loadDocument, operationTable } from "../scripts/gen-types.mjs";
import { OPERATIONS } from "../dist/index.js";

test("src/generated matches the runtime's OpenAPI document (run npm run gen-types)", async () => {
  const document = loadDocument();
  assert.deepEqual(await drifted(document), []);
});

test("the drift check fails when the document changes", async () => {
  const document = loadDocument();
  document.paths["/v1/memory/new-operation"] = {
    post: { operationId: "new_operation", requestBody: { content: { "application/json": { schema: { type: "object" } } } }, responses: {} },
  };
  assert.deepEqual(await drifted(document), ["openapi.ts", "operations.ts"]);
});

test("every runtime operation has a route in the client", () => {
  const table = operationTable(loadDocument());
  assert.deepEqual(Object.keys(OPERATIONS), Object.keys(table));
  assert.equal(OPERATIONS.search_memory.path, "/v1/memory/search");
});
