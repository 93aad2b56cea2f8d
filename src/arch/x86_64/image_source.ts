// A kernel or initrd image the loaders read from: a file on disk (read straight into guest memory, never copied
// whole into the JS heap) or bytes already in memory (tests, generated images).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface ImageSource {
  /** What error messages call the image: its path, or a label for in-memory images. */
  readonly name: string;
  readonly size: number;
  /** Fills `dest` with the bytes at `offset`; throws ImageReadError when the image ends first. */
  read(offset: number, dest: Uint8Array): void;
  /** Releases the file descriptor, if any. */
  close(): void;
}

export class ImageReadError extends Error {
  override name = "ImageReadError";
}

export function imageFromBytes(name: string, bytes: Uint8Array): ImageSource {
  return {
    name,
    size: bytes.length,
    read(offset, dest) {
      if (offset < 0 || offset + dest.length > bytes.length) {
        throw new ImageReadError(
          `${name}: truncated (needed bytes 0x${offset.toString(16)}..0x${(offset + dest.length).toString(16)}, ` +
            `image is 0x${bytes.length.toString(16)} bytes)`,
        );
      }
      dest.set(bytes.subarray(offset, offset + dest.length));
    },
    close() {},
  };
}

/**
 * Opens `path` for reading; throws ImageReadError naming `kind` and the path ("kernel image /boot/vmlinuz: ...")
 * when it cannot be opened or turns out shorter than needed.
 */
export function imageFromFile(path: string, kind = "image"): ImageSource {
  let fd: number;
  let size: number;
  try {
    fd = openSync(path, "r");
    size = fstatSync(fd).size;
  } catch (e) {
    throw new ImageReadError(`${kind} ${path}: cannot open (${(e as Error).message})`);
  }
  return {
    name: path,
    size,
    read(offset, dest) {
      let done = 0;
      while (done < dest.length) {
        const n = readSync(fd, dest, done, dest.length - done, offset + done);
        if (n === 0) {
          throw new ImageReadError(
            `${kind} ${path}: truncated (needed bytes 0x${offset.toString(16)}..0x${(offset + dest.length).toString(16)}, ` +
              `file is 0x${size.toString(16)} bytes)`,
          );
        }
        done += n;
      }
    },
    close() {
      closeSync(fd);
    },
  };
}
