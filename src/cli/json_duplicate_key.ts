// A key given twice in one object of a --cfg file. JSON.parse keeps the last value without a word, so
// {"net": [a], "net": [b]} would drop a NIC; crosvm's serde refuses a struct field given twice ("duplicate field"),
// as the command line refuses a key given twice in one value.

interface Level {
  readonly keys: Set<string> | undefined;
  /** In an object: the key read last, whose value is being read. */
  key: string;
  /** In a list: the index of the item being read. */
  index: number;
  expectKey: boolean;
}

function pathOf(levels: readonly Level[]): (string | number)[] {
  return levels.map((l) => (l.keys === undefined ? l.index : l.key));
}

/** The end (index of the closing quote) of the string starting at `start`: a quote after an even run of "\\". */
function stringEnd(text: string, start: number): number {
  for (let i = text.indexOf('"', start + 1); ; i = text.indexOf('"', i + 1)) {
    let backslashes = 0;
    while (text[i - 1 - backslashes] === "\\") backslashes++;
    if (backslashes % 2 === 0) return i;
  }
}

/** The path of the first key given twice in one object of `text`, JSON that JSON.parse accepted; or undefined. */
export function duplicateKeyPath(text: string): (string | number)[] | undefined {
  const levels: Level[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = levels.at(-1);
    if (c === "{" || c === "[")
      levels.push({ keys: c === "{" ? new Set() : undefined, key: "", index: 0, expectKey: c === "{" });
    else if (c === "}" || c === "]") levels.pop();
    else if (c === "," && top !== undefined) {
      top.index++;
      top.expectKey = top.keys !== undefined;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.keys !== undefined && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return [...pathOf(levels.slice(0, -1)), key];
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    }
  }
  return undefined;
}
