import { afterEach, describe, expect, test } from "bun:test";
import {
  close,
  ECHO,
  ICANON,
  ISIG,
  pipe2,
  tcgetattr,
  TERMIOS_LFLAG_OFFSET,
  TERMIOS_SIZE,
} from "../../../ffi/libc.ts";
import { RawTerminal } from "../../../src/devices/serial/terminal.ts";
import { openPty } from "./pty.ts";

const fds: number[] = [];
afterEach(() => {
  while (fds.length) close(fds.pop()!);
});

function pty() {
  const p = openPty();
  fds.push(p.master, p.slave);
  return p;
}

const lflag = (t: Uint8Array) => new DataView(t.buffer).getUint32(TERMIOS_LFLAG_OFFSET, true);

/** What stty(1) reports for the terminal, an independent reading of the same struct termios. */
function stty(path: string): string {
  return Bun.spawnSync(["stty", "-F", path, "-a"]).stdout.toString();
}

describe("terminal raw mode", () => {
  test("termios layout: c_lflag at offset 12 of a 60-byte struct holds ICANON, ECHO and ISIG of a new pty", () => {
    const { slave } = pty();

    const t = tcgetattr(slave);

    expect(t.length).toBe(TERMIOS_SIZE);
    expect(lflag(t) & (ICANON | ECHO | ISIG)).toBe(ICANON | ECHO | ISIG);
  });

  test("raw mode clears echo, canonical mode and signals, as stty sees it", () => {
    const { slave, path } = pty();

    const raw = RawTerminal.enter(slave);

    expect(raw).toBeDefined();
    expect(stty(path)).toMatch(/-isig -icanon/);
    expect(stty(path)).toMatch(/-echo /);
  });

  test("restore puts back the saved attributes and may be called twice", () => {
    const { slave } = pty();
    const before = tcgetattr(slave);
    const raw = RawTerminal.enter(slave)!;

    raw.restore();
    raw.restore();

    expect([...tcgetattr(slave)]).toEqual([...before]);
  });

  test("a descriptor that is not a terminal is left alone", () => {
    const [r, w] = pipe2(0);
    fds.push(r, w);

    expect(RawTerminal.enter(r)).toBeUndefined();
  });
});
