// What a refusal of user input must look like (the project's rule: "a clear one-line error naming the input and
// what was expected"): one printable line, and no trace of a JavaScript error that escaped into the message.

/** Words of JavaScriptCore's and our own code's accidents: an error message or a value printed by mistake. */
const INTERNAL_MARKERS = [
  "TypeError",
  "RangeError",
  "ReferenceError",
  "is not a function",
  "is not an object",
  "Cannot read properties",
  "call stack",
  "undefined",
  "[object Object]",
  "NaN",
] as const;

/** Control characters other than tab: a newline would split the line, an escape sequence drive a terminal. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Room for what a message says beside the one piece of input it quotes. */
const MESSAGE_ROOM = 1024;

/**
 * Why `message` is not a clear one-line refusal, or undefined. `input` is all the text the user gave: a marker
 * found there too may be an echo of it and is not counted. `longestEcho` is the longest piece of input a message
 * may quote whole (an argument, a file's path), which it may do twice ("--shared-dir PATH:TAG: PATH does not
 * exist"); a longer message quotes more than it should.
 */
export function refusalMessageProblem(
  message: string,
  input: string,
  longestEcho: number,
): string | undefined {
  if (message.trim() === "") return "an empty message";
  if (message.length > MESSAGE_ROOM + 2 * longestEcho) return `a message of ${message.length} characters`;
  const control = CONTROL.exec(message);
  if (control)
    return `control character 0x${control[0].charCodeAt(0).toString(16)} in the message (not one line)`;
  const marker = INTERNAL_MARKERS.find((m) => message.includes(m) && !input.includes(m));
  return marker === undefined ? undefined : `an internal error's "${marker}" in the message`;
}

/** A finding's text for anything thrown: its class and message. */
export function describeThrown(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}: ${e.message}` : `a thrown ${typeof e}: ${String(e)}`;
}
