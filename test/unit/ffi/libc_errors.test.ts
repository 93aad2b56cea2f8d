import { describe, expect, test } from "bun:test";
import { errnoName, errnoValue } from "../../../ffi/errno.ts";
import * as libc from "../../../ffi/libc.ts";

describe("libc bindings", () => {
  test("a failed call names the call, the object and errno's name", () => {
    expect(() => libc.open("/nonexistent/crosvm-test", libc.O_RDONLY)).toThrow(
      "open on /nonexistent/crosvm-test failed: ENOENT",
    );
  });

  test("errno names match the kernel's asm-generic numbering", () => {
    expect(errnoName(13)).toBe("EACCES");
    expect(errnoName(38)).toBe("ENOSYS");
    expect(errnoValue("EPERM")).toBe(1);
    expect(errnoName(99999)).toBe("errno 99999");
  });

  test("a memfd mapped MAP_SHARED twice shows writes through both mappings", () => {
    const fd = libc.memfdCreate("crosvm-test", libc.MFD_CLOEXEC);
    libc.ftruncate(fd, 4096, "memfd");
    const prot = libc.PROT_READ | libc.PROT_WRITE;
    const a = libc.viewOf(libc.mmap(4096, prot, libc.MAP_SHARED, fd, 0, "first"), 4096);
    const b = libc.viewOf(libc.mmap(4096, prot, libc.MAP_SHARED, fd, 0, "second"), 4096);

    a[100] = 42;

    expect(b[100]).toBe(42);
    libc.close(fd);
  });

  test("an eventfd counts writes until it is read", () => {
    const fd = libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK);

    libc.eventfdWrite(fd, 2n);
    libc.eventfdWrite(fd, 3n);

    expect(libc.eventfdRead(fd)).toBe(5n);
    expect(libc.eventfdRead(fd)).toBe(0n);
    libc.close(fd);
  });

  test("mmap of a bad fd fails with EBADF naming the mapping", () => {
    expect(() => libc.mmap(4096, libc.PROT_READ, libc.MAP_SHARED, 987654, 0, "guest RAM")).toThrow(
      "mmap on guest RAM failed: EBADF",
    );
  });
});
