import { describe, expect, test } from "bun:test";
import { Cmos } from "../../../src/devices/cmos.ts";
import { RecordingIrq } from "../../../src/devices/irq.ts";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function cmos(opts: { now?: () => number; memBelow4G?: number; memAbove4G?: number } = {}) {
  const dev = new Cmos({ memBelow4G: opts.memBelow4G ?? 0, memAbove4G: opts.memAbove4G ?? 0, now: opts.now });
  const rd = (index: number) => {
    dev.write(0, Uint8Array.of(index));
    const d = new Uint8Array(1);
    dev.read(1, d);
    return d[0]!;
  };
  const wr = (index: number, v: number) => {
    dev.write(0, Uint8Array.of(index));
    dev.write(1, Uint8Array.of(v));
  };
  return { dev, rd, wr };
}

const fromBcd = (v: number) => (v >> 4) * 10 + (v & 0xf);

function readClock(rd: (i: number) => number): number {
  const year = fromBcd(rd(0x32)) * 100 + fromBcd(rd(0x09));
  return Date.UTC(
    year,
    fromBcd(rd(0x08)) - 1,
    fromBcd(rd(0x07)),
    fromBcd(rd(0x04)),
    fromBcd(rd(0x02)),
    fromBcd(rd(0x00)),
  );
}

describe("CMOS RTC", () => {
  test("the time registers report the host's current UTC time", () => {
    const { rd } = cmos();

    const before = Math.floor(Date.now() / 1000) * 1000;
    const rtc = readClock(rd);
    const after = Date.now();

    expect(rtc).toBeGreaterThanOrEqual(before);
    expect(rtc).toBeLessThanOrEqual(after);
  });

  test("a fixed instant reads back in BCD, 24-hour, with Sunday as day 1", () => {
    const { rd } = cmos({ now: () => Date.UTC(1999, 11, 31, 23, 59, 58) }); // a Friday

    const regs = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(rd);

    expect(regs).toEqual([0x58, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19]);
  });

  test("register B starts in BCD and 24-hour mode", () => {
    const { rd } = cmos();

    expect(rd(0x0b)).toBe(0x02);
  });

  test("binary mode cannot be selected: register B drops DM and the time stays BCD (as crosvm)", () => {
    const { rd, wr } = cmos({ now: () => Date.UTC(2024, 0, 2, 13, 45, 59) });

    wr(0x0b, 0x04); // DM (binary), 12-hour

    expect(rd(0x0b)).toBe(0x02);
    expect(rd(0x00)).toBe(0x59);
    expect(rd(0x04)).toBe(0x13);
  });

  test("register A never reports an update in progress", () => {
    const { rd, wr } = cmos();

    wr(0x0a, 0xa6);

    expect(rd(0x0a)).toBe(0x26);
  });

  test("register D reports valid RAM and time", () => {
    const { rd } = cmos();

    expect(rd(0x0d)).toBe(0x80);
  });

  test("the NMI-disable bit of the index is masked off", () => {
    const { dev, wr } = cmos();
    wr(0x40, 0x77);

    dev.write(0, Uint8Array.of(0x80 | 0x40));
    const index = new Uint8Array(1);
    dev.read(0, index);
    const data = new Uint8Array(1);
    dev.read(1, data);

    expect(index[0]).toBe(0x40);
    expect(data[0]).toBe(0x77);
  });

  test("a write to a time register does not change the reported time", () => {
    const { rd, wr } = cmos({ now: () => Date.UTC(2020, 5, 6, 7, 8, 9) });

    wr(0x00, 0x30);

    expect(rd(0x00)).toBe(0x09);
  });

  test("memory between 16 MiB and 4 GiB is reported in 64 KiB units at 0x34/0x35", () => {
    const { rd } = cmos({ memBelow4G: 256 * MIB });

    const units = rd(0x34) | (rd(0x35) << 8);

    expect(units).toBe((240 * MIB) / (64 * 1024));
  });

  test("memory above 4 GiB is reported in 64 KiB units at 0x5b-0x5d", () => {
    const { rd } = cmos({ memBelow4G: 3 * GIB, memAbove4G: 5 * GIB });

    const units = rd(0x5b) | (rd(0x5c) << 8) | (rd(0x5d) << 16);

    expect(units).toBe((5 * GIB) / (64 * 1024));
  });

  test("memory below 16 MiB reports zero extended memory", () => {
    const { rd } = cmos({ memBelow4G: 8 * MIB });

    expect(rd(0x34) | (rd(0x35) << 8)).toBe(0);
  });
});

describe("CMOS RTC alarm", () => {
  // 2000-01-02T03:04:05Z, the instant crosvm's cmos_alarm test uses.
  const NOW = Date.UTC(2000, 0, 2, 3, 4, 5);
  const setAlarm = (wr: (i: number, v: number) => void, bcd: [number, number, number, number, number]) => {
    const [month, day, hour, minute, second] = bcd;
    wr(0x01, second);
    wr(0x03, minute);
    wr(0x05, hour);
    wr(0x33, day);
    wr(0x34, month);
    wr(0x0b, 0x22); // AIE | 24h
  };

  test("an alarm later this year is armed for this year", () => {
    const { dev, wr } = cmos({ now: () => NOW });

    setAlarm(wr, [0x02, 0x03, 0x04, 0x05, 0x06]);

    expect(dev.alarmTime).toBe(Date.UTC(2000, 1, 3, 4, 5, 6));
  });

  test("an alarm already past this year is armed for next year", () => {
    const { dev, wr } = cmos({ now: () => NOW });

    setAlarm(wr, [0x01, 0x02, 0x03, 0x04, 0x04]);

    expect(dev.alarmTime).toBe(Date.UTC(2001, 0, 2, 3, 4, 4));
  });

  test("register C reports IRQF and AF once the alarm time has come, then clears", () => {
    const { dev, rd, wr } = cmos({ now: () => NOW });
    setAlarm(wr, [0x01, 0x02, 0x03, 0x04, 0x05]);

    expect(rd(0x0c)).toBe(0xa0);
    expect(dev.alarmTime).toBeUndefined();
    expect(rd(0x0c)).toBe(0);
  });

  test("alarm registers that are not BCD arm nothing", () => {
    const { dev, wr } = cmos({ now: () => NOW });

    setAlarm(wr, [0x02, 0x03, 0x04, 0x05, 0xa0]);

    expect(dev.alarmTime).toBeUndefined();
  });

  test("an impossible date (February 30) arms nothing", () => {
    const { dev, wr } = cmos({ now: () => NOW });

    setAlarm(wr, [0x02, 0x30, 0x04, 0x05, 0x06]);

    expect(dev.alarmTime).toBeUndefined();
  });

  test("clearing AIE cancels the alarm", () => {
    const { dev, wr } = cmos({ now: () => NOW });
    setAlarm(wr, [0x02, 0x03, 0x04, 0x05, 0x06]);

    wr(0x0b, 0x02);

    expect(dev.alarmTime).toBeUndefined();
  });

  test("the main thread raises IRQ 8 when an alarm comes due", async () => {
    let now = NOW + 950; // 50 ms before the next second
    const { dev, wr } = cmos({ now: () => now });
    const irq = new RecordingIrq();
    dev.startAlarm(irq);

    setAlarm(wr, [0x01, 0x02, 0x03, 0x04, 0x06]);
    await Bun.sleep(20);
    const early = irq.count;
    await Bun.sleep(80);
    now += 1000;
    dev.stopAlarm();

    expect(early).toBe(0);
    expect(irq.count).toBe(1);
  });

  test("a cancelled alarm raises nothing", async () => {
    const { dev, wr } = cmos({ now: () => NOW + 950 });
    const irq = new RecordingIrq();
    dev.startAlarm(irq);

    setAlarm(wr, [0x01, 0x02, 0x03, 0x04, 0x06]);
    wr(0x0b, 0x02);
    await Bun.sleep(100);
    dev.stopAlarm();

    expect(irq.count).toBe(0);
  });
});
