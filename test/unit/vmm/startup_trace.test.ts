import { expect, test } from "bun:test";
import { startupLine } from "../../../src/vmm/startup_trace.ts";

test("startup trace line names the phase, the ms since the time origin and the wall clock", () => {
  const line = startupLine("first KVM_RUN", 123.456, 1_795_000_000_123.25);

  expect(line).toBe("startup: first KVM_RUN after 123.5 ms (wall clock 1795000000123.3 ms)\n");
});
