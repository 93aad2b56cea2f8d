// The VHOST_SET_VRING_ERR eventfd as a poll source (src/devices/virtio/vhost/error_source.ts), over a real eventfd.
import { afterEach, expect, test } from "bun:test";
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd, eventfdWrite } from "../../../../ffi/libc.ts";
import { vhostErrorSource } from "../../../../src/devices/virtio/vhost/error_source.ts";

const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) close(fd);
});

function errorFd(): number {
  const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fds.push(fd);
  return fd;
}

test("a signal from the kernel reaches the device once and the source stays polled", () => {
  const fd = errorFd();
  let errors = 0;
  const source = vhostErrorSource(fd, () => errors++);
  eventfdWrite(fd, 3n);

  const keep = source.onReadable();
  source.onReadable();

  expect([keep, errors]).toEqual([true, 1]);
});

test("a wakeup with nothing signalled reports no error", () => {
  let errors = 0;
  const source = vhostErrorSource(errorFd(), () => errors++);

  source.onReadable();

  expect(errors).toBe(0);
});
