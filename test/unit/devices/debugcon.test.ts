import { describe, expect, test } from "bun:test";
import { Debugcon } from "../../../src/devices/debugcon.ts";
import { CollectingOutput } from "./uart_helpers.ts";

describe("debugcon", () => {
  test("each byte written goes to the output back end", () => {
    const out = new CollectingOutput();
    const dev = new Debugcon(out);

    for (const c of new TextEncoder().encode("ok\n")) dev.write(0, Uint8Array.of(c));

    expect(out.text()).toBe("ok\n");
  });

  test("a read returns the Bochs readback value 0xe9", () => {
    const dev = new Debugcon(new CollectingOutput());
    const d = new Uint8Array(1);

    dev.read(0, d);

    expect(d[0]).toBe(0xe9);
  });

  test("a wider-than-byte write is ignored", () => {
    const out = new CollectingOutput();
    const dev = new Debugcon(out);

    dev.write(0, Uint8Array.of(0x41, 0x42));

    expect(out.bytes).toEqual([]);
  });
});
