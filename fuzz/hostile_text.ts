// Text mutations for what a user types or writes into a file: values of the wrong type, numbers a parser may
// round or overflow, the separators of crosvm's key=value syntax, control characters, non-ASCII text and the
// property names of JavaScript objects.
import { mutate, type Rng } from "./random.ts";

export const HOSTILE_TEXTS = [
  "",
  " ",
  "0",
  "-1",
  "-0",
  "+5",
  "1.5",
  ".5",
  "1e3",
  "1e400",
  "-1e400",
  "0x",
  "0x-1",
  "0b2",
  "0o9",
  "0xffffffffffffffff",
  "0x1fffffffffffff",
  "9007199254740993",
  "18446744073709551616",
  "4294967296",
  "2147483648",
  "-2147483649",
  "9".repeat(40),
  "1_000",
  "NaN",
  "Infinity",
  "undefined",
  "null",
  "true",
  "yes",
  "[object Object]",
  "é",
  "🦀",
  "\u202e",
  "\u2028",
  "\0",
  "\n",
  "\r\n",
  "\x1b[2J",
  "\t",
  ",",
  "=",
  ",,",
  "==",
  ":",
  "::",
  "[",
  "]",
  "[]",
  "[1,[2]]",
  '"',
  "'",
  "\\",
  '"unterminated',
  "'unterminated",
  '"a\\"b"',
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "prototype",
  "-",
  "--",
  "x".repeat(5000),
] as const;

const utf8 = new TextEncoder();
const lenientUtf8 = new TextDecoder();

/** `text` changed once: replaced or spliced with a hostile text, cut, a span dropped or repeated, bytes mutated. */
export function mutateText(rng: Rng, text: string): string {
  const at = rng.int(text.length + 1);
  switch (rng.int(7)) {
    case 0:
      return rng.pick(HOSTILE_TEXTS);
    case 1:
      return text.slice(0, at) + rng.pick(HOSTILE_TEXTS) + text.slice(at);
    case 2:
      return text.slice(0, at);
    case 3:
      return text.slice(0, at) + text.slice(at + rng.int(8) + 1);
    case 4:
      return text.slice(0, at) + text.slice(rng.int(at + 1), at) + text.slice(at);
    case 5:
      return (
        text.slice(0, at) +
        String.fromCodePoint(rng.chance(0.7) ? rng.int(128) : rng.int(0x11000)) +
        text.slice(at + 1)
      );
    default: {
      const bytes = utf8.encode(text);
      mutate(rng, bytes, rng.int(3) + 1);
      return lenientUtf8.decode(bytes);
    }
  }
}
