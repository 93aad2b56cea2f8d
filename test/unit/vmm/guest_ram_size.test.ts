// --mem up to what the guest can address (issue 13 item 1): past it, one line naming --mem and the limit.
import { expect, test } from "bun:test";
import { FIRST_ADDR_PAST_32BITS, MIB, pcieVcfgRange } from "../../../src/arch/x86_64/layout.ts";
import { GuestRamSizeError, guestRamLayout, maxMemMib } from "../../../src/vmm/guest_ram_size.ts";

const GIB_MIB = 1024;

test("12 GiB is laid out as RAM below 4 GiB and the rest from 4 GiB", () => {
  const regions = guestRamLayout(12 * GIB_MIB, 40);

  expect(regions.reduce((n, r) => n + r.size, 0)).toBe(12 * GIB_MIB * MIB);
  expect(regions[1]!.guestAddr).toBe(FIRST_ADDR_PAST_32BITS);
});

test("the largest --mem leaves room for the PCI configuration window below 2^bits, one MiB more does not", () => {
  const max = maxMemMib(40);
  const end = (mib: number) => pcieVcfgRange(mib * MIB).start + pcieVcfgRange(mib * MIB).size;

  expect(end(max)).toBeLessThanOrEqual(2 ** 40);
  expect(end(max + 1)).toBeGreaterThan(2 ** 40);
});

test("an address width above 46 bits is held to Linux's 46", () => {
  expect(maxMemMib(52)).toBe(maxMemMib(46));
});

test("-m 99999999999 is refused naming --mem, the exact number and the limit", () => {
  expect(() => guestRamLayout(99999999999, 40)).toThrow(
    `--mem 99999999999: expected at most ${maxMemMib(40)} MiB (what 40-bit guest physical addresses leave for RAM here)`,
  );
});

test("one MiB past the limit is refused with a GuestRamSizeError", () => {
  expect(() => guestRamLayout(maxMemMib(36) + 1, 36)).toThrow(GuestRamSizeError);
});

test("less than 2 MiB is refused naming --mem", () => {
  expect(() => guestRamLayout(1, 40)).toThrow("--mem 1: expected at least 2 MiB");
});
