// The one gate for log lines a guest (or a compromised device process) can trigger at will: a refused descriptor
// chain, a failed request, a config access out of range. Each device and reason has its own RateLimiter (a burst
// of lines per period), the first line through after a quiet spell says how many were suppressed, and every line
// is escaped to printable ASCII (printable.ts). A guest alternating two refused queue heads thus writes a few
// lines a second, not a hundred thousand.
import { RateLimiter } from "./rate_limit.ts";
import { printableAscii } from "./printable.ts";

/** Where lines go: a consola logger from log.ts fits. */
export interface LogSink {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export type GuestLogLevel = keyof LogSink;

export interface GuestLogLimits {
  /** Lines per device and reason in one period. */
  readonly burst: number;
  readonly periodMs: number;
  /** Device/reason pairs tracked; beyond it, new pairs share one limiter (reasons are constants in our code). */
  readonly maxKeys: number;
  readonly now?: () => number;
}

export const GUEST_LOG_LIMITS: GuestLogLimits = { burst: 10, periodMs: 1000, maxKeys: 256 };

/** The limiters of one process (or thread), keyed by device and reason. */
export class GuestLogLimiters {
  readonly #limiters = new Map<string, RateLimiter>();
  readonly #overflow: RateLimiter;

  constructor(readonly limits: GuestLogLimits = GUEST_LOG_LIMITS) {
    this.#overflow = this.#make();
  }

  #make(): RateLimiter {
    const { burst, periodMs, now } = this.limits;
    return now ? new RateLimiter(burst, periodMs, now) : new RateLimiter(burst, periodMs);
  }

  /** The limiter for `device` and `reason`. */
  for(device: string, reason: string): RateLimiter {
    const key = `${device}\0${reason}`;
    let limiter = this.#limiters.get(key);
    if (!limiter) {
      if (this.#limiters.size >= this.limits.maxKeys) return this.#overflow;
      limiter = this.#make();
      this.#limiters.set(key, limiter);
    }
    return limiter;
  }
}

const processLimiters = new GuestLogLimiters();

/** Rate-limited, escaped log lines for one device: `device: message`. */
export class GuestLog {
  constructor(
    readonly sink: LogSink,
    readonly device: string,
    readonly limiters: GuestLogLimiters = processLimiters,
  ) {}

  /** Logs `device: message` at `level` unless this device and reason are over their rate. */
  log(level: GuestLogLevel, reason: string, message: string): void {
    const suppressed = this.limiters.for(this.device, reason).allow();
    if (suppressed < 0) return;
    const more = suppressed > 0 ? ` (${suppressed} similar messages suppressed)` : "";
    this.sink[level](`${printableAscii(`${this.device}: ${message}`)}${more}`);
  }

  error(reason: string, message: string): void {
    this.log("error", reason, message);
  }

  warn(reason: string, message: string): void {
    this.log("warn", reason, message);
  }

  debug(reason: string, message: string): void {
    this.log("debug", reason, message);
  }
}
