// Guest-triggerable log lines go through one rate limiter per device and reason, and are escaped (issue 15 item 3).
import { describe, expect, test } from "bun:test";
import { GuestLog, GuestLogLimiters, type LogSink } from "../../../src/base/guest_log.ts";
import { processQueue } from "../../../src/devices/virtio/process_queue.ts";
import { DESC_BASE, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";

/** Collects lines; `now` is a clock the test moves. */
function capture() {
  const lines: string[] = [];
  const clock = { now: 0 };
  const sink: LogSink = {
    error: (m) => lines.push(`ERROR ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    info: (m) => lines.push(`INFO ${m}`),
    debug: (m) => lines.push(`DEBUG ${m}`),
  };
  const limiters = new GuestLogLimiters({ burst: 10, periodMs: 1000, maxKeys: 4, now: () => clock.now });
  return { lines, clock, log: (device: string) => new GuestLog(sink, device, limiters) };
}

describe("a guest alternating two refused queue heads", () => {
  test("100,000 refusals within 380 ms give 10 lines, then one line with the suppressed count", () => {
    const { lines, clock, log } = capture();
    const d = new FakeDriverQueue(16, undefined, 0x20000);
    d.activate();
    // Two descriptors whose buffers end outside guest RAM: each chain is refused and handed back.
    d.writeDescriptor(DESC_BASE, 3, { addr: 0x1ff00, len: 0x1000, flags: 0, next: 0 });
    d.writeDescriptor(DESC_BASE, 5, { addr: 0x1ff80, len: 0x1000, flags: 0, next: 0 });
    const irq = new FakeInterrupt();
    const guestLog = log("virtio-block");

    for (let i = 0; i < 100_000; i++) {
      clock.now = (i * 380) / 100_000;
      d.publish(i % 2 ? 3 : 5);
      processQueue(d.queue, irq, () => 0, guestLog);
    }
    clock.now = 1380;
    d.publish(3);
    processQueue(d.queue, irq, () => 0, guestLog);

    expect(lines.length).toBe(11);
    expect(lines[0]).toStartWith("WARN virtio-block: refused descriptor chain 5:");
    expect(lines[10]).toEndWith("(99990 similar messages suppressed)");
  });
});

describe("GuestLog", () => {
  test("each device and reason has its own budget", () => {
    const { lines, log } = capture();

    for (let i = 0; i < 20; i++) {
      log("virtio-rng").warn("refused chain", "a");
      log("virtio-rng").warn("request failed", "b");
      log("virtio-block").warn("refused chain", "c");
    }

    expect(lines.length).toBe(30);
  });

  test("device-supplied text is escaped to printable ASCII on one line", () => {
    const { lines, log } = capture();

    log("virtio-\x1b[2Jrng").error("needs reset", "forged\n[vmm] ERROR all good \\ é");

    expect(lines).toEqual(["ERROR virtio-\\x1b[2Jrng: forged\\n[vmm] ERROR all good \\\\ \\xe9"]);
  });

  test("pairs beyond maxKeys share one budget, so the limiter's memory stays bounded", () => {
    const { lines, log } = capture();

    for (let i = 0; i < 100; i++) log(`device ${i}`).warn("refused chain", "x");

    // 4 tracked pairs of 10 lines each would be 40: only the first 4 pairs are tracked, the rest share 10.
    expect(lines.length).toBe(4 + 10);
  });
});
