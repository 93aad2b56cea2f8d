// Byte comparison for fuzz targets that check what a device passed on (its output, what it wrote for the guest).

/** A finding when `got` is not byte for byte `expected`, naming the first difference. */
export function bytesFinding(what: string, got: Uint8Array, expected: Uint8Array): string | undefined {
  const n = Math.min(got.length, expected.length);
  let at = 0;
  while (at < n && got[at] === expected[at]) at++;
  if (at === n && got.length === expected.length) return undefined;
  return `${what}: ${got.length} bytes where ${expected.length} were expected, first difference at byte ${at}`;
}
