// One FUSE request's descriptor chain (virtio 1.2 section 5.11.6: the request in device-readable buffers, the
// reply in device-writable ones) as the server sees it: the request's header and arguments copied out (bounded),
// and host iovecs over the rest of the readable bytes (WRITE data) or over the writable bytes after the reply
// header (READ data), so file data moves between guest RAM and the file in one preadv/pwritev.
import { IovecList } from "../../../disk/raw.ts";
import type { ChainBuffers } from "../descriptor_chain.ts";

export class FsChain {
  #chain!: ChainBuffers;
  readableBytes = 0;
  writableBytes = 0;
  /** Index of the first device-writable buffer. */
  #firstWritable = 0;

  reset(chain: ChainBuffers): void {
    this.#chain = chain;
    let r = 0;
    let w = 0;
    let first = chain.count;
    for (let i = 0; i < chain.count; i++) {
      if (chain.writable[i]) {
        if (first === chain.count) first = i;
        w += chain.len[i]!;
      } else r += chain.len[i]!;
    }
    this.readableBytes = r;
    this.writableBytes = w;
    this.#firstWritable = first;
  }

  /** Copies the first min(n, readableBytes) readable bytes. */
  readIn(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.readableBytes));
    this.copyIn(out, out.length);
    return out;
  }

  /** Copies the first min(n, readableBytes, out.length) readable bytes to the start of `out`; returns the count. */
  copyIn(out: Uint8Array, n: number): number {
    const c = this.#chain;
    const want = Math.min(n, this.readableBytes, out.length);
    let done = 0;
    for (let i = 0; i < this.#firstWritable && done < want; i++) {
      const take = Math.min(c.len[i]!, want - done);
      out.set(c.mem.slice(c.addr[i]!, take), done);
      done += take;
    }
    return done;
  }

  /** Appends the readable bytes [skip, skip+len) to `iov`; false when they are not all there or do not fit. */
  readableIov(skip: number, len: number, iov: IovecList): boolean {
    return this.#iov(0, this.#firstWritable, skip, len, iov);
  }

  /** Appends the writable bytes [skip, skip+len) to `iov`; false when they are not all there or do not fit. */
  writableIov(skip: number, len: number, iov: IovecList): boolean {
    return this.#iov(this.#firstWritable, this.#chain.count, skip, len, iov);
  }

  #iov(from: number, to: number, skip: number, len: number, iov: IovecList): boolean {
    const c = this.#chain;
    let left = len;
    for (let i = from; i < to && left > 0; i++) {
      const l = c.len[i]!;
      if (skip >= l) {
        skip -= l;
        continue;
      }
      const take = Math.min(l - skip, left);
      if (!iov.append(c.host[i]! + skip, take)) return false;
      left -= take;
      skip = 0;
    }
    return left === 0;
  }

  /** Writes `data` at offset `at` of the writable bytes; returns false when they are too short. */
  writeOut(data: Uint8Array, at = 0): boolean {
    if (at + data.length > this.writableBytes) return false;
    const c = this.#chain;
    let done = 0;
    for (let i = this.#firstWritable; i < c.count && done < data.length; i++) {
      const l = c.len[i]!;
      if (at >= l) {
        at -= l;
        continue;
      }
      const take = Math.min(l - at, data.length - done);
      c.mem.slice(c.addr[i]! + at, take).set(data.subarray(done, done + take));
      done += take;
      at = 0;
    }
    return true;
  }
}

export { IovecList };
