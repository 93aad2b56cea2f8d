import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd, eventfdRead, eventfdWrite } from "../../../ffi/libc.ts";
import { WaitLoop } from "../../../src/base/wait_loop.ts";

/** Resolves after `ms` (the handlers under test run on this thread, between awaits). */
const settle = (ms = 50) => Bun.sleep(ms);

/**
 * Resolves once `done()` holds, checking between short sleeps for up to 5 s: the loop's Worker may take a while to
 * start on a loaded machine, and a fixed wait made these tests fail there.
 */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = performance.now() + 5000; !done() && performance.now() < deadline;)
    await Bun.sleep(5);
}

describe("WaitLoop", () => {
  let loop: WaitLoop;
  let fd: number;
  beforeEach(() => {
    loop = new WaitLoop();
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  });
  afterEach(() => {
    loop.close();
    close(fd);
  });

  test("calls the handler on this thread once per write that it consumes", async () => {
    const seen: bigint[] = [];
    loop.watch(fd, "test eventfd", () => seen.push(eventfdRead(fd)));

    eventfdWrite(fd, 3n);
    await until(() => seen.length === 1);
    eventfdWrite(fd, 4n);
    await until(() => seen.length === 2);
    await settle();

    expect(seen).toEqual([3n, 4n]);
  });

  test("calls a handler that left the fd readable again at once", async () => {
    let calls = 0;
    loop.watch(fd, "test eventfd", () => {
      if (++calls === 3) eventfdRead(fd);
    });

    eventfdWrite(fd);
    await until(() => calls >= 3);
    await settle();

    expect(calls).toBe(3);
  });

  test("a paused watch is not called until resumed", async () => {
    let calls = 0;
    const w = loop.watch(fd, "test eventfd", () => {
      calls++;
      eventfdRead(fd);
    });
    w.pause();

    eventfdWrite(fd);
    await settle();
    const whilePaused = calls;
    w.resume();
    await until(() => calls > 0);
    await settle();

    expect([whilePaused, calls]).toEqual([0, 1]);
  });

  test("a cancelled watch is never called", async () => {
    let calls = 0;
    const w = loop.watch(fd, "test eventfd", () => calls++);
    w.cancel();

    eventfdWrite(fd);
    await settle();

    expect([calls, loop.size]).toEqual([0, 0]);
  });

  test("wakes within a few milliseconds of a write", async () => {
    const woke = Promise.withResolvers<number>();
    loop.watch(fd, "test eventfd", () => {
      eventfdRead(fd);
      woke.resolve(performance.now());
    });
    await settle(200);

    const wrote = performance.now();
    eventfdWrite(fd);

    expect((await woke.promise) - wrote).toBeLessThan(20);
  });
});
