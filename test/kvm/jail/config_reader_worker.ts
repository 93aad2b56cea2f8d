// Reader side of the flood test: revives the shared proxy in this thread, waits `startDelayMs` (the flood is under
// way and the device's code warm by then), and reads device config `count` times, `gapMs` apart, writing each read's latency (ms) into `latencies`, then sets done[0] = 1. Results go through
// shared memory because the flooding thread never returns to its event loop while this one reads.
import { type ProxyShare, ProxyVirtioDevice } from "../../../src/jail/device_process/proxy_device.ts";

export interface ConfigReaderInit {
  readonly proxy: ProxyShare;
  readonly count: number;
  readonly gapMs: number;
  readonly startDelayMs: number;
  /** Float64 per read: its latency in ms, or -1 if it threw. */
  readonly latencies: SharedArrayBuffer;
  /** Int32 [done]. */
  readonly done: SharedArrayBuffer;
}

declare const self: Worker;

self.onmessage = (e: MessageEvent<ConfigReaderInit>) => {
  const { proxy, count, gapMs } = e.data;
  const device = ProxyVirtioDevice.revive(proxy);
  const latencies = new Float64Array(e.data.latencies);
  const done = new Int32Array(e.data.done);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const out = new Uint8Array(4);
  Atomics.wait(pause, 0, 0, e.data.startDelayMs);
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    try {
      device.readConfig(0, out);
      latencies[i] = performance.now() - start;
    } catch {
      latencies[i] = -1;
    }
    Atomics.wait(pause, 0, 0, gapMs);
  }
  Atomics.store(done, 0, 1);
};
