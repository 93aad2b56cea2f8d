// Byte comparison for fuzz targets that check what a device passed on (its output, what it wrote for the guest)
// or what it changed (memory_watch.ts). Equal arrays are told apart with memcmp (Buffer.compare), so comparing
// large ones that match costs microseconds.

/** Where `a` and `b` first differ (the shorter one's length when it is a prefix of the other), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(a, b) === 0) return -1;
  const n = Math.min(a.length, b.length);
  let at = 0;
  while (at < n && a[at] === b[at]) at++;
  return at;
}

/** A finding when `got` is not byte for byte `expected`, naming the first difference. */
export function bytesFinding(what: string, got: Uint8Array, expected: Uint8Array): string | undefined {
  const at = firstDifference(got, expected);
  if (at < 0) return undefined;
  return `${what}: ${got.length} bytes where ${expected.length} were expected, first difference at byte ${at}`;
}

export const hex = (n: number): string => `0x${n.toString(16)}`;
