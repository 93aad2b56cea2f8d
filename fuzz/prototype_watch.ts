// Prototype pollution: a parser that copies "__proto__" or "constructor.prototype" from user input into an
// object can change every object of the process. The watch remembers the built-in prototypes' own properties and
// reports any change, and whether plain objects and arrays now inherit the marker the inputs try to plant.

/** The property hostile inputs try to add to Object.prototype through "__proto__" and "constructor". */
export const POLLUTION_MARKER = "fuzzPolluted";

const WATCHED: readonly [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
];

function ownProperties(o: object): string {
  return Reflect.ownKeys(o).map(String).sort().join(",");
}

export class PrototypeWatch {
  readonly #before = WATCHED.map(([, o]) => ownProperties(o));

  /** A finding when a built-in prototype changed or plain objects inherit the marker; undefined otherwise. */
  check(): string | undefined {
    const changed = WATCHED.filter(([, o], i) => ownProperties(o) !== this.#before[i]).map(([name]) => name);
    if (POLLUTION_MARKER in {} || POLLUTION_MARKER in []) changed.push(`"${POLLUTION_MARKER}" inherited`);
    return changed.length === 0 ? undefined : `prototype polluted: ${changed.join(", ")}`;
  }
}
