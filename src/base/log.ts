// Logging with crosvm's --log-level syntax: "LEVEL" or "module::path=LEVEL,...,LEVEL". Each module logs through
// `logger("devices::serial")`; the most specific module prefix in the spec decides its level. Logs go to stderr,
// because stdout belongs to the guest's serial console, one `[module] LEVEL message` line per record written with
// write(2): consola's core without its reporters or process.stderr, which would load Node's tty and stream modules
// into every process (about 1 MiB each, measured in bench/memory).
import { writeSync } from "node:fs";
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";

export const LOG_LEVELS = ["off", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

// consola's numeric levels: 0 error, 1 warn, 3 info, 4 debug, 5 trace; -999 silences.
const CONSOLA_LEVEL: Record<LogLevelName, number> = {
  off: -999,
  error: 0,
  warn: 1,
  info: 3,
  debug: 4,
  trace: 5,
};

export interface LogLevelSpec {
  readonly defaultLevel: LogLevelName;
  /** module path -> level, e.g. "devices::serial" -> "debug". */
  readonly modules: ReadonlyMap<string, LogLevelName>;
}

export class LogLevelSpecError extends Error {}

/** Parses "devices::usb::xhci=debug,info" (spec: "Specify log levels"). */
export function parseLogLevelSpec(spec: string): LogLevelSpec {
  let defaultLevel: LogLevelName = "info";
  const modules = new Map<string, LogLevelName>();
  for (const part of spec.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const [mod, lvl] = eq < 0 ? [undefined, item] : [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
    const level = lvl.toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new LogLevelSpecError(
        `--log-level: "${lvl}" is not a log level (expected one of ${LOG_LEVELS.join(", ")})`,
      );
    }
    if (mod === undefined) defaultLevel = level as LogLevelName;
    else if (mod === "") throw new LogLevelSpecError(`--log-level: "${item}" has an empty module name`);
    else modules.set(mod, level as LogLevelName);
  }
  return { defaultLevel, modules };
}

/** The level that applies to `module` under `spec`: the longest matching module prefix, else the default. */
export function levelFor(spec: LogLevelSpec, module: string): LogLevelName {
  let best: string | undefined;
  for (const m of spec.modules.keys()) {
    if ((module === m || module.startsWith(`${m}::`)) && (best === undefined || m.length > best.length))
      best = m;
  }
  return best === undefined ? spec.defaultLevel : spec.modules.get(best)!;
}

let currentSpec: LogLevelSpec = parseLogLevelSpec(process.env.CROSVM_LOG ?? "info");
let currentSpecText = process.env.CROSVM_LOG ?? "info";
const loggers = new Map<string, ConsolaInstance>();

const LEVEL_LABEL: Readonly<Record<string, string>> = {
  fatal: "ERROR",
  error: "ERROR",
  warn: "WARN",
  log: "INFO",
  info: "INFO",
  success: "INFO",
  ready: "INFO",
  start: "INFO",
  box: "INFO",
  debug: "DEBUG",
  trace: "TRACE",
  verbose: "TRACE",
};

function formatArg(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) return arg.stack ?? arg.message;
  return Bun.inspect(arg);
}

/** `[module] LEVEL message`, one write(2) per record so that lines from several threads do not interleave. */
export function formatLogRecord(record: Pick<LogObject, "tag" | "type" | "args">): string {
  const label = LEVEL_LABEL[record.type] ?? record.type.toUpperCase();
  return `[${record.tag}] ${label} ${record.args.map(formatArg).join(" ")}\n`;
}

const stderrReporter = {
  log(record: LogObject): void {
    try {
      writeSync(2, formatLogRecord(record));
    } catch {
      // stderr is gone (a closed pipe): nothing left to tell.
    }
  },
};

function build(module: string): ConsolaInstance {
  return createConsola({
    level: CONSOLA_LEVEL[levelFor(currentSpec, module)],
    reporters: [stderrReporter],
  }).withTag(module);
}

/** Sets the process-wide spec (and re-levels existing loggers). Throws LogLevelSpecError on bad input. */
export function setLogLevelSpec(spec: string): void {
  currentSpec = parseLogLevelSpec(spec);
  currentSpecText = spec;
  for (const [module, l] of loggers) l.level = CONSOLA_LEVEL[levelFor(currentSpec, module)];
}

/** The spec text in force, to hand to Workers and device processes. */
export function logLevelSpecText(): string {
  return currentSpecText;
}

export function logger(module: string): ConsolaInstance {
  let l = loggers.get(module);
  if (!l) {
    l = build(module);
    loggers.set(module, l);
  }
  return l;
}
