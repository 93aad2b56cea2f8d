// How an error shows a value or key from user input (a --cfg file, a decoded command-line value, a control
// request): its JSON text, cut short. Input may hold a value nested a million deep or a megabyte long in the wrong
// place; the error names it in a line a user can read, and rendering it never runs out of stack.

/** Longest text shown for one value or key; the rest is "...". */
const MAX_SHOWN = 100;
/** Items of a list or entries of an object shown before "...". */
const MAX_ITEMS = 8;
/** Levels of lists and objects shown; deeper ones are [...] and {...}. */
const MAX_DEPTH = 3;

function cut(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}...` : text;
}

function json(value: unknown, depth: number): string {
  // JSON.parse reads 1e400 as Infinity, which JSON text would show as null.
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(cut(value));
  if (value === null || typeof value !== "object") return String(value);
  const list = Array.isArray(value);
  if (depth === 0) return list ? "[...]" : "{...}";
  const items = list
    ? value.slice(0, MAX_ITEMS).map((item) => json(item, depth - 1))
    : Object.keys(value)
        .slice(0, MAX_ITEMS)
        .map(
          (key) => `${JSON.stringify(cut(key))}:${json((value as Record<string, unknown>)[key], depth - 1)}`,
        );
  const more = (list ? value.length : Object.keys(value).length) > MAX_ITEMS ? ",..." : "";
  return list ? `[${items.join(",")}${more}]` : `{${items.join(",")}${more}}`;
}

/** A JSON value as an error shows it, at most about MAX_SHOWN characters; nothing is "nothing". */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  // A string is cut inside its quotes, a list or object as a whole.
  return typeof value === "string" ? json(value, 0) : cut(json(value, MAX_DEPTH));
}

/** A key path as an error shows it: `block[0].path`, each key cut to MAX_SHOWN characters. */
export function formatPath(path: readonly unknown[]): string {
  let out = "";
  for (const key of path)
    out += typeof key === "number" ? `[${key}]` : `${out === "" ? "" : "."}${cut(String(key))}`;
  return out;
}
