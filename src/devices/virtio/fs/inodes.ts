// The server's inode table (crosvm's PassthroughFs inodes): every inode the guest knows is an O_PATH descriptor
// of the host file, keyed by (st_dev, st_ino) so that two names of one file are one node, with the lookup count
// the kernel holds on it (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK and LINK add one; FORGET subtracts). The node
// and its descriptor go when the count reaches zero. The root (FUSE_ROOT_ID) is never forgotten. Open files and
// directories are handles: a number the guest sends back, naming a descriptor opened from a node.
import { closeFd } from "../../../../ffi/fs_calls.ts";
import { FUSE_ROOT_ID } from "./layout.ts";

export interface Inode {
  readonly nodeid: number;
  /** O_PATH descriptor of the file (O_PATH|O_NOFOLLOW: a symlink is itself, never its target). */
  readonly fd: number;
  readonly key: string;
  /** File type bits (S_IFMT of st_mode) when it was looked up. */
  readonly type: number;
  refs: number;
}

export interface Handle {
  readonly fd: number;
  readonly inode: Inode;
  /** A directory handle's getdents64 position, in entries already returned (readdir offsets are ours). */
  dirOffset?: number;
}

export class InodeTable {
  readonly #byId = new Map<number, Inode>();
  readonly #byKey = new Map<string, Inode>();
  #next = FUSE_ROOT_ID + 1;

  constructor(rootFd: number, rootKey: string, rootType: number) {
    const root: Inode = { nodeid: FUSE_ROOT_ID, fd: rootFd, key: rootKey, type: rootType, refs: Infinity };
    this.#byId.set(FUSE_ROOT_ID, root);
    this.#byKey.set(rootKey, root);
  }

  get size(): number {
    return this.#byId.size;
  }

  get(nodeid: number): Inode | undefined {
    return this.#byId.get(nodeid);
  }

  byKey(key: string): Inode | undefined {
    return this.#byKey.get(key);
  }

  /**
   * The node for (dev, ino) with one more lookup: an existing node keeps its descriptor (and `fd` is closed), a
   * new one takes `fd`.
   */
  add(key: string, fd: number, type: number): Inode {
    const known = this.#byKey.get(key);
    if (known) {
      closeFd(fd);
      known.refs++;
      return known;
    }
    const inode: Inode = { nodeid: this.#next++, fd, key, type, refs: 1 };
    this.#byId.set(inode.nodeid, inode);
    this.#byKey.set(key, inode);
    return inode;
  }

  /** One more reference on a node the caller already holds one on (a cloned 9P fid); returns it. */
  hold(inode: Inode): Inode {
    inode.refs++;
    return inode;
  }

  /** FORGET: drops `count` lookups; an unknown node (or the root) is left alone. */
  forget(nodeid: number, count: number): void {
    const inode = this.#byId.get(nodeid);
    if (!inode || nodeid === FUSE_ROOT_ID) return;
    inode.refs -= Math.min(count, inode.refs);
    if (inode.refs > 0) return;
    this.#byId.delete(nodeid);
    this.#byKey.delete(inode.key);
    closeFd(inode.fd);
  }

  /** Closes every node but the root (DESTROY, device reset). */
  clear(): void {
    for (const inode of this.#byId.values())
      if (inode.nodeid !== FUSE_ROOT_ID) this.forget(inode.nodeid, Infinity);
  }
}

export class HandleTable {
  readonly #handles = new Map<number, Handle>();
  #next = 1;

  get size(): number {
    return this.#handles.size;
  }

  add(fd: number, inode: Inode): number {
    const fh = this.#next++;
    this.#handles.set(fh, { fd, inode });
    return fh;
  }

  /** The handle `fh` of node `nodeid` (a handle sent with another node's id is refused). */
  get(fh: number, nodeid: number): Handle | undefined {
    const h = this.#handles.get(fh);
    return h && h.inode.nodeid === nodeid ? h : undefined;
  }

  release(fh: number, nodeid: number): boolean {
    const h = this.get(fh, nodeid);
    if (!h) return false;
    this.#handles.delete(fh);
    closeFd(h.fd);
    return true;
  }

  clear(): void {
    for (const [fh, h] of this.#handles) {
      this.#handles.delete(fh);
      closeFd(h.fd);
    }
  }
}
