// Test support: a 9P2000.L server over a temporary host directory ("share", with a sibling "outside" the guest
// must never reach) and a driver that puts one T-message in fake guest memory as a descriptor chain (message
// readable, reply writable, as Linux's 9pnet_virtio lays it out), runs it and decodes the R-message.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { O_DIRECTORY, O_PATH } from "../../../../ffi/fs_calls.ts";
import { O_CLOEXEC, open } from "../../../../ffi/libc.ts";
import { ChainBuffers } from "../../../../src/devices/virtio/descriptor_chain.ts";
import { HostFs, type HostFsConfig } from "../../../../src/devices/virtio/fs/host_fs.ts";
import { IdMap } from "../../../../src/devices/virtio/fs/id_map.ts";
import { MSG, NOFID } from "../../../../src/devices/virtio/p9/protocol.ts";
import { P9Server } from "../../../../src/devices/virtio/p9/server.ts";
import { GuestMemory } from "../../../../src/vm_memory/guest_memory.ts";

const REQ_ADDR = 0x1000;
const DATA_ADDR = 0x10_0000;
const REPLY_ADDR = 0x40_0000;

/** Builds a message body field by field (little-endian; strings as len[2] + bytes). */
export class Msg {
  readonly #parts: number[] = [];

  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >> 8);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  u64(v: number | bigint): this {
    const b = BigInt.asUintN(64, BigInt(v));
    return this.u32(Number(b & 0xffff_ffffn)).u32(Number(b >> 32n));
  }
  str(s: string | Uint8Array): this {
    const bytes = typeof s === "string" ? new TextEncoder().encode(s) : s;
    this.u16(bytes.length);
    for (const b of bytes) this.u8(b);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

export interface Reply {
  readonly size: number;
  readonly type: number;
  readonly tag: number;
  /** The reply after its 7-byte header. */
  readonly body: Uint8Array;
  readonly view: DataView;
  /** Rlerror's errno, or 0 for any other reply. */
  readonly errno: number;
  /** Bytes the server said it wrote. */
  readonly written: number;
}

export interface CallOptions {
  /** Data after the message in a buffer of its own (Twrite's zero-copy layout). */
  data?: Uint8Array;
  /** Writable bytes for the reply (default 64 KiB + 11). */
  replyRoom?: number;
  /** Reply buffers: the first of `replyHead` bytes, the rest after (Rread's zero-copy layout). */
  replyHead?: number;
  /** The size field, if not the message's length. */
  size?: number;
  /** Only this many message bytes are put in the chain. */
  truncate?: number;
}

export class P9Harness {
  readonly dir: string;
  readonly root: string;
  readonly outside: string;
  readonly mem = GuestMemory.anonymous([{ guestAddr: 0, size: 16 << 20 }]);
  readonly fs: HostFs;
  readonly server: P9Server;
  readonly warnings: string[] = [];
  #tag = 1;

  constructor(config: Partial<HostFsConfig> = {}, maxFids?: number) {
    this.dir = mkdtempSync(join(tmpdir(), "p9-"));
    this.root = join(this.dir, "share");
    this.outside = join(this.dir, "outside");
    Bun.spawnSync(["mkdir", this.root, this.outside]);
    this.fs = new HostFs(
      { asciiCasefold: false, uidMap: new IdMap(undefined), gidMap: new IdMap(undefined), ...config },
      open(this.root, O_PATH | O_DIRECTORY | O_CLOEXEC),
      open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC),
    );
    this.server = new P9Server(this.fs, { warn: (_r, m) => this.warnings.push(m) }, maxFids);
  }

  cleanup(): void {
    this.server.reset();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Sends message `type` with `body` (after the header) and decodes the reply. */
  call(type: number, body: Msg | Uint8Array, o: CallOptions = {}): Reply {
    const fields = body instanceof Msg ? body.bytes() : body;
    const data = o.data ?? new Uint8Array(0);
    const tag = this.#tag++ & 0x7fff;
    const msg = new Uint8Array(7 + fields.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, o.size ?? msg.length + data.length, true);
    v.setUint8(4, type);
    v.setUint16(5, tag, true);
    msg.set(fields, 7);
    const sent = msg.subarray(0, o.truncate ?? msg.length);
    const chain = new ChainBuffers(this.mem);
    chain.reset(0);
    if (sent.length > 0) {
      this.mem.write(REQ_ADDR, sent);
      chain.push(REQ_ADDR, this.mem.hostAddress(REQ_ADDR, sent.length), sent.length, false);
    }
    if (data.length > 0) {
      this.mem.write(DATA_ADDR, data);
      chain.push(DATA_ADDR, this.mem.hostAddress(DATA_ADDR, data.length), data.length, false);
    }
    const room = o.replyRoom ?? (64 << 10) + 11;
    this.mem.slice(REPLY_ADDR, room).fill(0xee);
    const head = Math.min(o.replyHead ?? room, room);
    if (head > 0) chain.push(REPLY_ADDR, this.mem.hostAddress(REPLY_ADDR, head), head, true);
    if (room > head)
      chain.push(REPLY_ADDR + head, this.mem.hostAddress(REPLY_ADDR + head, room - head), room - head, true);
    const written = this.server.handle(chain);
    const out = this.mem.read(REPLY_ADDR, Math.max(7, Math.min(written, room)));
    const ov = new DataView(out.buffer);
    const size = ov.getUint32(0, true);
    const rtype = ov.getUint8(4);
    const rbody = out.slice(7, Math.max(7, Math.min(size, out.length)));
    const view = new DataView(rbody.buffer);
    return {
      size,
      type: rtype,
      tag: ov.getUint16(5, true),
      body: rbody,
      view,
      errno: rtype === MSG.TLERROR + 1 && rbody.length >= 4 ? view.getUint32(0, true) : 0,
      written,
    };
  }

  version(msize = 65536 + 11, version = "9P2000.L"): Reply {
    return this.call(MSG.TVERSION, new Msg().u32(msize).str(version));
  }

  attach(fid = 0, uid = 0): Reply {
    return this.call(MSG.TATTACH, new Msg().u32(fid).u32(NOFID).str("root").str("").u32(uid));
  }

  walk(fid: number, newfid: number, ...names: (string | Uint8Array)[]): Reply {
    const m = new Msg().u32(fid).u32(newfid).u16(names.length);
    for (const n of names) m.str(n);
    return this.call(MSG.TWALK, m);
  }

  lopen(fid: number, flags: number): Reply {
    return this.call(MSG.TLOPEN, new Msg().u32(fid).u32(flags));
  }

  clunk(fid: number): Reply {
    return this.call(MSG.TCLUNK, new Msg().u32(fid));
  }

  /** A session: Tversion and Tattach of fid 0 at the root. */
  start(): this {
    this.version();
    this.attach(0);
    return this;
  }
}

/** The qid at `at` of a reply body. */
export function qidAt(view: DataView, at: number): { type: number; version: number; path: bigint } {
  return {
    type: view.getUint8(at),
    version: view.getUint32(at + 1, true),
    path: view.getBigUint64(at + 5, true),
  };
}
