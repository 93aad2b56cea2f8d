import { describe, expect, test } from "bun:test";
import { Uart16550 } from "../../../src/devices/serial/uart.ts";
import {
  CollectingOutput,
  FCR,
  IER,
  IIR,
  LCR,
  LSR,
  makeUart,
  MCR,
  MSR,
  RX,
  SCR,
  TX,
  DLL,
  DLM,
} from "./uart_helpers.ts";

const text = (s: string) => new TextEncoder().encode(s);

describe("16550A UART registers", () => {
  test("the divisor latch is read and written through offsets 0 and 1 while DLAB is set", () => {
    const { rd, wr } = makeUart();

    wr(LCR, 0x83);
    wr(DLL, 0x01);
    wr(DLM, 0x02);
    const latch = [rd(DLL), rd(DLM)];
    wr(LCR, 0x03);

    expect(latch).toEqual([0x01, 0x02]);
    expect(rd(IER)).toBe(0); // offset 1 is IER again, untouched by the divisor write
  });

  test("the divisor starts at 12 (9600 baud) as crosvm's does", () => {
    const { rd, wr } = makeUart();

    wr(LCR, 0x80);

    expect(rd(DLL) | (rd(DLM) << 8)).toBe(12);
  });

  test("a THR write while DLAB is set goes to the divisor, not to the output", () => {
    const { output, wr } = makeUart();

    wr(LCR, 0x80);
    wr(TX, 0x41);

    expect(output.bytes).toEqual([]);
  });

  test("LSR reports the transmitter empty and idle after a write", () => {
    const { rd, wr } = makeUart();

    wr(TX, 0x41);

    expect(rd(LSR)).toBe(0x60);
  });

  test("LSR reports data ready after input arrives and clears it once the input is read", () => {
    const { uart, rd } = makeUart();

    uart.queueInput(text("ab"));
    const before = rd(LSR);
    const bytes = [rd(RX), rd(RX)];

    expect(before & 0x01).toBe(1);
    expect(bytes).toEqual([0x61, 0x62]);
    expect(rd(LSR) & 0x01).toBe(0);
  });

  test("IIR reports no interrupt and no FIFO bits at power-on", () => {
    const { rd } = makeUart();

    expect(rd(IIR)).toBe(0x01);
  });

  test("IIR carries the FIFO-enabled bits 0xC0 once FCR enables the FIFOs", () => {
    const { rd, wr } = makeUart();

    wr(FCR, 0x01);
    const enabled = rd(IIR);
    wr(FCR, 0x00);

    expect(enabled).toBe(0xc1);
    expect(rd(IIR)).toBe(0x01);
  });

  test("IIR prefers received data over THR empty", () => {
    const { uart, rd, wr } = makeUart();
    wr(IER, 0x03);
    uart.queueInput(text("x"));

    expect(rd(IIR) & 0x0f).toBe(0x04);
    rd(RX);
    expect(rd(IIR) & 0x0f).toBe(0x02);
  });

  test("IIR prefers line status over received data", () => {
    const { rd, wr } = makeUart();
    wr(IER, 0x05); // RDI | RLSI
    wr(MCR, 0x10); // loopback
    for (let i = 0; i < 17; i++) wr(TX, i); // one more than the 16-byte FIFO: overrun

    expect(rd(IIR) & 0x0f).toBe(0x06);
    expect(rd(LSR) & 0x02).toBe(0x02); // OE, cleared by this read
    expect(rd(IIR) & 0x0f).toBe(0x04);
  });

  test("IIR reports THR empty below received data and above modem status", () => {
    const { rd, wr } = makeUart();
    wr(IER, 0x0a); // THRI | MSI
    wr(MCR, 0x18); // loopback: the modem lines change

    expect(rd(IIR) & 0x0f).toBe(0x02); // THR empty wins; reading IIR acknowledges it
    expect(rd(IIR) & 0x0f).toBe(0x00); // then modem status
    rd(MSR);
    expect(rd(IIR) & 0x0f).toBe(0x01);
  });

  test("no interrupt is raised while IER is zero", () => {
    const { uart, irq, wr } = makeUart();

    wr(TX, 0x41);
    uart.queueInput(text("x"));

    expect(irq.count).toBe(0);
  });

  test("each THR write raises an interrupt when IER enables THR empty", () => {
    const { irq, wr } = makeUart();
    wr(IER, 0x02);
    const afterEnable = irq.count;

    wr(TX, 0x41);
    wr(TX, 0x42);

    expect(afterEnable).toBe(1); // enabling THRI with THR empty raises it at once
    expect(irq.count).toBe(3);
  });

  test("arriving input raises one interrupt when IER enables received data", () => {
    const { uart, irq, wr } = makeUart();
    wr(IER, 0x01);

    uart.queueInput(text("a"));
    uart.queueInput(text("b")); // data already pending: no new edge

    expect(irq.count).toBe(1);
  });

  test("enabling received-data interrupts with data waiting raises one", () => {
    const { uart, irq, wr } = makeUart();
    uart.queueInput(text("a"));

    wr(IER, 0x01);

    expect(irq.count).toBe(1);
  });

  test("reading IIR acknowledges THR empty until IER re-enables it", () => {
    const { irq, rd, wr } = makeUart();
    wr(IER, 0x02);

    expect(rd(IIR) & 0x0f).toBe(0x02);
    expect(rd(IIR) & 0x0f).toBe(0x01);
    wr(IER, 0x00);
    wr(IER, 0x02);
    expect(rd(IIR) & 0x0f).toBe(0x02);
    expect(irq.count).toBe(2);
  });

  test("IER keeps only its low four bits", () => {
    const { rd, wr } = makeUart();

    wr(IER, 0xff);

    expect(rd(IER)).toBe(0x0f);
  });

  test("loopback mode sends written bytes back to the receiver instead of the output", () => {
    const { output, rd, wr } = makeUart();

    wr(MCR, 0x10);
    wr(TX, 0x5a);

    expect(output.bytes).toEqual([]);
    expect(rd(LSR) & 0x01).toBe(1);
    expect(rd(RX)).toBe(0x5a);
  });

  test("in loopback mode MSR reflects the MCR outputs as Linux's 8250 probe expects", () => {
    const { rd, wr } = makeUart();

    wr(MCR, 0x1a); // LOOP | OUT2 | RTS, the value serial8250's autoconfig writes

    expect(rd(MSR) & 0xf0).toBe(0x90); // DCD | CTS
  });

  test("MSR outside loopback reports DCD, DSR and CTS", () => {
    const { rd } = makeUart();

    expect(rd(MSR)).toBe(0xb0);
  });

  test("MSR delta bits report a line change once", () => {
    const { rd, wr } = makeUart();

    wr(MCR, 0x10); // loopback with all outputs low: DSR, CTS and DCD drop

    expect(rd(MSR)).toBe(0x0b); // DDCD | DDSR | DCTS
    expect(rd(MSR)).toBe(0x00);
  });

  test("host input waits while the UART is in loopback mode", () => {
    const { uart, rd, wr } = makeUart();
    wr(MCR, 0x10);
    uart.queueInput(text("h"));

    const inLoop = rd(LSR) & 0x01;
    wr(MCR, 0x08);

    expect(inLoop).toBe(0);
    expect(rd(RX)).toBe(0x68);
  });

  test("the scratch register keeps what was written", () => {
    const { rd, wr } = makeUart();

    wr(SCR, 0xa5);

    expect(rd(SCR)).toBe(0xa5);
  });

  test("FCR receiver clear empties the UART's receive FIFO", () => {
    const { rd, wr } = makeUart();
    wr(MCR, 0x10);
    wr(TX, 1);
    wr(TX, 2);

    wr(FCR, 0x03);

    expect(rd(LSR) & 0x01).toBe(0);
  });

  test("FCR receiver clear without the enable bit is ignored, as on the 16550A", () => {
    const { rd, wr } = makeUart();
    wr(MCR, 0x10);
    wr(TX, 1);

    wr(FCR, 0x02);

    expect(rd(LSR) & 0x01).toBe(1);
  });

  test("LCR and MCR read back what was written (MCR keeps its five defined bits)", () => {
    const { rd, wr } = makeUart();

    wr(LCR, 0x1b);
    wr(MCR, 0xeb);

    expect(rd(LCR)).toBe(0x1b);
    expect(rd(MCR)).toBe(0x0b);
  });

  test("a wider-than-byte access is ignored and reads zero", () => {
    const { rd, uart } = makeUart();
    const wide = new Uint8Array([9, 9]);

    uart.write(7, Uint8Array.of(1, 2));
    uart.read(7, wide);

    expect(rd(SCR)).toBe(0);
    expect([...wide]).toEqual([0, 0]);
  });
});

describe("16550A UART data path", () => {
  test("bytes written to THR reach the output back end in order", () => {
    const { output, wr } = makeUart();

    for (const c of text("hi\n")) wr(TX, c);

    expect(output.text()).toBe("hi\n");
  });

  test("queueInput takes only what fits in a full FIFO and keeps order", () => {
    const { uart, rd } = makeUart(4);

    const first = uart.queueInput(text("abcdef"));
    const whenFull = uart.queueInput(text("ef"));
    rd(RX);
    const afterRead = uart.queueInput(text("ef"));

    expect(first).toBe(4);
    expect(whenFull).toBe(0);
    expect(afterRead).toBe(1);
    expect([rd(RX), rd(RX), rd(RX), rd(RX)]).toEqual([...text("bcde")]);
  });

  test("reading RX with nothing received returns zero", () => {
    const { rd } = makeUart();

    expect(rd(RX)).toBe(0);
  });

  test("an interrupt that cannot be raised is logged, not thrown into the vCPU loop", () => {
    const failing = {
      eventFd: -1,
      trigger: () => {
        throw new Error("eventfd gone");
      },
    };
    const uart = new Uart16550({ irq: failing, output: new CollectingOutput() });

    expect(() => uart.write(IER, Uint8Array.of(0x02))).not.toThrow();
  });
});
