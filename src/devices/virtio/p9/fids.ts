// The 9P fid table: the numbers the guest picks for the files it walked to (Tattach, Twalk, Tlcreate,
// Txattrwalk). A fid holds one reference on its node in the shared host-side inode table (fs/inodes.ts) and, when
// a walk reached it by name, one on the directory it was found in with that name (for Tremove and Trename); an
// opened fid also owns a host descriptor. The table has a limit, so a guest cannot make the server hold an
// unbounded number of descriptors.
import { closeFd } from "../../../../ffi/fs_calls.ts";
import type { Inode, InodeTable } from "../fs/inodes.ts";

/** Fids one session may hold at once (each may hold up to three descriptors). */
export const MAX_FIDS = 65536;

export interface Fid {
  inode: Inode;
  /** The directory the fid's node was reached in by `name` (NUL-terminated), when it was. */
  parent: Inode | undefined;
  name: Uint8Array | undefined;
  /** Guest uid of the attach the fid descends from (owner of what it creates). */
  readonly uid: number;
  /** Descriptor opened by Tlopen / Tlcreate, or -1. */
  fd: number;
  /** The P9_DOTL_* flags it was opened with (its access mode decides whether Tsetattr may truncate through it). */
  openFlags: number;
}

export class FidTable {
  readonly #fids = new Map<number, Fid>();

  constructor(
    readonly inodes: InodeTable,
    readonly limit = MAX_FIDS,
  ) {}

  get size(): number {
    return this.#fids.size;
  }

  get(fid: number): Fid | undefined {
    return this.#fids.get(fid);
  }

  has(fid: number): boolean {
    return this.#fids.has(fid);
  }

  /** Whether one more fid may be made (`replacing`: a fid number already in the table is reused). */
  hasRoom(replacing?: number): boolean {
    return (replacing !== undefined && this.#fids.has(replacing)) || this.#fids.size < this.limit;
  }

  /** Sets `fid` (taking over the references the caller holds on its nodes); an old fid of that number is clunked. */
  set(fid: number, entry: Fid): void {
    this.clunk(fid);
    this.#fids.set(fid, entry);
  }

  /** Forgets `fid`: closes its descriptor and drops its references; false when it is unknown. */
  clunk(fid: number): boolean {
    const f = this.#fids.get(fid);
    if (!f) return false;
    this.#fids.delete(fid);
    release(this.inodes, f);
    return true;
  }

  /** Clunks every fid (Tversion, device reset). */
  clear(): void {
    for (const fid of [...this.#fids.keys()]) this.clunk(fid);
  }
}

/** Drops what a fid entry holds (its descriptor and node references). */
export function release(inodes: InodeTable, f: Fid): void {
  if (f.fd >= 0) closeFd(f.fd);
  f.fd = -1;
  inodes.forget(f.inode.nodeid, 1);
  if (f.parent) inodes.forget(f.parent.nodeid, 1);
}
