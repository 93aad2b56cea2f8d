// Every wait in the e2e harness is bounded: this races a promise against a timer and says what timed out.

export class HarnessTimeout extends Error {
  override name = "HarnessTimeout";
}

/** Resolves like `promise`, or rejects with HarnessTimeout(describe()) after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, describe: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HarnessTimeout(describe())), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last `lines` lines of a log, for error messages. */
export function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}
