// Logging with crosvm's --log-level syntax: "LEVEL" or "module::path=LEVEL,...,LEVEL". Each module logs through
// `logger("devices::serial")`; the most specific module prefix in the spec decides its level. Logs go to stderr,
// because stdout belongs to the guest's serial console.
import { createConsola, type ConsolaInstance } from "consola";

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

function build(module: string): ConsolaInstance {
  return createConsola({
    level: CONSOLA_LEVEL[levelFor(currentSpec, module)],
    stdout: process.stderr,
    stderr: process.stderr,
    formatOptions: { date: false, colors: false },
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
