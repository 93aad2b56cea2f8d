// Shared helpers for the UART tests: a UART with a recording IRQ and an output that keeps what it was given.
import { RecordingIrq } from "../../../src/devices/irq.ts";
import type { SerialOutput, SerialOutputShare } from "../../../src/devices/serial/output.ts";
import { Uart16550 } from "../../../src/devices/serial/uart.ts";

export class CollectingOutput implements SerialOutput {
  readonly bytes: number[] = [];
  write(bytes: Uint8Array): void {
    this.bytes.push(...bytes);
  }
  share(): SerialOutputShare {
    return { kind: "sink" };
  }
  text(): string {
    return String.fromCharCode(...this.bytes);
  }
}

export function makeUart(inputCapacity?: number) {
  const irq = new RecordingIrq();
  const output = new CollectingOutput();
  const uart = new Uart16550({ irq, output, label: "test uart", inputCapacity });
  const rd = (offset: number) => {
    const d = new Uint8Array(1);
    uart.read(offset, d);
    return d[0]!;
  };
  const wr = (offset: number, v: number) => uart.write(offset, Uint8Array.of(v));
  return { uart, irq, output, rd, wr };
}

// Register offsets, Linux include/uapi/linux/serial_reg.h.
export const RX = 0;
export const TX = 0;
export const DLL = 0;
export const DLM = 1;
export const IER = 1;
export const IIR = 2;
export const FCR = 2;
export const LCR = 3;
export const MCR = 4;
export const LSR = 5;
export const MSR = 6;
export const SCR = 7;
