// Quoting for the POSIX shell (busybox sh) scripts the harness sends to the agents.

/** One shell word: single-quoted, with each ' written as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
