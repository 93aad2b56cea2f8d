import { describe, expect, test } from "bun:test";
import { O_CLOEXEC, O_NONBLOCK, close, pipe2, read } from "../../../ffi/libc.ts";
import {
  CONSOLE_RECEIVEQ,
  CONSOLE_TRANSMITQ,
  FdConsoleOutput,
  VirtioConsole,
} from "../../../src/devices/virtio/console.ts";
import { VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG } from "../../../src/devices/virtio/constants.ts";
import { VirtioRng } from "../../../src/devices/virtio/rng.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";

describe("virtio-rng (5.4)", () => {
  test("fills every writable buffer of a chain and reports the length", () => {
    const rng = new VirtioRng((b) => b.fill(0x42));
    const drv = new FakeDriverQueue();
    rng.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
    const { addrs } = drv.addChain([
      { len: 16, writable: true },
      { len: 48, writable: true },
    ]);
    rng.queueNotify(0);
    expect(drv.mem.read(addrs[0]!, 16).every((b) => b === 0x42)).toBe(true);
    expect(drv.mem.read(addrs[1]!, 48).every((b) => b === 0x42)).toBe(true);
    expect(drv.usedElem(0).len).toBe(64);
  });

  test("the default source is the host's random generator (bytes differ between buffers)", () => {
    const rng = new VirtioRng();
    const drv = new FakeDriverQueue();
    rng.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
    const a = drv.addChain([{ len: 64, writable: true }]).addrs[0]!;
    const b = drv.addChain([{ len: 64, writable: true }]).addrs[0]!;
    rng.queueNotify(0);
    expect(drv.mem.read(a, 64)).not.toEqual(drv.mem.read(b, 64));
    expect(drv.mem.read(a, 64).some((x) => x !== 0)).toBe(true);
  });

  test("reports device type 4 with one queue", () => {
    const rng = new VirtioRng();
    expect([rng.deviceType, rng.queueMaxSizes.length]).toEqual([VIRTIO_ID_RNG, 1]);
  });

  test("a notification while asleep is processed on wake", () => {
    const rng = new VirtioRng((b) => b.fill(1));
    const drv = new FakeDriverQueue();
    rng.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
    drv.addChain([{ len: 8, writable: true }]);
    rng.sleep();
    rng.queueNotify(0);
    expect(drv.usedIdx()).toBe(0);
    rng.wake();
    expect(drv.usedIdx()).toBe(1);
  });

  test("after reset the device ignores notifications until activated again", () => {
    const rng = new VirtioRng((b) => b.fill(1));
    const drv = new FakeDriverQueue();
    rng.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
    rng.reset();
    drv.addChain([{ len: 8, writable: true }]);
    rng.queueNotify(0);
    expect(drv.usedIdx()).toBe(0);
    rng.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.queue]]));
    rng.queueNotify(0);
    expect(drv.usedIdx()).toBe(1);
  });
});

function consoleRig() {
  return { dev: new VirtioConsole(), rx: new FakeDriverQueue(), irq: new FakeInterrupt() };
}

describe("virtio-console (5.3)", () => {
  test("guest output on the transmitq reaches the output backend", () => {
    const out: number[] = [];
    const dev = new VirtioConsole({ write: (b) => out.push(...b) });
    const tx = new FakeDriverQueue();
    dev.activate(tx.mem, new FakeInterrupt(), new Map([[CONSOLE_TRANSMITQ, tx.activate()]]));
    tx.addChain([{ data: new TextEncoder().encode("hello ") }, { data: new TextEncoder().encode("world") }]);
    dev.queueNotify(CONSOLE_TRANSMITQ);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe("hello world");
    expect(tx.usedElem(0).len).toBe(0);
  });

  test("input pushed in fills a posted receive buffer", () => {
    const { dev, rx, irq } = consoleRig();
    dev.activate(rx.mem, irq, new Map([[CONSOLE_RECEIVEQ, rx.activate()]]));
    const { addrs } = rx.addChain([{ len: 32, writable: true }]);
    dev.pushInput(new TextEncoder().encode("ls\n"));
    expect(new TextDecoder().decode(rx.mem.read(addrs[0]!, 3))).toBe("ls\n");
    expect(rx.usedElem(0).len).toBe(3);
    expect(irq.usedQueueVectors.length).toBe(1);
  });

  test("input waits until the guest posts a receive buffer", () => {
    const { dev, rx, irq } = consoleRig();
    dev.activate(rx.mem, irq, new Map([[CONSOLE_RECEIVEQ, rx.activate()]]));
    dev.pushInput(Uint8Array.of(1, 2, 3, 4, 5));
    expect(dev.pendingInput).toBe(5);
    const { addrs } = rx.addChain([{ len: 2, writable: true }]);
    rx.addChain([{ len: 8, writable: true }]);
    dev.queueNotify(CONSOLE_RECEIVEQ);
    expect(rx.mem.read(addrs[0]!, 2)).toEqual(Uint8Array.of(1, 2));
    expect(dev.pendingInput).toBe(0);
    expect(rx.usedIdx()).toBe(2);
  });

  test("input that arrived before activation is delivered at activation", () => {
    const { dev, rx, irq } = consoleRig();
    dev.pushInput(Uint8Array.of(9));
    const q = rx.activate();
    const { addrs } = rx.addChain([{ len: 4, writable: true }]);
    dev.activate(rx.mem, irq, new Map([[CONSOLE_RECEIVEQ, q]]));
    expect(rx.mem.readU8(addrs[0]!)).toBe(9);
  });

  test("FdConsoleOutput writes guest output to its file descriptor", () => {
    const [r, w] = pipe2(O_CLOEXEC | O_NONBLOCK);
    try {
      new FdConsoleOutput(w).write(new TextEncoder().encode("boot ok\n"));
      const buf = new Uint8Array(64);
      const n = read(r, buf);
      expect(new TextDecoder().decode(buf.subarray(0, n))).toBe("boot ok\n");
    } finally {
      close(r);
      close(w);
    }
  });

  test("reports device type 3 with receiveq and transmitq", () => {
    const dev = new VirtioConsole();
    expect([dev.deviceType, dev.queueMaxSizes.length]).toEqual([VIRTIO_ID_CONSOLE, 2]);
  });
});
