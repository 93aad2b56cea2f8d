// Test support: a FUSE server over a temporary host directory and a driver that puts one request in fake guest
// memory as a descriptor chain (request readable, reply writable), runs it and decodes the reply.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { O_CLOEXEC, open } from "../../../../ffi/libc.ts";
import { O_DIRECTORY, O_PATH } from "../../../../ffi/fs_calls.ts";
import { ChainBuffers } from "../../../../src/devices/virtio/descriptor_chain.ts";
import { type FsConfig, FsContext } from "../../../../src/devices/virtio/fs/context.ts";
import { IdMap } from "../../../../src/devices/virtio/fs/id_map.ts";
import { HandleTable } from "../../../../src/devices/virtio/fs/inodes.ts";
import {
  FUSE_KERNEL_VERSION,
  IN_HEADER,
  INIT_IN,
  OP,
  OUT_HEADER,
} from "../../../../src/devices/virtio/fs/layout.ts";
import { FuseServer } from "../../../../src/devices/virtio/fs/server.ts";
import { GuestMemory } from "../../../../src/vm_memory/guest_memory.ts";

export const REQ_ADDR = 0x1000;
export const REPLY_ADDR = 0x20_0000;

export interface Reply {
  readonly len: number;
  readonly error: number;
  readonly unique: bigint;
  readonly body: Uint8Array;
  readonly view: DataView;
  /** Bytes the server said it wrote. */
  readonly written: number;
}

export class FuseHarness {
  readonly dir: string;
  readonly root: string;
  readonly outside: string;
  readonly mem = GuestMemory.anonymous([{ guestAddr: 0, size: 8 << 20 }]);
  readonly server: FuseServer;
  readonly ctx: FsContext;
  readonly warnings: string[] = [];
  #unique = 1n;

  constructor(config: Partial<FsConfig> = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "fuse-"));
    this.root = join(this.dir, "share");
    this.outside = join(this.dir, "outside");
    Bun.spawnSync(["mkdir", this.root, this.outside]);
    this.ctx = new FsContext(
      {
        cache: "auto",
        timeout: 5,
        writeback: false,
        posixAcl: false,
        rewriteSecurityXattrs: false,
        asciiCasefold: false,
        uidMap: new IdMap(undefined),
        gidMap: new IdMap(undefined),
        ...config,
      },
      open(this.root, O_PATH | O_DIRECTORY | O_CLOEXEC),
      new HandleTable(),
      open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC),
    );
    this.server = new FuseServer(this.ctx, { warn: (_r, m) => this.warnings.push(m) });
  }

  cleanup(): void {
    this.ctx.handles.clear();
    this.ctx.inodes.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Sends `opcode` on `nodeid` with `args` (and `data` after them in a second buffer); `replyRoom` bytes back. */
  call(
    opcode: number,
    nodeid: number,
    args: Uint8Array,
    o: {
      replyRoom?: number;
      data?: Uint8Array;
      uid?: number;
      gid?: number;
      /** A fuse_in_header len other than the request's length. */
      len?: number;
      /** Only this many request bytes are put in the chain. */
      truncate?: number;
    } = {},
  ): Reply {
    const data = o.data ?? new Uint8Array(0);
    const len = IN_HEADER.size + args.length + data.length;
    const req = new Uint8Array(IN_HEADER.size + args.length);
    const v = new DataView(req.buffer);
    const unique = this.#unique++;
    v.setUint32(IN_HEADER.at.len, o.len ?? len, true);
    v.setUint32(IN_HEADER.at.opcode, opcode, true);
    v.setBigUint64(IN_HEADER.at.unique, unique, true);
    v.setBigUint64(IN_HEADER.at.nodeid, BigInt(nodeid), true);
    v.setUint32(IN_HEADER.at.uid, o.uid ?? process.getuid?.() ?? 0, true);
    v.setUint32(IN_HEADER.at.gid, o.gid ?? process.getgid?.() ?? 0, true);
    req.set(args, IN_HEADER.size);
    const room = o.replyRoom ?? 4096 + OUT_HEADER.size;
    const chain = new ChainBuffers(this.mem);
    chain.reset(0);
    const sent = req.subarray(0, o.truncate ?? req.length);
    this.mem.write(REQ_ADDR, sent);
    chain.push(REQ_ADDR, this.mem.hostAddress(REQ_ADDR, sent.length), sent.length, false);
    if (data.length > 0) {
      const at = REQ_ADDR + 0x10_0000;
      this.mem.write(at, data);
      chain.push(at, this.mem.hostAddress(at, data.length), data.length, false);
    }
    this.mem.slice(REPLY_ADDR, room).fill(0xee);
    // The reply header and body in two buffers, as the virtiofs driver gives them.
    chain.push(REPLY_ADDR, this.mem.hostAddress(REPLY_ADDR, OUT_HEADER.size), OUT_HEADER.size, true);
    if (room > OUT_HEADER.size) {
      const body = REPLY_ADDR + 0x1000;
      chain.push(body, this.mem.hostAddress(body, room - OUT_HEADER.size), room - OUT_HEADER.size, true);
    }
    const written = this.server.handle(chain);
    const head = new DataView(this.mem.read(REPLY_ADDR, OUT_HEADER.size).buffer);
    const rlen = head.getUint32(OUT_HEADER.at.len, true);
    const bodyLen = Math.max(0, Math.min(rlen, room) - OUT_HEADER.size);
    const body = bodyLen > 0 ? this.mem.read(REPLY_ADDR + 0x1000, bodyLen) : new Uint8Array(0);
    return {
      len: rlen,
      error: head.getInt32(OUT_HEADER.at.error, true),
      unique: head.getBigUint64(OUT_HEADER.at.unique, true),
      body,
      view: new DataView(body.buffer, body.byteOffset, body.byteLength),
      written,
    };
  }

  init(): Reply {
    const args = new Uint8Array(64);
    const v = new DataView(args.buffer);
    v.setUint32(INIT_IN.at.major, FUSE_KERNEL_VERSION, true);
    v.setUint32(INIT_IN.at.minor, 38, true);
    v.setUint32(INIT_IN.at.max_readahead, 131072, true);
    v.setUint32(INIT_IN.at.flags, 0xffff_ffff, true);
    return this.call(OP.INIT, 0, args);
  }
}

const enc = new TextEncoder();
/** NUL-terminated names back to back. */
export function names(...parts: string[]): Uint8Array {
  return enc.encode(parts.map((p) => `${p}\0`).join(""));
}

/** `head` (a fixed struct's bytes) followed by `rest`. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A struct's bytes with the given field values. */
export function structBytes<K extends string>(
  s: { size: number; at: Record<K, number>; fields: readonly (readonly [K, string])[] },
  values: Partial<Record<K, number | bigint>>,
): Uint8Array {
  const out = new Uint8Array(s.size);
  const v = new DataView(out.buffer);
  for (const [k, t] of s.fields) {
    const val = values[k];
    if (val === undefined) continue;
    const at = s.at[k];
    if (t === "u64") v.setBigUint64(at, BigInt(val), true);
    else if (t === "u16") v.setUint16(at, Number(val), true);
    else if (t === "i32") v.setInt32(at, Number(val), true);
    else v.setUint32(at, Number(val), true);
  }
  return out;
}
