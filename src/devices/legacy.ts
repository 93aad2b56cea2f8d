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
import { Cmos, CMOS_BASE, CMOS_LEN, RTC_IRQ } from "./cmos.ts";
import { Debugcon, DEBUGCON_PORT_COUNT } from "./debugcon.ts";
import { I8042, I8042_BASE, I8042_LEN } from "./i8042.ts";
import type { IrqEvent } from "./irq.ts";
import { InputPump } from "./serial/input_pump.ts";
import { openSerialOutput } from "./serial/output.ts";
import { withDefaultSerialParameters, type SerialParameters } from "./serial/parameters.ts";
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
  /**
   * The VM's serial ports, already checked against the rules of serial/parameters.ts (src/cli applies them); only
   * hardware=serial (COM1-COM4; any other num is not a COM port and is ignored) and hardware=debugcon are used here.
   */
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
