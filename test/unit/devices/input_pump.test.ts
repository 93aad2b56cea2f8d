import { afterEach, describe, expect, test } from "bun:test";
import { close, ioctl, O_NOCTTY, O_RDWR, open, pipe2, write } from "../../../ffi/libc.ts";
import { InputPump, type InputTarget } from "../../../src/devices/serial/input_pump.ts";
import { makeUart, LSR, RX } from "./uart_helpers.ts";

const fds: number[] = [];
afterEach(() => {
  while (fds.length) close(fds.pop()!);
});

function pipe(): [number, number] {
  const [r, w] = pipe2(0);
  fds.push(r);
  return [r, w];
}

describe("serial input pump", () => {
  test("input larger than the FIFO waits while it is full and reaches the guest whole and in order", async () => {
    const { uart, rd } = makeUart(4);
    const data = Uint8Array.from({ length: 64 }, (_, i) => 0x20 + i);
    const [r, w] = pipe();
    write(w, data);
    close(w);
    let refused = 0;
    const target: InputTarget = {
      queueInput(bytes) {
        const n = uart.queueInput(bytes);
        if (n < bytes.length) refused++;
        return n;
      },
    };
    const pump = new InputPump(r, target, "test pipe");

    pump.start();
    const got: number[] = [];
    for (let i = 0; i < 2000 && got.length < data.length; i++) {
      if (rd(LSR) & 1) got.push(rd(RX));
      else await Bun.sleep(1);
    }
    await pump.done;

    expect(refused).toBeGreaterThan(0);
    expect(got).toEqual([...data]);
  });

  test("the pump finishes at end of input", async () => {
    const { uart } = makeUart();
    const [r, w] = pipe();
    close(w);
    const pump = new InputPump(r, uart, "empty pipe");

    pump.start();

    const finished = await Promise.race([pump.done.then(() => "done"), Bun.sleep(1000).then(() => "hung")]);
    expect(finished).toBe("done");
  });

  test("stop() ends a pump waiting for input that never comes", async () => {
    const { uart } = makeUart();
    const [r, w] = pipe();
    fds.push(w);
    const pump = new InputPump(r, uart, "idle pipe");
    pump.start();
    await Bun.sleep(10);

    pump.stop();
    pump.stop();

    const finished = await Promise.race([pump.done.then(() => "done"), Bun.sleep(1000).then(() => "hung")]);
    expect(finished).toBe("done");
  });

  test("input typed into a pseudo-terminal (a character device that cannot pread) reaches the guest", async () => {
    // linux/asm-generic/ioctls.h: TIOCGPTN = _IOR('T', 0x30, unsigned int), TIOCSPTLCK = _IOW('T', 0x31, int).
    const TIOCGPTN = 0x80045430;
    const TIOCSPTLCK = 0x40045431;
    const master = open("/dev/ptmx", O_RDWR | O_NOCTTY);
    fds.push(master);
    ioctl(master, TIOCSPTLCK, new Int32Array([0]), "TIOCSPTLCK", "/dev/ptmx");
    const number = new Uint32Array(1);
    ioctl(master, TIOCGPTN, number, "TIOCGPTN", "/dev/ptmx");
    const terminal = open(`/dev/pts/${number[0]}`, O_RDWR | O_NOCTTY);
    fds.push(terminal);
    const { uart, rd } = makeUart();
    const pump = new InputPump(terminal, uart, "pseudo-terminal");

    pump.start();
    write(master, new TextEncoder().encode("hi\n"));
    const got: number[] = [];
    for (let i = 0; i < 2000 && got.length < 3; i++) {
      if (rd(LSR) & 1) got.push(rd(RX));
      else await Bun.sleep(1);
    }
    pump.stop();

    expect(String.fromCharCode(...got)).toBe("hi\n");
  });
});
