/**
 * One HTTP exchange with the runtime over `node:http` / `node:https`.
 *
 * Hand-written over the platform's modules rather than `fetch` because recall is on the
 * voice turn's critical path: a keep-alive agent with Nagle off answers loopback
 * requests in well under a millisecond of client time, where `fetch` (undici) measured
 * 2-4x that on this workload (see benchmarks/ts_client.mjs). No dependency is needed.
 */
import http from "node:http";
import https from "node:https";

/** The raw answer of the runtime. */
export interface WireResponse {
  status: number;
  text: string;
}

const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 64 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/**
 * Send one request; rejects with the platform's error (connection refused, reset,
 * `AbortError` when `signal` aborts). The transport maps those to voxmem codes.
 */
export function request(
  baseUrl: string,
  method: string,
  path: string,
  body: string | undefined,
  token: string | undefined,
  signal: AbortSignal,
): Promise<WireResponse> {
  const url = new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  // Keep any path prefix of the base URL (a runtime behind a reverse proxy).
  url.pathname = `${new URL(baseUrl).pathname.replace(/\/+$/, "")}${path}`;
  const module = url.protocol === "https:" ? https : http;
  const headers: Record<string, string> = { accept: "application/json" };
  if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return new Promise<WireResponse>((resolve, reject) => {
    const req = module.request(
      url,
      { method, headers, agent: agents[url.protocol as "http:" | "https:"], signal },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    req.setNoDelay(true);
    req.on("error", reject);
    req.end(body);
  });
}
