// The legacy PC devices on the I/O bus, built from the VM's serial parameters as crosvm's x86_64 arch does:
// four 16550A UARTs COM1-4 (arch/src/serial.rs add_serial_devices; a port not configured is a sink), debugcon
// ports (setup_debugcon_devices), the i8042 reset port (setup_legacy_i8042_device) and the CMOS/RTC
// (setup_legacy_cmos_device, whose alarm raises IRQ 8 while started). The devices are shareable: the VM run loop inserts `io` into each vCPU's Bus.
//
// Input: a UART with `input=FILE` reads that file; one with `stdin` reads the VMM's stdin. start() begins reading in
// the main thread (see serial/input_pump.ts for the full-FIFO policy: input waits, nothing is dropped). If a UART
// reads stdin and stdin is a terminal, start() puts it in raw mode as crosvm does (no echo, no line editing, ISIG
// off): Ctrl-C is then byte 0x03 for the guest and no longer interrupts the VMM, which stops when the guest powers
// off or resets, on `crosvm stop`, or on SIGTERM. stop() restores the terminal and is also registered for process
// exit while input runs, so an exit path that forgets stop() still leaves a usable terminal.
import { close, O_CLOEXEC, O_NONBLOCK, O_RDONLY, open, SysError } from "../../ffi/libc.ts";
import type { SerialParameters } from "../vmm/config.ts";
import { Cmos, CMOS_BASE, CMOS_LEN, RTC_IRQ } from "./cmos.ts";
import { Debugcon, DEBUGCON_PORT_COUNT } from "./debugcon.ts";
import { I8042, I8042_BASE, I8042_LEN } from "./i8042.ts";
import type { IrqEvent } from "./irq.ts";
import { InputPump } from "./serial/input_pump.ts";
import { openSerialOutput } from "./serial/output.ts";
import { RawTerminal } from "./serial/terminal.ts";
import { Uart16550, UART_PORT_COUNT } from "./serial/uart.ts";
import type { ShareableDevice } from "./shared_device.ts";

export interface LegacyDevices {
  readonly io: { device: ShareableDevice; base: number; len: number }[];
  /** Main thread: begins reading stdin / input files into the UARTs; puts a terminal stdin in raw mode. */
  start(): void;
  /** Stops input and restores the terminal; idempotent; safe on signal and exit paths. */
  stop(): void;
}

export interface LegacyDevicesOptions {
  /** All --serial parameters; only hardware=serial and hardware=debugcon are used here. */
  serials: SerialParameters[];
  irqFor(gsi: number): IrqEvent;
  resetEventFd: number;
  /** Guest RAM below 4 GiB, in bytes. */
  memBelow4G: number;
  /** Guest RAM above 4 GiB, in bytes. */
  memAbove4G: number;
}

/** The PC COM ports: I/O base and ISA IRQ (COM1/COM3 share IRQ 4, COM2/COM4 IRQ 3). */
export const COM_PORTS: readonly { readonly base: number; readonly irq: number }[] = [
  { base: 0x3f8, irq: 4 },
  { base: 0x2f8, irq: 3 },
  { base: 0x3e8, irq: 4 },
  { base: 0x2e8, irq: 3 },
];

export class LegacyDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LegacyDeviceError";
  }
}

function serialDefaults(num: number): SerialParameters {
  return {
    type: "sink",
    hardware: "serial",
    num,
    console: false,
    earlycon: false,
    stdin: false,
    debugconPort: 0x402,
  };
}

/**
 * crosvm's set_default_serial_parameters: when no port is the console and COM1 is not configured, COM1 becomes a
 * stdout console reading stdin; every COM port not configured becomes a sink. Returns a new list.
 */
export function withDefaultSerialParameters(serials: readonly SerialParameters[]): SerialParameters[] {
  const out = [...serials];
  const has = (num: number) => out.some((p) => p.hardware === "serial" && p.num === num);
  if (!out.some((p) => p.console) && !has(1))
    out.push({ ...serialDefaults(1), type: "stdout", console: true, stdin: true });
  for (let num = 1; num <= COM_PORTS.length; num++) if (!has(num)) out.push(serialDefaults(num));
  return out;
}

function validate(serials: readonly SerialParameters[]): void {
  const seen = new Set<string>();
  let stdinUser: SerialParameters | undefined;
  for (const p of serials) {
    if (p.hardware === "virtio-console") continue;
    if (p.hardware === "serial" && !(Number.isInteger(p.num) && p.num >= 1 && p.num <= COM_PORTS.length))
      throw new LegacyDeviceError(
        `--serial: num=${p.num} is not a COM port (hardware=serial takes num=1 to 4)`,
      );
    if (
      p.hardware === "debugcon" &&
      !(Number.isInteger(p.debugconPort) && p.debugconPort >= 0 && p.debugconPort <= 0xffff)
    )
      throw new LegacyDeviceError(
        `--serial: debugcon-port=${p.debugconPort} is not an I/O port (expected 0 to 65535)`,
      );
    const key = `${p.hardware}/${p.num}`;
    if (seen.has(key))
      throw new LegacyDeviceError(`--serial: hardware=${p.hardware},num=${p.num} is given twice`);
    seen.add(key);
    if (p.hardware === "serial" && p.stdin && !p.input) {
      if (stdinUser)
        throw new LegacyDeviceError(
          `--serial: stdin is already used by COM${stdinUser.num}; COM${p.num} cannot read it too`,
        );
      stdinUser = p;
    }
  }
}

function openInputFile(path: string, label: string): number {
  try {
    // O_NONBLOCK: Bun's stream reader treats a blocking character device (a tty given as input=/dev/ttyS2) as a
    // seekable file and fails with ESPIPE; non-blocking, it polls it. Regular files are unaffected.
    return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } catch (e) {
    throw new LegacyDeviceError(
      `${label}: cannot open input file "${path}": ${e instanceof SysError ? e.code : e}`,
    );
  }
}

interface InputSource {
  readonly fd: number;
  readonly ownsFd: boolean;
  readonly isStdin: boolean;
  readonly uart: Uart16550;
  readonly what: string;
}

export function createLegacyDevices(opts: LegacyDevicesOptions): LegacyDevices {
  const serials = withDefaultSerialParameters(opts.serials);
  validate(serials);

  const io: { device: ShareableDevice; base: number; len: number }[] = [];
  const inputs: InputSource[] = [];
  const irqs = new Map<number, IrqEvent>();
  const irqFor = (gsi: number) => {
    let irq = irqs.get(gsi);
    if (!irq) {
      irq = opts.irqFor(gsi);
      irqs.set(gsi, irq);
    }
    return irq;
  };

  try {
    for (const [i, port] of COM_PORTS.entries()) {
      const num = i + 1;
      const params = serials.find((p) => p.hardware === "serial" && p.num === num)!;
      const label = `serial COM${num}`;
      const uart = new Uart16550({ irq: irqFor(port.irq), output: openSerialOutput(params, label), label });
      io.push({ device: uart, base: port.base, len: UART_PORT_COUNT });
      if (params.input)
        inputs.push({
          fd: openInputFile(params.input, label),
          ownsFd: true,
          isStdin: false,
          uart,
          what: params.input,
        });
      else if (params.stdin) inputs.push({ fd: 0, ownsFd: false, isStdin: true, uart, what: "stdin" });
    }
    for (const params of serials.filter((p) => p.hardware === "debugcon")) {
      const label = `debugcon 0x${params.debugconPort.toString(16)}`;
      io.push({
        device: new Debugcon(openSerialOutput(params, label), label),
        base: params.debugconPort,
        len: DEBUGCON_PORT_COUNT,
      });
    }
  } catch (e) {
    for (const src of inputs) if (src.ownsFd) close(src.fd);
    throw e;
  }
  io.push({ device: new I8042(opts.resetEventFd, I8042_BASE), base: I8042_BASE, len: I8042_LEN });
  const cmos = new Cmos({ memBelow4G: opts.memBelow4G, memAbove4G: opts.memAbove4G });
  io.push({ device: cmos, base: CMOS_BASE, len: CMOS_LEN });

  return new LegacyDeviceSet(io, inputs, { cmos, irq: irqFor(RTC_IRQ) });
}

class LegacyDeviceSet implements LegacyDevices {
  #pumps: InputPump[] = [];
  #terminal: RawTerminal | undefined;
  #started = false;
  #stopped = false;
  readonly #onExit = () => this.stop();

  constructor(
    readonly io: { device: ShareableDevice; base: number; len: number }[],
    readonly inputs: readonly InputSource[],
    readonly rtc: { readonly cmos: Cmos; readonly irq: IrqEvent },
  ) {}

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    if (this.inputs.some((s) => s.isStdin)) this.#terminal = RawTerminal.enter(0);
    process.on("exit", this.#onExit);
    this.rtc.cmos.startAlarm(this.rtc.irq);
    for (const src of this.inputs) {
      const pump = new InputPump(src.fd, src.uart, src.what);
      this.#pumps.push(pump);
      pump.start();
      if (src.ownsFd) void pump.done.then(() => closeQuietly(src.fd));
    }
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const pump of this.#pumps) pump.stop();
    this.rtc.cmos.stopAlarm();
    this.#terminal?.restore();
    process.off("exit", this.#onExit);
    if (!this.#started) for (const src of this.inputs) if (src.ownsFd) closeQuietly(src.fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    close(fd);
  } catch {
    // Already closed.
  }
}
