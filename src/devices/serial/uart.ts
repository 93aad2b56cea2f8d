// A 16550A UART at 8 I/O ports (COM1-4), following crosvm's devices/src/serial.rs with the register semantics of the
// TI PC16550D datasheet where crosvm simplifies (interrupt priorities, FIFO control, LSR error bits, MSR deltas).
// Register numbers and bits: Linux include/uapi/linux/serial_reg.h.
//
// Receive path: host input (stdin or an input file, pushed by the main thread with queueInput) waits in a bounded
// shared FIFO and enters the UART one byte at a time as the guest reads RBR, the way a flow-controlled line would:
// queueInput takes only what fits and the caller keeps the rest until there is room, so no host byte is ever dropped.
// A guest FIFO reset (FCR) therefore discards only bytes the UART itself holds: those looped back in loopback mode.
// Transmit is instantaneous: each THR write goes straight to the output back end, so LSR always reports THRE|TEMT.
//
// Interrupts are edges on the IrqEvent (an irqfd). Like crosvm, the device raises an edge when an enabled source
// becomes pending: a THR write completes with ETBEI set, data arrives with ERBFI set, IER enables a source whose
// condition is present, a line error or modem-status change occurs with its enable bit set. IIR then reports the
// highest-priority pending source (line status > received data > THR empty > modem status) as the Linux 8250 driver
// expects when it loops on IIR until "no interrupt pending".
import { GuestLog } from "../../base/guest_log.ts";
import { logger } from "../../base/log.ts";
import { SharedMutex } from "../../base/shared_mutex.ts";
import { EventFdIrq, type IrqEvent } from "../irq.ts";
import { registerDeviceKind, type DeviceShare, type ShareableDevice } from "../shared_device.ts";
import { SharedByteFifo } from "./byte_fifo.ts";
import {
  isSerialOutputShare,
  reviveSerialOutput,
  type SerialOutput,
  type SerialOutputShare,
} from "./output.ts";

const log = logger("devices::serial");

export const UART_KIND = "serial-16550";
/** The UART decodes 8 consecutive I/O ports. */
export const UART_PORT_COUNT = 8;
/** Host input waiting for the guest; stdin bursts (a pasted line, an input file) wait here, the rest upstream. */
export const DEFAULT_INPUT_CAPACITY = 4096;
/** The 16550A's receive FIFO depth (PC16550D datasheet, "FIFO mode"); bounds the loopback FIFO. */
export const LOOPBACK_FIFO_DEPTH = 16;

// Register offsets (DLAB=0 / DLAB=1 where they differ).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

export const IER_RDI = 0x01; // received data available
export const IER_THRI = 0x02; // THR empty
export const IER_RLSI = 0x04; // receiver line status
export const IER_MSI = 0x08; // modem status
const IER_MASK = 0x0f; // bits 4-7 read as 0 on a 16550A (Linux's XScale probe relies on UUE not sticking)

export const IIR_NO_INT = 0x01;
export const IIR_MSI = 0x00;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_RLSI = 0x06;
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_ENABLE_FIFO = 0x01;
export const FCR_CLEAR_RCVR = 0x02;
export const FCR_CLEAR_XMIT = 0x04;
const FCR_STORED = 0xc9; // enable, DMA mode, trigger level; the clear bits self-clear

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
const LSR_ERRORS = 0x1e; // OE | PE | FE | BI, cleared by reading LSR
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;

export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

// Power-on values as crosvm sets them.
const DEFAULT_LCR = 0x03; // 8 data bits
const DEFAULT_MCR = MCR_OUT2;
const DEFAULT_MSR_LINES = MSR_DSR | MSR_CTS | MSR_DCD; // the host side is always connected and ready
const DEFAULT_DIVISOR = 12; // 115200 / 12 = 9600 baud

// Layout of the shared register block.
const S_IER = 0;
const S_LCR = 1;
const S_MCR = 2;
const S_LSR_ERRORS = 3;
const S_MSR_DELTAS = 4;
const S_SCR = 5;
const S_DLL = 6;
const S_DLM = 7;
const S_FCR = 8;
const S_THR_PENDING = 9; // the THR-empty interrupt condition (cleared by reading IIR or writing THR)
const STATE_BYTES = 16;

// Interrupt sources as bits, in priority order.
const SRC_LINE = 1;
const SRC_RX = 2;
const SRC_TX = 4;
const SRC_MODEM = 8;

export interface UartOptions {
  irq: IrqEvent;
  output: SerialOutput;
  /** For logs, e.g. "serial COM1". */
  label?: string;
  inputCapacity?: number;
}

export interface UartState {
  readonly label: string;
  readonly irqFd: number;
  readonly output: SerialOutputShare;
  readonly regs: SharedArrayBuffer;
  readonly input: SharedArrayBuffer;
  readonly loopback: SharedArrayBuffer;
  readonly mutex: SharedArrayBuffer;
}

export class Uart16550 implements ShareableDevice {
  readonly debugLabel: string;
  readonly mutex: SharedMutex;
  readonly #irq: IrqEvent;
  readonly #output: SerialOutput;
  readonly #regs: Uint8Array;
  readonly #input: SharedByteFifo;
  readonly #loopback: SharedByteFifo;

  /** A UART in its power-on state; `shared` (internal) adopts the state of another thread's instance instead. */
  constructor(opts: UartOptions, shared?: UartState) {
    this.debugLabel = opts.label ?? "serial";
    this.#irq = opts.irq;
    this.#output = opts.output;
    this.mutex = new SharedMutex(shared?.mutex);
    this.#regs = new Uint8Array(shared?.regs ?? new SharedArrayBuffer(STATE_BYTES));
    this.#input = shared
      ? new SharedByteFifo(shared.input)
      : SharedByteFifo.create(opts.inputCapacity ?? DEFAULT_INPUT_CAPACITY);
    this.#loopback = shared
      ? new SharedByteFifo(shared.loopback)
      : SharedByteFifo.create(LOOPBACK_FIFO_DEPTH);
    if (shared) return;
    const r = this.#regs;
    r[S_LCR] = DEFAULT_LCR;
    r[S_MCR] = DEFAULT_MCR;
    r[S_DLL] = DEFAULT_DIVISOR & 0xff;
    r[S_DLM] = DEFAULT_DIVISOR >> 8;
  }

  /** Rebuilds, in this thread, the UART another thread described with share(). */
  static revive(state: unknown): Uart16550 {
    if (!isUartState(state)) throw new Error(`device kind "${UART_KIND}": malformed shared state`);
    // A UART shared without an eventfd (a unit test's RecordingIrq) raises nothing in the reviving thread.
    const irq: IrqEvent = state.irqFd >= 0 ? new EventFdIrq(state.irqFd) : { eventFd: -1, trigger() {} };
    return new Uart16550({ irq, output: reviveSerialOutput(state.output), label: state.label }, state);
  }

  share(): DeviceShare {
    const state: UartState = {
      label: this.debugLabel,
      irqFd: this.#irq.eventFd,
      output: this.#output.share(),
      regs: this.#regs.buffer as SharedArrayBuffer,
      input: this.#input.buffer,
      loopback: this.#loopback.buffer,
      mutex: this.mutex.buffer,
    };
    return { kind: UART_KIND, state };
  }

  read(offset: number, data: Uint8Array): void {
    if (data.length !== 1) {
      data.fill(0);
      return;
    }
    data[0] = this.#readRegister(offset);
  }

  write(offset: number, data: Uint8Array): void {
    if (data.length !== 1) return; // like crosvm, only byte accesses reach the registers
    this.#writeRegister(offset, data[0]!);
  }

  /**
   * Main thread: offers host input to the guest. Takes as many bytes as the input FIFO has room for and returns that
   * count; the caller must keep the rest and offer it again later.
   */
  queueInput(bytes: Uint8Array): number {
    if (bytes.length === 0) return 0;
    return this.mutex.with(() => {
      const before = this.#pendingSources();
      const taken = this.#input.push(bytes);
      this.#raiseIfNew(before);
      return taken;
    });
  }

  #dlab(): boolean {
    return (this.#regs[S_LCR]! & LCR_DLAB) !== 0;
  }

  #loop(): boolean {
    return (this.#regs[S_MCR]! & MCR_LOOP) !== 0;
  }

  #dataReady(): boolean {
    return this.#loopback.length > 0 || (!this.#loop() && this.#input.length > 0);
  }

  /** The modem input lines: the host's fixed lines, or in loopback mode the MCR outputs wired back (datasheet). */
  #modemLines(mcr: number): number {
    if ((mcr & MCR_LOOP) === 0) return DEFAULT_MSR_LINES;
    let lines = 0;
    if (mcr & MCR_DTR) lines |= MSR_DSR;
    if (mcr & MCR_RTS) lines |= MSR_CTS;
    if (mcr & MCR_OUT1) lines |= MSR_RI;
    if (mcr & MCR_OUT2) lines |= MSR_DCD;
    return lines;
  }

  /** Enabled sources whose condition holds, as SRC_* bits. */
  #pendingSources(): number {
    const r = this.#regs;
    const ier = r[S_IER]!;
    let m = 0;
    if (ier & IER_RLSI && r[S_LSR_ERRORS]! & LSR_ERRORS) m |= SRC_LINE;
    if (ier & IER_RDI && this.#dataReady()) m |= SRC_RX;
    if (ier & IER_THRI && r[S_THR_PENDING]) m |= SRC_TX;
    if (ier & IER_MSI && r[S_MSR_DELTAS]! & 0x0f) m |= SRC_MODEM;
    return m;
  }

  #raiseIfNew(before: number): void {
    if ((this.#pendingSources() & ~before) === 0) return;
    try {
      this.#irq.trigger();
    } catch (e) {
      new GuestLog(log, this.debugLabel).error(
        "interrupt",
        `raising the interrupt failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  #readRegister(offset: number): number {
    const r = this.#regs;
    switch (offset) {
      case RBR_THR_DLL:
        return this.#dlab() ? r[S_DLL]! : this.#receive();
      case IER_DLM:
        return this.#dlab() ? r[S_DLM]! : r[S_IER]!;
      case IIR_FCR:
        return this.#identify();
      case LCR:
        return r[S_LCR]!;
      case MCR:
        return r[S_MCR]!;
      case LSR: {
        const v = (this.#dataReady() ? LSR_DR : 0) | r[S_LSR_ERRORS]! | LSR_THRE | LSR_TEMT;
        r[S_LSR_ERRORS] = 0;
        return v;
      }
      case MSR: {
        const v = this.#modemLines(r[S_MCR]!) | r[S_MSR_DELTAS]!;
        r[S_MSR_DELTAS] = 0;
        return v;
      }
      case SCR:
        return r[S_SCR]!;
      default:
        return 0;
    }
  }

  #receive(): number {
    const looped = this.#loopback.pop();
    if (looped !== undefined) return looped;
    if (this.#loop()) return 0;
    return this.#input.pop() ?? 0;
  }

  #identify(): number {
    const pending = this.#pendingSources();
    let id = IIR_NO_INT;
    if (pending & SRC_LINE) id = IIR_RLSI;
    else if (pending & SRC_RX) id = IIR_RDI;
    else if (pending & SRC_TX) {
      id = IIR_THRI;
      this.#regs[S_THR_PENDING] = 0; // reading IIR acknowledges a THR-empty interrupt it reports
    } else if (pending & SRC_MODEM) id = IIR_MSI;
    const fifo = this.#regs[S_FCR]! & FCR_ENABLE_FIFO ? IIR_FIFO_ENABLED : 0;
    return id | fifo;
  }

  #writeRegister(offset: number, v: number): void {
    const r = this.#regs;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.#dlab()) r[S_DLL] = v;
        else this.#transmit(v);
        return;
      case IER_DLM:
        if (this.#dlab()) r[S_DLM] = v;
        else this.#setIer(v);
        return;
      case IIR_FCR:
        this.#setFcr(v);
        return;
      case LCR:
        r[S_LCR] = v;
        return;
      case MCR:
        this.#setMcr(v);
        return;
      case SCR:
        r[S_SCR] = v;
        return;
      default:
        return; // LSR and MSR are read-only (factory test registers on real parts)
    }
  }

  #transmit(v: number): void {
    const r = this.#regs;
    r[S_THR_PENDING] = 0; // writing THR clears a THR-empty interrupt
    const before = this.#pendingSources();
    if (this.#loop()) {
      if (this.#loopback.push(Uint8Array.of(v)) === 0) r[S_LSR_ERRORS] = r[S_LSR_ERRORS]! | LSR_OE;
    } else {
      this.#output.write(Uint8Array.of(v));
    }
    r[S_THR_PENDING] = 1; // the byte left at once: THR is empty again
    this.#raiseIfNew(before);
  }

  #setIer(v: number): void {
    const r = this.#regs;
    const before = this.#pendingSources();
    const old = r[S_IER]!;
    const ier = v & IER_MASK;
    r[S_IER] = ier;
    // Enabling ETBEI while THR is empty raises THR-empty again even if an IIR read acknowledged it (QEMU and Bochs
    // do this on the rising edge; Linux's THRE test at port startup depends on it).
    if ((old ^ ier) & IER_THRI) r[S_THR_PENDING] = ier & IER_THRI ? 1 : 0;
    this.#raiseIfNew(before);
  }

  #setFcr(v: number): void {
    // FCR bit 0 must be set for the other bits to take effect (PC16550D datasheet, FCR).
    if ((v & FCR_ENABLE_FIFO) === 0) {
      this.#regs[S_FCR] = 0;
      return;
    }
    this.#regs[S_FCR] = v & FCR_STORED;
    if (v & FCR_CLEAR_RCVR) this.#loopback.clear();
    // FCR_CLEAR_XMIT: the transmitter never holds bytes.
  }

  #setMcr(v: number): void {
    const r = this.#regs;
    const before = this.#pendingSources();
    const oldLines = this.#modemLines(r[S_MCR]!);
    const mcr = v & MCR_MASK;
    r[S_MCR] = mcr;
    const newLines = this.#modemLines(mcr);
    const changed = oldLines ^ newLines;
    let deltas = r[S_MSR_DELTAS]!;
    if (changed & MSR_CTS) deltas |= MSR_DCTS;
    if (changed & MSR_DSR) deltas |= MSR_DDSR;
    if (changed & MSR_DCD) deltas |= MSR_DDCD;
    if (oldLines & MSR_RI && !(newLines & MSR_RI)) deltas |= MSR_TERI;
    r[S_MSR_DELTAS] = deltas;
    this.#raiseIfNew(before);
  }
}

function isUartState(v: unknown): v is UartState {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.label === "string" &&
    Number.isInteger(s.irqFd) &&
    isSerialOutputShare(s.output) &&
    s.regs instanceof SharedArrayBuffer &&
    s.regs.byteLength >= STATE_BYTES &&
    s.input instanceof SharedArrayBuffer &&
    s.loopback instanceof SharedArrayBuffer &&
    s.mutex instanceof SharedArrayBuffer
  );
}

registerDeviceKind(UART_KIND, (state) => Uart16550.revive(state));
