// Every count, size, number and id the VMM takes from a user is an integer: a parsed value holding NaN, an
// infinity, a fraction or an integer past 2^53 (no longer exact) was let through by a check that should refuse it.

/** The paths ("memMib", "disks[0].blockSize") of the numbers in `value` that are not safe integers. */
export function unsafeNumbers(value: unknown, path = ""): string[] {
  if (typeof value === "number") return Number.isSafeInteger(value) ? [] : [`${path || "value"} = ${value}`];
  if (value === null || typeof value !== "object") return [];
  if (Array.isArray(value)) return value.flatMap((item, i) => unsafeNumbers(item, `${path}[${i}]`));
  return Object.entries(value).flatMap(([key, item]) => unsafeNumbers(item, path ? `${path}.${key}` : key));
}
