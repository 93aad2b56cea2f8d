// A mutex over one Int32 of a SharedArrayBuffer, so that the vCPU Workers and the main thread can share one
// device's state (crosvm wraps each BusDevice in Arc<Mutex<..>>; threads in Bun share memory only through SABs).
// States: 0 unlocked, 1 locked, 2 locked with waiters.

export class SharedMutex {
  readonly #cell: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.#cell = new Int32Array(buffer, 0, 1);
  }

  lock(): void {
    const cell = this.#cell;
    let c = Atomics.compareExchange(cell, 0, 0, 1);
    if (c === 0) return;
    // Contended: mark "waiters" and sleep until the holder wakes us.
    if (c !== 2) c = Atomics.exchange(cell, 0, 2);
    while (c !== 0) {
      Atomics.wait(cell, 0, 2);
      c = Atomics.exchange(cell, 0, 2);
    }
  }

  unlock(): void {
    if (Atomics.sub(this.#cell, 0, 1) !== 1) {
      Atomics.store(this.#cell, 0, 0);
      Atomics.notify(this.#cell, 0, 1);
    }
  }

  with<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}
