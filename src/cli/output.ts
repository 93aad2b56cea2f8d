// Writes that are complete before the process exits (console.log to a pipe may still be buffered at exit).

export async function writeOut(text: string): Promise<void> {
  await Bun.write(Bun.stdout, text);
}

export async function writeErr(text: string): Promise<void> {
  await Bun.write(Bun.stderr, text);
}
