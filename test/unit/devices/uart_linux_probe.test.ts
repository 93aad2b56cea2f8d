import { describe, expect, test } from "bun:test";
import { DLL, DLM, FCR, IER, IIR, LCR, LSR, makeUart, MCR, MSR, RX, TX } from "./uart_helpers.ts";

// The register sequences Linux's 8250 driver runs at probe time (drivers/tty/serial/8250/8250_port.c: autoconfig,
// autoconfig_16550a, size_fifo), replayed against the device: it must be taken for a 16550A with a 16-byte FIFO.
describe("Linux 8250 autoconfig", () => {
  test("the IER existence test sees 0 and then 0x0F", () => {
    const { rd, wr } = makeUart();
    const saved = rd(IER);

    wr(IER, 0);
    const scratch2 = rd(IER) & 0x0f;
    wr(IER, 0x0f);
    const scratch3 = rd(IER) & 0x0f;
    wr(IER, saved);

    expect([scratch2, scratch3]).toEqual([0, 0x0f]);
  });

  test("the loopback test reads 0x90 from MSR", () => {
    const { rd, wr } = makeUart();
    const saveMcr = rd(MCR);

    wr(MCR, 0x10 | 0x0a);
    const status = rd(MSR) & 0xf0;
    wr(MCR, saveMcr);

    expect(status).toBe(0x90);
  });

  test("enabling the FIFO makes IIR's top bits read 3 (16550A), and no EFR, 16750 or XScale is seen", () => {
    const { rd, wr } = makeUart();
    wr(LCR, 0xbf);
    wr(2, 0); // EFR when LCR=0xBF: FCR here
    wr(LCR, 0);

    wr(FCR, 0x01);
    const type = rd(IIR) >> 6;
    wr(LCR, 0x80);
    const efrA = rd(2);
    wr(LCR, 0xbf);
    const efrB = rd(2);
    wr(LCR, 0);
    wr(FCR, 0x21); // ENABLE_FIFO | 64-byte mode
    const iir16750 = rd(IIR) >> 5;
    wr(FCR, 0x01);
    wr(IER, 0x40); // UUE
    const uue = rd(IER) & 0x40;

    expect(type).toBe(3);
    expect(efrA).not.toBe(0);
    expect(efrB).not.toBe(0);
    expect(iir16750).toBe(6);
    expect(uue).toBe(0);
  });

  test("size_fifo counts 16 bytes through loopback", () => {
    const { rd, wr } = makeUart();
    wr(LCR, 0);
    const oldFcr = rd(FCR);
    const oldMcr = rd(MCR);
    wr(FCR, 0x07);
    wr(MCR, 0x10);
    wr(LCR, 0x80);
    const oldDl = rd(DLL) | (rd(DLM) << 8);
    wr(DLL, 1);
    wr(DLM, 0);
    wr(LCR, 0x03);

    for (let i = 0; i < 256; i++) wr(TX, i);
    let count = 0;
    while (rd(LSR) & 0x01 && count < 256) {
      rd(RX);
      count++;
    }
    wr(FCR, oldFcr);
    wr(MCR, oldMcr);
    wr(LCR, 0x80);
    wr(DLL, oldDl & 0xff);
    wr(DLM, oldDl >> 8);
    wr(LCR, 0x03);

    expect(count).toBe(16);
  });

  test("the THRE re-assertion test at port startup finds no THRE bug", () => {
    const { rd, wr } = makeUart();

    wr(IER, 0x02);
    const iir1 = rd(IIR);
    wr(IER, 0);
    wr(IER, 0x02);
    const iir = rd(IIR);
    wr(IER, 0);

    const bugThre = !(iir1 & 0x01) && (iir & 0x01) !== 0;
    expect(bugThre).toBe(false);
    expect(iir & 0x0f).toBe(0x02);
  });
});
