// Test helpers: a VmControlHandler that records requests, temp socket paths, and a raw packet exchange that
// bypasses the client so tests can send bytes the client never would.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as libc from "../../../ffi/libc.ts";
import type { VmRequest, VmResponse } from "../../../src/vm_control/protocol.ts";
import { connectSeqpacket, recvPacket, sendPacket } from "../../../src/vm_control/seqpacket.ts";
import type { VmControlHandler } from "../../../src/vm_control/server.ts";

export class FakeVm implements VmControlHandler {
  readonly requests: VmRequest[] = [];
  /** The answer to the next requests; a function sees the request. */
  answer: VmResponse | ((req: VmRequest) => VmResponse | Promise<VmResponse>) = { kind: "Ok" };

  async handle(request: VmRequest): Promise<VmResponse> {
    this.requests.push(request);
    return typeof this.answer === "function" ? this.answer(request) : this.answer;
  }
}

/** A fresh directory under the system temp dir; remove it with cleanup(). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "crosvm-ctl-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for one packet on `fd` (up to 2 s) and returns it as text. */
export async function receiveText(fd: number, maxSize = 1 << 20): Promise<string> {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    const r = recvPacket(fd, maxSize, "test connection");
    if (r.kind === "packet") return new TextDecoder().decode(r.bytes);
    if (r.kind !== "none") throw new Error(`test connection: ${r.kind}`);
    await sleep(2);
  }
  throw new Error("test connection: no answer within 2 s");
}

/** Opens a raw connection to the server at `path`. */
export function rawConnect(path: string): {
  send: (bytes: Uint8Array | string) => void;
  fd: number;
  close: () => void;
} {
  const fd = connectSeqpacket(path);
  return {
    fd,
    send: (bytes) => {
      const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
      if (sendPacket(fd, b, "test connection") !== "sent") throw new Error("test connection: send failed");
    },
    close: () => libc.close(fd),
  };
}

/** Sends one raw packet on a new connection and returns the answer's text. */
export async function rawExchange(path: string, bytes: Uint8Array | string): Promise<string> {
  const conn = rawConnect(path);
  try {
    conn.send(bytes);
    return await receiveText(conn.fd);
  } finally {
    conn.close();
  }
}
