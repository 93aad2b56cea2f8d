import { describe, expect, test } from "bun:test";
import { SharedMutex } from "../../../src/base/shared_mutex.ts";

describe("SharedMutex", () => {
  test("with() runs the function and releases the lock", () => {
    const m = new SharedMutex();

    const result = m.with(() => 7);

    expect(result).toBe(7);
    expect(new Int32Array(m.buffer)[0]).toBe(0);
  });

  test("the lock is released when the function throws", () => {
    const m = new SharedMutex();

    expect(() =>
      m.with(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(new Int32Array(m.buffer)[0]).toBe(0);
  });

  test("two Workers incrementing a shared counter under the mutex lose no increments", async () => {
    const m = new SharedMutex();
    const counter = new SharedArrayBuffer(8);
    const source = `
      import { SharedMutex } from "${import.meta.dir}/../../../src/base/shared_mutex.ts";
      self.onmessage = (e) => {
        const m = new SharedMutex(e.data.lock);
        const c = new Int32Array(e.data.counter);
        for (let i = 0; i < 20000; i++) m.with(() => { const v = c[0]; c[1]++; c[0] = v + 1; });
        postMessage("done");
      };`;
    const url = URL.createObjectURL(new Blob([source], { type: "application/typescript" }));
    const workers = [new Worker(url), new Worker(url)];

    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.onmessage = resolve;
            w.postMessage({ lock: m.buffer, counter });
          }),
      ),
    );
    workers.forEach((w) => w.terminate());

    expect(new Int32Array(counter)[0]).toBe(40000);
  });
});
