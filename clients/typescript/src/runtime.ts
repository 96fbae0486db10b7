/**
 * Finding the local voxmem runtime of a data directory, or starting one.
 *
 * The runtime publishes itself in its data directory: `runtime.json` (pid, url,
 * tokenPath, ...) and the bearer token in the 0600 file it names. A client uses the
 * published runtime when its `/v1/health` answers. When none does, it runs
 * `voxmem serve --data-dir <dir>` detached and waits for it to publish itself.
 *
 * Node has no `flock`, so this client does not take the Python clients' start lock.
 * It does not need to: `voxmem serve` itself holds the data directory's runtime lock and
 * exits with code 10 when another runtime serves (or is starting for) the directory, so
 * of many clients launching at once exactly one runtime survives, and the others' waits
 * pick it up from `runtime.json`.
 */
import { spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { PoolError, RuntimeStartFailed } from "./errors.js";
import { request } from "./wire.js";

/** Where a runtime answers and the token it wants. */
export interface Endpoint {
  url: string;
  token: string;
  pid?: number;
  /** True for a runtime found through the data directory (same host, same clock). */
  local: boolean;
}

export const DISCOVERY_FILE = "runtime.json";
export const TOKEN_FILE = "runtime.token";
export const LOG_FILE = "runtime.log";
/** Held by the data directory's runtime from its first moment; holds its taker's pid. */
export const LOCK_FILE = "runtime.lock";
/** `voxmem serve` exit codes a launching client acts on. */
export const EXIT_ALREADY_RUNNING = 10;
export const EXIT_NO_FREE_PORT = 11;
/** How often a launching client looks for the runtime it started. */
export const POLL_MS = 20;
export const HEALTH_TIMEOUT_MS = 1000;
export const DEFAULT_START_TIMEOUT_MS = 30_000;
const LOG_TAIL_BYTES = 2000;
export const INSTALL_HINT =
  "install the runtime with `pip install voxmem` (it provides the `voxmem` command), " +
  "start one yourself with `voxmem serve`, or point the client at one with " +
  "VOXMEM_RUNTIME_URL and VOXMEM_RUNTIME_TOKEN";

/** The data directory the Python package uses by default: `$XDG_DATA_HOME/voxmem`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["VOXMEM_DATA_DIR"]) return expandHome(env["VOXMEM_DATA_DIR"]);
  const base = env["XDG_DATA_HOME"] || join(homedir(), ".local", "share");
  return join(base, "voxmem");
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/** The first executable named `name` on `PATH`, or `undefined`. */
export function whichCommand(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

interface Published {
  url: string;
  tokenPath: string;
  pid?: number;
}

/**
 * `path`'s text if this user wrote it: a regular file (not a symlink), owned by this
 * user and writable by nobody else. Another user who could write the data directory
 * (one under /tmp) could otherwise point the client at their own server, with a
 * "tokenPath" naming one of our files, sent to it as the bearer token.
 */
function readOurs(path: string, encoding: "utf8" | "ascii"): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
      return undefined;
    }
    return readFileSync(fd, encoding);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readPublished(dataDir: string): Published | undefined {
  try {
    const text = readOurs(join(dataDir, DISCOVERY_FILE), "utf8");
    if (text === undefined) return undefined;
    const data: unknown = JSON.parse(text);
    if (typeof data !== "object" || data === null) return undefined;
    const { url, tokenPath, pid } = data as Record<string, unknown>;
    if (typeof url !== "string" || typeof tokenPath !== "string") return undefined;
    // A runtime writes its token in its data directory and nowhere else.
    if (realpathSync(dirname(tokenPath)) !== realpathSync(dataDir)) return undefined;
    return { url, tokenPath, pid: typeof pid === "number" ? pid : undefined };
  } catch {
    return undefined;
  }
}

/**
 * The pid the runtime lock's last taker wrote into it, or `undefined` when unknown (a
 * lock file of an older release, or one being written). `voxmem serve` takes the lock
 * seconds before it publishes `runtime.json`; meanwhile the file is a dead runtime's.
 */
export function lockHolder(dataDir: string): number | undefined {
  const text = readOurs(join(dataDir, LOCK_FILE), "ascii")?.trim();
  return text !== undefined && /^[0-9]{1,10}$/.test(text) ? Number(text) : undefined;
}

function readToken(path: string): string | undefined {
  return readOurs(path, "ascii")?.trim() || undefined;
}

/** Whether a runtime answers its (token-free) health check at `url`. */
export async function healthy(url: string, timeoutMs = HEALTH_TIMEOUT_MS): Promise<boolean> {
  try {
    const response = await request(url, "GET", "/v1/health", undefined, undefined, AbortSignal.timeout(timeoutMs));
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Options of {@link LocalRuntime}. */
export interface LocalRuntimeOptions {
  dataDir: string;
  /** The command that runs the runtime (`[...command, "serve", "--data-dir", dir]`);
   * default: `voxmem` on PATH. */
  command?: string[];
  /** `VOXMEM_*` variables handed to a runtime this client starts. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** The environment to search `PATH` in and to start the runtime with (default `process.env`). */
  processEnv?: NodeJS.ProcessEnv;
}

/**
 * The runtime of one data directory: discovered, or started on demand.
 *
 * @example
 * const local = new LocalRuntime({ dataDir: defaultDataDir() });
 * const { url, token } = await local.findOrStart();
 */
export class LocalRuntime {
  readonly dataDir: string;
  private readonly command: string[] | undefined;
  private readonly env: Record<string, string>;
  private readonly startTimeoutMs: number;
  private readonly processEnv: NodeJS.ProcessEnv;
  /** How many runtimes this object has started (tests and diagnostics). */
  launched = 0;
  /** Starts this object is waiting for (its own launch, or another process's). */
  private waitingForStart = 0;
  private readonly onStarting = new Set<() => void>();

  constructor(options: LocalRuntimeOptions) {
    this.dataDir = expandHome(options.dataDir);
    this.command = options.command;
    this.env = options.env ?? {};
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.processEnv = options.processEnv ?? process.env;
  }

  /** The published, healthy runtime of the data directory, or `undefined`. */
  async find(): Promise<Endpoint | undefined> {
    const published = readPublished(this.dataDir);
    if (published === undefined) return undefined;
    // The Python clients' rule: a runtime.json naming another pid than the lock holder's
    // was left by a runtime that died while the next one starts. Its port may be another
    // runtime's by now (another data directory's, answering health), and its pid another
    // process's: never a runtime to use, nor a pid to signal.
    const holder = lockHolder(this.dataDir);
    if (holder !== undefined && holder !== published.pid) return undefined;
    const token = readToken(published.tokenPath);
    if (token === undefined || !(await healthy(published.url))) return undefined;
    return { url: published.url.replace(/\/+$/, ""), token, pid: published.pid, local: true };
  }

  /** Whether this object found no runtime serving its data directory and waits for one to start. */
  get starting(): boolean {
    return this.waitingForStart > 0;
  }

  /**
   * Resolves `true` once this object finds no runtime serving its data directory and
   * waits for one to start (seconds on a cold, loaded host), or at once while it does;
   * `false` once `signal` aborts first. A runtime that is up never starts: race this
   * against a call, as the LiveKit agent does to answer a caller at once rather than
   * wait out a start.
   */
  whenStarting(signal: AbortSignal): Promise<boolean> {
    if (this.starting) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const settle = (value: boolean): void => {
        this.onStarting.delete(started);
        signal.removeEventListener("abort", aborted);
        resolve(value);
      };
      const started = (): void => settle(true);
      const aborted = (): void => settle(false);
      this.onStarting.add(started);
      signal.addEventListener("abort", aborted, { once: true });
    });
  }

  /** Use the running runtime or start one; throws `runtime.start_failed`. */
  async findOrStart(): Promise<Endpoint> {
    const found = await this.find();
    if (found !== undefined) return found;
    const command = this.command ?? resolveDefaultCommand(this.processEnv);
    if (command === undefined || command.length === 0) {
      throw new RuntimeStartFailed(
        `no voxmem runtime is running for ${this.dataDir} and the \`voxmem\` command is not ` +
          `on PATH: ${INSTALL_HINT}`,
        { details: { dataDir: this.dataDir } },
      );
    }
    this.waitingForStart += 1;
    for (const started of [...this.onStarting]) started();
    try {
      return await this.launch(command);
    } finally {
      this.waitingForStart -= 1;
    }
  }

  private async launch(command: string[]): Promise<Endpoint> {
    const deadline = Date.now() + this.startTimeoutMs;
    let exitCode: number | null | undefined;
    let spawnError: Error | undefined;
    try {
      mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
      const log = openSync(join(this.dataDir, LOG_FILE), "a", 0o600);
      try {
        const [file, ...args] = command as [string, ...string[]];
        // Detached in its own session: the runtime must outlive this process, and
        // every other worker on the host will use it.
        const child = spawn(file, [...args, "serve", "--data-dir", this.dataDir], {
          detached: true,
          stdio: ["ignore", log, log],
          env: { ...this.processEnv, ...this.env },
        });
        child.on("error", (error) => {
          spawnError = error;
        });
        child.on("exit", (code) => {
          exitCode = code;
        });
        child.unref();
        this.launched += 1;
      } finally {
        closeSync(log);
      }
    } catch (error) {
      throw new RuntimeStartFailed(`cannot start the voxmem runtime for ${this.dataDir}: ${String(error)}`, {
        details: { dataDir: this.dataDir },
        cause: error,
      });
    }
    while (Date.now() < deadline) {
      const found = await this.find();
      if (found !== undefined) return found;
      if (spawnError !== undefined) {
        throw new RuntimeStartFailed(
          `cannot run ${command.join(" ")} (${spawnError.message}): ${INSTALL_HINT}`,
          { details: { dataDir: this.dataDir }, cause: spawnError },
        );
      }
      if (exitCode === EXIT_NO_FREE_PORT) {
        throw new PoolError(`the voxmem runtime found no free port in its range: ${this.logTail()}`, {
          code: "pool.port_exhausted",
          details: { dataDir: this.dataDir },
        });
      }
      if (exitCode !== undefined && exitCode !== EXIT_ALREADY_RUNNING) {
        throw new RuntimeStartFailed(
          `the voxmem runtime exited with code ${String(exitCode)} while starting: ${this.logTail()}`,
          { details: { dataDir: this.dataDir } },
        );
      }
      // Exit code 10: another process's runtime holds the directory; wait for it.
      await sleep(POLL_MS);
    }
    throw new RuntimeStartFailed(
      `the voxmem runtime for ${this.dataDir} did not answer within ${this.startTimeoutMs} ms: ${this.logTail()}`,
      { details: { dataDir: this.dataDir } },
    );
  }

  private logTail(): string {
    try {
      const text = readFileSync(join(this.dataDir, LOG_FILE), "utf8");
      return text.slice(-LOG_TAIL_BYTES).trim() || "(runtime.log is empty)";
    } catch {
      return "(no runtime.log)";
    }
  }
}

function resolveDefaultCommand(env: NodeJS.ProcessEnv): string[] | undefined {
  const found = whichCommand("voxmem", env);
  return found === undefined ? undefined : [found];
}
