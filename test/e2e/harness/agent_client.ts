// Host side of the guest agent's line protocol (scripts/guest/rootfs/agent.sh):
//   agent -> host  {"ready":true}
//   host -> agent  <id> <timeout seconds> <base64 script>
//   agent -> host  {"id":<id>,"exit":<status>,"stdout":"<base64>","stderr":"<base64>"}
// Lines that are not JSON objects (noise on the port before the agent starts) are ignored.
import { HarnessTimeout, withTimeout } from "./timeout.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecOptions {
  /** How long the script may run in the guest; the agent kills it after this (exit 137). Default 30 s. */
  timeoutMs?: number;
}

/** Extra time the host waits beyond the guest-side timeout, for the reply to cross the serial ports. */
const REPLY_MARGIN_MS = 10_000;

export function encodeRequest(id: number, timeoutSeconds: number, script: string): string {
  return `${id} ${timeoutSeconds} ${Buffer.from(script, "utf8").toString("base64")}\n`;
}

export type AgentMessage =
  | { kind: "ready" }
  | { kind: "reply"; id: number; result: ExecResult }
  | { kind: "error"; id: number | undefined; message: string }
  /** Any other JSON object, written to the port by something beside the agent (the rig's VMM launcher). */
  | { kind: "event"; data: Record<string, unknown> };

/** Parses one line from the agent; undefined for a line that is not an agent message. */
export function parseAgentLine(line: string): AgentMessage | undefined {
  const trimmed = line.replace(/\r$/, "");
  const start = trimmed.indexOf('{"');
  if (start < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed.slice(start));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const msg = value as Record<string, unknown>;
  const id = typeof msg.id === "number" ? msg.id : undefined;
  if (msg.ready === true) return { kind: "ready" };
  if (typeof msg.error === "string") return { kind: "error", id, message: msg.error };
  if (id !== undefined && typeof msg.exit === "number") {
    const decode = (field: unknown) =>
      Buffer.from(typeof field === "string" ? field : "", "base64").toString("utf8");
    return {
      kind: "reply",
      id,
      result: { exitCode: msg.exit, stdout: decode(msg.stdout), stderr: decode(msg.stderr) },
    };
  }
  return { kind: "event", data: msg };
}

interface Pending {
  resolve: (result: ExecResult) => void;
  reject: (error: Error) => void;
}

export class AgentClient {
  #buffer = "";
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #ready = false;
  #readyWaiters: (() => void)[] = [];
  /** Called with each event line. */
  onEvent: (data: Record<string, unknown>) => void = () => {};

  /**
   * @param send writes a request line to the agent's port
   * @param describe context for errors (e.g. the console so far), called only when something fails
   */
  constructor(
    private readonly name: string,
    private readonly send: (line: string) => Promise<void>,
    private readonly describe: () => string,
  ) {}

  get isReady(): boolean {
    return this.#ready;
  }

  /** Feeds text read from the agent's port. */
  feed(text: string): void {
    this.#buffer += text;
    let newline: number;
    while ((newline = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      const msg = parseAgentLine(line);
      if (msg) this.#handle(msg);
    }
  }

  #handle(msg: AgentMessage): void {
    switch (msg.kind) {
      case "ready":
        if (this.#ready) this.failAll(new Error(`${this.name} agent restarted`));
        this.#ready = true;
        for (const waiter of this.#readyWaiters.splice(0)) waiter();
        return;
      case "reply":
        this.#pending.get(msg.id)?.resolve(msg.result);
        this.#pending.delete(msg.id);
        return;
      case "event":
        this.onEvent(msg.data);
        return;
      case "error": {
        const error = new Error(`${this.name} agent refused a request: ${msg.message}`);
        if (msg.id !== undefined) {
          this.#pending.get(msg.id)?.reject(error);
          this.#pending.delete(msg.id);
        } else {
          this.failAll(error);
        }
      }
    }
  }

  /** Waits for the agent's ready line. */
  async waitReady(timeoutMs: number): Promise<void> {
    if (this.#ready) return;
    const ready = new Promise<void>((resolve) => this.#readyWaiters.push(resolve));
    await withTimeout(
      ready,
      timeoutMs,
      () => `${this.name} agent not ready after ${timeoutMs} ms\n${this.describe()}`,
    );
  }

  /** Runs a shell script in the guest and returns its output and exit status. */
  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (!this.#ready) throw new Error(`${this.name} agent is not ready`);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const id = this.#nextId++;
    const reply = new Promise<ExecResult>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    try {
      await this.send(encodeRequest(id, Math.max(1, Math.ceil(timeoutMs / 1000)), script));
      return await withTimeout(
        reply,
        timeoutMs + REPLY_MARGIN_MS,
        () =>
          `${this.name} agent gave no reply to ${JSON.stringify(script)} within ${timeoutMs} ms\n${this.describe()}`,
      );
    } finally {
      this.#pending.delete(id);
    }
  }

  /** Sends a script whose reply will never come (e.g. `poweroff -f`). */
  async sendNoReply(script: string): Promise<void> {
    if (!this.#ready) throw new Error(`${this.name} agent is not ready`);
    await this.send(encodeRequest(this.#nextId++, 60, script));
  }

  /** Rejects every request in flight (the VM went away). */
  failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

export { HarnessTimeout };
