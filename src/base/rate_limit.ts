// A log gate for messages the guest can trigger at will (e.g. accesses to unmapped ports): at most `burst`
// messages per `periodMs`, then one summary of how many were suppressed when the next period opens.

export class RateLimiter {
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;

  constructor(
    readonly burst = 10,
    readonly periodMs = 1000,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Returns the number of messages suppressed since the last allowed one (>= 0) when this one may be logged, or -1. */
  allow(): number {
    const t = this.now();
    if (t - this.#windowStart >= this.periodMs) {
      this.#windowStart = t;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.burst) {
      this.#suppressed++;
      return -1;
    }
    this.#inWindow++;
    const s = this.#suppressed;
    this.#suppressed = 0;
    return s;
  }
}
