// Text that did not come from our own code (a device process's messages and labels, guest-driven values) is
// escaped to printable ASCII before it reaches a log line or an error: it cannot then forge log lines with a
// newline, move a terminal's cursor with escape sequences, or hide itself behind control characters.

/** Longest escaped text kept; the rest is replaced by "...". */
export const MAX_PRINTABLE = 1024;

const NAMED: Readonly<Record<string, string>> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.codePointAt(0)!;
  if (code >= 0x20 && code <= 0x7e) return ch;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every character outside printable ASCII (0x20..0x7e) escaped as \n, \r, \t, \xHH or \u{H...}, and
 * backslashes doubled so that an escape in the output always stands for one character of the input; cut to
 * `max` characters.
 */
export function printableAscii(text: string, max = MAX_PRINTABLE): string {
  // Fast path: most text is already printable.
  if (/^[\x20-\x5b\x5d-\x7e]*$/.test(text)) return text.length > max ? `${text.slice(0, max)}...` : text;
  let out = "";
  for (const ch of text) {
    out += escapeChar(ch);
    if (out.length > max) return `${out.slice(0, max)}...`;
  }
  return out;
}

/** Line breaks, terminal controls and the invisible C1 codes (C0, DEL, C1, U+2028, U+2029). */
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * `text` with its control characters escaped as printableAscii escapes them, and nothing else changed: a message
 * quoting user input stays one line that cannot drive a terminal, while non-ASCII paths stay readable.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_CHARACTERS, escapeChar);
}
