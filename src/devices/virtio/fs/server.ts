// The FUSE server: one request per descriptor chain. It reads fuse_in_header (and the arguments, bounded: WRITE's
// data stays in guest memory), checks it, runs the operation (ops_*.ts) and writes fuse_out_header and the reply
// into the chain's writable buffers. Every guest mistake is an errno in the reply, never an exception.
import type { ChainBuffers } from "../descriptor_chain.ts";
import { FsChain } from "./chain_io.ts";
import { type FsContext, type FsRequest, type Op } from "./context.ts";
import { EINVAL, EIO, ENOSYS } from "./errnos.ts";
import { IN_HEADER, OP, OUT_HEADER, WRITE_IN } from "./layout.ts";
import * as entry from "./ops_entry.ts";
import * as file from "./ops_file.ts";
import * as dir from "./ops_dir.ts";
import * as node from "./ops_node.ts";
import * as xattr from "./ops_xattr.ts";

/**
 * Largest request whose arguments are copied: a SETXATTR of XATTR_SIZE_MAX with its name, or two names of
 * NAME_MAX. Only WRITE may be longer, and its data is not copied.
 */
export const MAX_ARGS_BYTES = xattr.XATTR_SIZE_MAX + 4096;

export const OPS: Readonly<Record<number, Op>> = {
  [OP.INIT]: node.init,
  [OP.DESTROY]: node.destroy,
  [OP.LOOKUP]: node.lookup,
  [OP.FORGET]: node.forget,
  [OP.BATCH_FORGET]: node.batchForget,
  [OP.GETATTR]: node.getattr,
  [OP.SETATTR]: node.setattr,
  [OP.READLINK]: node.readlink,
  [OP.ACCESS]: node.access,
  [OP.STATFS]: node.statfs,
  [OP.SYMLINK]: entry.symlink,
  [OP.MKNOD]: entry.mknod,
  [OP.MKDIR]: entry.mkdir,
  [OP.LINK]: entry.link,
  [OP.UNLINK]: entry.unlink,
  [OP.RMDIR]: entry.rmdir,
  [OP.RENAME]: entry.rename,
  [OP.RENAME2]: entry.rename2,
  [OP.OPEN]: file.open,
  [OP.CREATE]: file.create,
  [OP.READ]: file.read,
  [OP.WRITE]: file.write,
  [OP.FLUSH]: file.flush,
  [OP.RELEASE]: file.release,
  [OP.FSYNC]: file.fsync,
  [OP.FALLOCATE]: file.fallocate,
  [OP.LSEEK]: file.lseek,
  [OP.COPY_FILE_RANGE]: file.copyFileRangeOp,
  [OP.OPENDIR]: dir.opendir,
  [OP.READDIR]: dir.readdir,
  [OP.READDIRPLUS]: dir.readdirplus,
  // A directory's handle is a handle like a file's (fuse_release_in and fuse_fsync_in alike).
  [OP.RELEASEDIR]: file.release,
  [OP.FSYNCDIR]: file.fsync,
  [OP.SETXATTR]: xattr.setxattr,
  [OP.GETXATTR]: xattr.getxattr,
  [OP.LISTXATTR]: xattr.listxattr,
  [OP.REMOVEXATTR]: xattr.removexattr,
};

export interface ServerLog {
  warn(reason: string, message: string): void;
}

export class FuseServer {
  readonly #chain = new FsChain();
  /** The request's fuse_in_header and arguments, copied out of the chain (at most MAX_ARGS_BYTES of them). */
  readonly #in = new Uint8Array(IN_HEADER.size + MAX_ARGS_BYTES);
  readonly #inView = new DataView(this.#in.buffer);
  readonly #header = new Uint8Array(OUT_HEADER.size);
  readonly #headerView = new DataView(this.#header.buffer);

  constructor(
    readonly ctx: FsContext,
    readonly log: ServerLog,
  ) {}

  /** Serves the request in `chain`; returns the bytes written into its writable buffers. */
  handle(chain: ChainBuffers): number {
    const c = this.#chain;
    c.reset(chain);
    if (c.readableBytes < IN_HEADER.size) {
      this.log.warn("short request", `request of ${c.readableBytes} bytes has no fuse_in_header`);
      return 0;
    }
    // The header and arguments are copied into one buffer kept from request to request (no allocation).
    const bytes = this.#in;
    const hv = this.#inView;
    c.copyIn(bytes, IN_HEADER.size);
    const len = hv.getUint32(IN_HEADER.at.len, true);
    const opcode = hv.getUint32(IN_HEADER.at.opcode, true);
    const unique = hv.getBigUint64(IN_HEADER.at.unique, true);
    const reply = (result: number | Uint8Array): number => this.#reply(unique, result);
    if (len < IN_HEADER.size || len > c.readableBytes) return reply(-EINVAL);
    // WRITE: only its fuse_write_in is copied; the data is written to the file from guest memory.
    const argsLen = opcode === OP.WRITE ? Math.min(len, IN_HEADER.size + WRITE_IN.size) : len;
    if (argsLen - IN_HEADER.size > MAX_ARGS_BYTES) return reply(-EINVAL);
    c.copyIn(bytes, argsLen);
    const args = bytes.subarray(IN_HEADER.size, argsLen);
    const nodeid =
      hv.getUint32(IN_HEADER.at.nodeid + 4, true) > 0x1f_ffff
        ? -1
        : Number(hv.getBigUint64(IN_HEADER.at.nodeid, true));
    const req: FsRequest = {
      opcode,
      unique,
      nodeid,
      uid: hv.getUint32(IN_HEADER.at.uid, true),
      gid: hv.getUint32(IN_HEADER.at.gid, true),
      args,
      view: new DataView(args.buffer, args.byteOffset, args.byteLength),
      chain: c,
    };
    const op = OPS[opcode];
    if (op === undefined) return reply(-ENOSYS);
    if (!this.ctx.initialized && opcode !== OP.INIT)
      return opcode === OP.FORGET || opcode === OP.BATCH_FORGET ? 0 : reply(-EIO);
    let result;
    try {
      result = op(this.ctx, req);
    } catch (e) {
      this.log.warn("operation failed", `opcode ${opcode} failed: ${(e as Error).message}`);
      result = -EIO;
    }
    if (result === null) return 0;
    return reply(result);
  }

  /** Writes fuse_out_header (and a body, or counts the `n` body bytes already written); returns the length. */
  #reply(unique: bigint, result: number | Uint8Array): number {
    const v = this.#headerView;
    let bodyLen = 0;
    let error = 0;
    if (typeof result === "number") {
      if (result < 0) error = result;
      else bodyLen = result;
    } else bodyLen = result.length;
    if (typeof result !== "number" && !this.#chain.writeOut(result, OUT_HEADER.size)) {
      error = -EINVAL;
      bodyLen = 0;
    }
    v.setUint32(OUT_HEADER.at.len, OUT_HEADER.size + bodyLen, true);
    v.setInt32(OUT_HEADER.at.error, error, true);
    v.setBigUint64(OUT_HEADER.at.unique, unique, true);
    if (!this.#chain.writeOut(this.#header, 0)) {
      this.log.warn(
        "short reply buffer",
        `reply buffer of ${this.#chain.writableBytes} bytes has no room for fuse_out_header`,
      );
      return 0;
    }
    return OUT_HEADER.size + bodyLen;
  }
}
