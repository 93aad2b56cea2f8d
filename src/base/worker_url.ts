// Where a Worker's entry point is. From source it is a file beside (or below) the module that starts it. In a
// `bun build --compile` executable every bundled module reports the executable's URL (file:///$bunfs/root/<name>)
// and each entry point keeps its path below the entry points' common folder (src/); build.ts lists every Worker
// entry point.

/** The URL to give `new Worker()`: `fromSrc` (path below src/) when compiled, else `fromCaller` from `callerUrl`. */
export function workerEntryUrl(callerUrl: string, fromSrc: string, fromCaller: string): string {
  if (callerUrl.startsWith("file:///$bunfs/")) return new URL(`./${fromSrc}`, callerUrl).href;
  return new URL(fromCaller, callerUrl).href;
}
