// Format detection from an image's first bytes, and the guard that keeps a probed raw image raw. QEMU refuses a
// guest write to sector 0 of a raw image whose format it probed when the new bytes would probe as another format
// (block/raw-format.c raw_probe_write): otherwise a guest writes a qcow2 header naming a backing file (a host
// file it should not see) and reads that file through unallocated clusters after the next start.
import { QCOW2_MAGIC } from "./qcow2/header.ts";

/** Bytes of sector 0 that detection looks at (the qcow2 magic). */
export const PROBE_BYTES = 4;

export type ImageFormat = "raw" | "qcow2";

/** "qcow2" when `head` starts with the qcow2 magic, else "raw". */
export function probeFormat(head: Uint8Array): ImageFormat {
  if (head.length < PROBE_BYTES) return "raw";
  const magic = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  return magic === QCOW2_MAGIC ? "qcow2" : "raw";
}

/**
 * Whether writing `bufs` back to back at `offset` over a disk whose first bytes are `current` would make it probe
 * as something other than raw. Only writes that touch the probed bytes can.
 */
export function writeChangesFormat(
  current: Uint8Array,
  bufs: readonly Uint8Array[],
  offset: number,
): boolean {
  if (offset >= PROBE_BYTES) return false;
  const head = new Uint8Array(PROBE_BYTES);
  head.set(current.subarray(0, PROBE_BYTES));
  let at = offset;
  for (const b of bufs) {
    for (let i = 0; i < b.length && at + i < PROBE_BYTES; i++) head[at + i] = b[i]!;
    at += b.length;
    if (at >= PROBE_BYTES) break;
  }
  return probeFormat(head) !== "raw";
}
