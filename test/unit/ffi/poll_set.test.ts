import { expect, test } from "bun:test";
import { closeSync } from "node:fs";
import { EFD_NONBLOCK, eventfd, eventfdConsume, eventfdWrite, POLLIN, PollSet } from "../../../ffi/libc.ts";

test("PollSet reports POLLIN only for the signalled eventfd", () => {
  const quiet = eventfd(0, EFD_NONBLOCK);
  const loud = eventfd(0, EFD_NONBLOCK);
  const set = new PollSet();
  set.set([quiet, loud], POLLIN);
  eventfdWrite(loud);

  const ready = set.wait(1000);

  expect([ready, set.revents(0), set.revents(1)]).toEqual([1, 0, POLLIN]);
  closeSync(quiet);
  closeSync(loud);
});

test("PollSet grows past its initial capacity and keeps every entry", () => {
  const fds = Array.from({ length: 20 }, () => eventfd(0, EFD_NONBLOCK));
  const set = new PollSet();
  set.set(fds, POLLIN);
  eventfdWrite(fds[19]!);

  set.wait(1000);

  expect([set.count, set.revents(18), set.revents(19)]).toEqual([20, 0, POLLIN]);
  for (const fd of fds) closeSync(fd);
});

test("PollSet reports nothing after a timeout", () => {
  const fd = eventfd(0, EFD_NONBLOCK);
  const set = new PollSet();
  set.set([fd], POLLIN);

  expect([set.wait(0), set.revents(0)]).toEqual([0, 0]);
  closeSync(fd);
});

test("eventfdConsume is true once after a signal, then false", () => {
  const fd = eventfd(0, EFD_NONBLOCK);
  eventfdWrite(fd, 3n);

  expect([eventfdConsume(fd), eventfdConsume(fd)]).toEqual([true, false]);
  closeSync(fd);
});
