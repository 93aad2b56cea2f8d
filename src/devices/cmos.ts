// The MC146818 CMOS RTC and NVRAM at I/O ports 0x70 (index) and 0x71 (data), following crosvm
// devices/src/cmos.rs. Register numbers: MC146818A datasheet and Linux include/linux/mc146818rtc.h.
//
// - The index register keeps 7 bits; bit 7 of a write (the NMI-disable bit on PCs) is masked off. Reading port 0x70
//   returns the index, as crosvm does.
// - Time registers report the host's current UTC time on every read, always in BCD and 24-hour mode. Like crosvm,
//   register B refuses the bits it does not implement (SET, PIE, UIE, SQWE, DM = binary mode, DSE) and keeps 24h
//   set, so a guest reading register B back sees BCD/24h and converts accordingly.
// - Register A's update-in-progress bit (bit 7) always reads 0: each read samples the host clock whole, so an
//   update is never in progress (crosvm never sets it; here a guest cannot set it either, as on real parts).
// - The alarm, as crosvm: when register B's AIE bit is written set, the alarm registers (seconds 0x01, minutes 0x03,
//   hours 0x05, day 0x33, month 0x34, BCD; there is no year) name the next such instant this year, or next year if it
//   has passed; invalid BCD or an impossible date leaves the alarm as it was; writing AIE clear cancels it. At that
//   instant the main thread raises IRQ 8 (startAlarm), and register C reads IRQF|AF once the alarm time has passed
//   (which clears the alarm), 0 otherwise. crosvm also sends an ACPI wake request; that is not done here. No
//   periodic or update-ended interrupts (PIE/UIE are refused in register B).
// - Register D reads 0x80 (valid RAM and time).
// - Writes to the time registers are stored in the NVRAM array but never change what reads return (crosvm keeps no
//   offset either); any other byte of the 128 is plain NVRAM.
// - Memory size, filled at creation as crosvm does: 0x34/0x35 RAM between 16 MiB and 4 GiB in 64 KiB units (capped
//   at 0xffff), 0x5b-0x5d RAM above 4 GiB in 64 KiB units (capped at 0xffffff); SeaBIOS reads these. 0x34 is also
//   the alarm month register: programming the alarm overwrites it, as in crosvm.
import { GuestLog } from "../base/guest_log.ts";
import { logger } from "../base/log.ts";
import { SharedMutex } from "../base/shared_mutex.ts";
import type { IrqEvent } from "./irq.ts";
import { registerDeviceKind, type DeviceShare, type ShareableDevice } from "./shared_device.ts";

const log = new GuestLog(logger("devices::cmos"), "cmos");

export const CMOS_KIND = "cmos";
/** The ISA IRQ of the RTC. */
export const RTC_IRQ = 8;
export const CMOS_BASE = 0x70;
export const CMOS_LEN = 2;

const INDEX_OFFSET = 0;
const DATA_OFFSET = 1;
const INDEX_MASK = 0x7f;
const DATA_LEN = 128;

export const RTC_SECONDS = 0x00;
export const RTC_MINUTES = 0x02;
export const RTC_HOURS = 0x04;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_ALARM_SECONDS = 0x01;
export const RTC_ALARM_MINUTES = 0x03;
export const RTC_ALARM_HOURS = 0x05;
export const RTC_ALARM_DAY = 0x33;
export const RTC_ALARM_MONTH = 0x34;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const RTC_CENTURY = 0x32;
export const CMOS_EXT_MEM_LOW = 0x34;
export const CMOS_EXT_MEM_HIGH = 0x35;
export const CMOS_HIGH_MEM = 0x5b; // 3 bytes, 0x5b..0x5d

export const RTC_A_UIP = 0x80;
export const RTC_B_24H = 0x02;
export const RTC_B_DM_BINARY = 0x04;
export const RTC_B_AIE = 0x20;
export const RTC_C_IRQF = 0x80;
export const RTC_C_AF = 0x20;
const RTC_B_UNSUPPORTED = 0xdd; // SET | PIE | UIE | SQWE | DM | DSE
const RTC_D_VRT = 0x80;

const MIB = 1024 * 1024;
// setTimeout's longest delay (a signed 32-bit millisecond count); a later alarm re-arms in steps.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
// Layout of the shared alarm block: Float64 alarm time (ms since the epoch, NaN = none), Int32 generation.
const ALARM_BYTES = 16;
const UNIT_64K = 64 * 1024;

export interface CmosOptions {
  /** Guest RAM below 4 GiB, in bytes. */
  memBelow4G: number;
  /** Guest RAM above 4 GiB, in bytes. */
  memAbove4G: number;
  /** Milliseconds since the epoch; the host clock unless a test supplies one. */
  now?: () => number;
}

export interface CmosState {
  /** Byte 0 the index, bytes 1..128 the NVRAM. */
  readonly regs: SharedArrayBuffer;
  /** The armed alarm time and a generation counter bumped on every change (see startAlarm). */
  readonly alarm: SharedArrayBuffer;
  readonly mutex: SharedArrayBuffer;
}

export class Cmos implements ShareableDevice {
  readonly debugLabel = "cmos";
  readonly mutex: SharedMutex;
  readonly #regs: Uint8Array;
  readonly #alarmTime: Float64Array;
  readonly #alarmGeneration: Int32Array;
  readonly #now: () => number;
  #watching = false;

  constructor(opts: CmosOptions, shared?: CmosState) {
    this.mutex = new SharedMutex(shared?.mutex);
    this.#regs = new Uint8Array(shared?.regs ?? new SharedArrayBuffer(1 + DATA_LEN));
    const alarm = shared?.alarm ?? new SharedArrayBuffer(ALARM_BYTES);
    this.#alarmTime = new Float64Array(alarm, 0, 1);
    this.#alarmGeneration = new Int32Array(alarm, 8, 1);
    this.#now = opts.now ?? Date.now;
    if (shared) return;
    this.#alarmTime[0] = Number.NaN;
    const data = this.#regs.subarray(1);
    data[RTC_REG_B] = RTC_B_24H;
    const extMem = Math.min(0xffff, Math.floor(Math.max(0, opts.memBelow4G - 16 * MIB) / UNIT_64K));
    data[CMOS_EXT_MEM_LOW] = extMem & 0xff;
    data[CMOS_EXT_MEM_HIGH] = extMem >>> 8;
    const highMem = Math.min(0xffffff, Math.floor(Math.max(0, opts.memAbove4G) / UNIT_64K));
    data[CMOS_HIGH_MEM] = highMem & 0xff;
    data[CMOS_HIGH_MEM + 1] = (highMem >>> 8) & 0xff;
    data[CMOS_HIGH_MEM + 2] = highMem >>> 16;
  }

  static revive(state: unknown): Cmos {
    const s = state as Partial<CmosState> | null;
    if (
      typeof s !== "object" ||
      s === null ||
      !(s.regs instanceof SharedArrayBuffer) ||
      s.regs.byteLength < 1 + DATA_LEN ||
      !(s.alarm instanceof SharedArrayBuffer) ||
      s.alarm.byteLength < ALARM_BYTES ||
      !(s.mutex instanceof SharedArrayBuffer)
    )
      throw new Error(`device kind "${CMOS_KIND}": malformed shared state`);
    return new Cmos({ memBelow4G: 0, memAbove4G: 0 }, s as CmosState);
  }

  share(): DeviceShare {
    const state: CmosState = {
      regs: this.#regs.buffer as SharedArrayBuffer,
      alarm: this.#alarmTime.buffer as SharedArrayBuffer,
      mutex: this.mutex.buffer,
    };
    return { kind: CMOS_KIND, state };
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (data.length !== 1) return;
    if (offset === INDEX_OFFSET) data[0] = this.#regs[0]!;
    else if (offset === DATA_OFFSET) data[0] = this.#readData(this.#regs[0]! & INDEX_MASK);
  }

  write(offset: number, data: Uint8Array): void {
    if (data.length !== 1) return;
    const v = data[0]!;
    if (offset === INDEX_OFFSET) this.#regs[0] = v & INDEX_MASK;
    else if (offset === DATA_OFFSET) this.#writeData(this.#regs[0]! & INDEX_MASK, v);
  }

  #readData(index: number): number {
    const t = new Date(this.#now());
    const year = t.getUTCFullYear();
    switch (index) {
      case RTC_SECONDS:
        return toBcd(t.getUTCSeconds());
      case RTC_MINUTES:
        return toBcd(t.getUTCMinutes());
      case RTC_HOURS:
        return toBcd(t.getUTCHours());
      case RTC_DAY_OF_WEEK:
        return toBcd(t.getUTCDay() + 1); // 1 = Sunday
      case RTC_DAY_OF_MONTH:
        return toBcd(t.getUTCDate());
      case RTC_MONTH:
        return toBcd(t.getUTCMonth() + 1);
      case RTC_YEAR:
        return toBcd(year % 100);
      case RTC_CENTURY:
        return toBcd(Math.floor(year / 100) % 100);
      case RTC_REG_A:
        return this.#regs[1 + RTC_REG_A]! & ~RTC_A_UIP;
      case RTC_REG_C:
        return this.#takeAlarmFlags();
      case RTC_REG_D:
        return RTC_D_VRT;
      default:
        return this.#regs[1 + index]!;
    }
  }

  #writeData(index: number, v: number): void {
    if (index === RTC_REG_B) v = (v & ~RTC_B_UNSUPPORTED) | RTC_B_24H;
    else if (index === RTC_REG_A) v &= ~RTC_A_UIP;
    this.#regs[1 + index] = v;
    if (index === RTC_REG_B) this.#setAlarm();
  }

  /** Reading register C reports (and acknowledges) an alarm whose time has come. */
  #takeAlarmFlags(): number {
    const at = this.#alarmTime[0]!;
    if (Number.isNaN(at) || at > this.#now()) return 0;
    this.#publishAlarm(Number.NaN);
    return RTC_C_IRQF | RTC_C_AF;
  }

  #setAlarm(): void {
    const data = this.#regs.subarray(1);
    const current = this.#alarmTime[0]!;
    if ((data[RTC_REG_B]! & RTC_B_AIE) === 0) {
      if (!Number.isNaN(current)) this.#publishAlarm(Number.NaN);
      return;
    }
    const now = this.#now();
    const year = new Date(now).getUTCFullYear();
    let target = alarmFromRegisters(year, data);
    // No year register: an instant already past this year comes next year.
    if (target !== undefined && target < now) target = alarmFromRegisters(year + 1, data);
    if (target !== undefined && target !== current) this.#publishAlarm(target);
  }

  #publishAlarm(at: number): void {
    this.#alarmTime[0] = at;
    Atomics.add(this.#alarmGeneration, 0, 1);
    Atomics.notify(this.#alarmGeneration, 0);
  }

  /** The armed alarm time (ms since the epoch), or undefined. */
  get alarmTime(): number | undefined {
    const at = this.mutex.with(() => this.#alarmTime[0]!);
    return Number.isNaN(at) ? undefined : at;
  }

  /**
   * Main thread: raises `irq` when an alarm armed by any thread comes due, until stopAlarm(). The guest arms the
   * alarm from a vCPU thread, whose loop runs no timers, so the timer lives here and follows the shared generation.
   */
  startAlarm(irq: IrqEvent): void {
    if (this.#watching) return;
    this.#watching = true;
    void this.#watchAlarm(irq);
  }

  /** Stops the alarm timer; idempotent. */
  stopAlarm(): void {
    if (!this.#watching) return;
    this.#watching = false;
    Atomics.add(this.#alarmGeneration, 0, 1);
    Atomics.notify(this.#alarmGeneration, 0);
  }

  async #watchAlarm(irq: IrqEvent): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (at: number, generation: number) => {
      const delay = at - this.#now();
      timer = setTimeout(
        () => {
          if (Atomics.load(this.#alarmGeneration, 0) !== generation) return;
          if (delay > MAX_TIMEOUT_MS) arm(at, generation);
          else this.#fireAlarm(irq);
        },
        Math.min(Math.max(0, delay), MAX_TIMEOUT_MS),
      );
    };
    while (this.#watching) {
      const generation = Atomics.load(this.#alarmGeneration, 0);
      clearTimeout(timer);
      const at = this.mutex.with(() => this.#alarmTime[0]!);
      if (!Number.isNaN(at)) arm(at, generation);
      const wait = Atomics.waitAsync(this.#alarmGeneration, 0, generation);
      if (wait.async) await wait.value;
    }
    clearTimeout(timer);
  }

  #fireAlarm(irq: IrqEvent): void {
    try {
      irq.trigger();
    } catch (e) {
      log.error(
        "alarm",
        `raising the RTC alarm interrupt failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
}

function fromBcd(v: number): number | undefined {
  const ones = v & 0xf;
  const tens = v >> 4;
  return ones < 10 && tens < 10 ? tens * 10 + ones : undefined;
}

/** The alarm registers as an instant of `year`, or undefined when they are not valid BCD or not a real date. */
function alarmFromRegisters(year: number, data: Uint8Array): number | undefined {
  const month = fromBcd(data[RTC_ALARM_MONTH]!);
  const day = fromBcd(data[RTC_ALARM_DAY]!);
  const hour = fromBcd(data[RTC_ALARM_HOURS]!);
  const minute = fromBcd(data[RTC_ALARM_MINUTES]!);
  const second = fromBcd(data[RTC_ALARM_SECONDS]!);
  if (
    month === undefined ||
    day === undefined ||
    hour === undefined ||
    minute === undefined ||
    second === undefined
  )
    return undefined;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const t = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls an impossible day (Feb 30) into the next month; refuse it as chrono does.
  return new Date(t).getUTCDate() === day ? t : undefined;
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

registerDeviceKind(CMOS_KIND, (state) => Cmos.revive(state));
