// A typed client for a running VM's control socket, the analogue of crosvm's crosvm_control crate (and of
// vm_control::client::handle_request): one async function per request, so a TypeScript program drives VMs without
// spawning the CLI. Each call opens a connection, sends one request packet, waits for the one response packet and
// closes. Waiting never blocks the event loop: the socket is non-blocking and read on a short backoff timer
// (1 ms doubling to 16 ms), so a client and a server may live in the same process.
import { errnoName } from "../../ffi/errno.ts";
import * as libc from "../../ffi/libc.ts";
import {
  type BalloonStats,
  decodeResponse,
  encodeRequest,
  MAX_MESSAGE_SIZE,
  type VmRequest,
  type VmResponse,
} from "./protocol.ts";
import { connectSeqpacket, recvPacket, sendPacket } from "./seqpacket.ts";

export type ControlClientErrorReason =
  /** Nothing listens at the path (no such file, connection refused, not a socket, permission denied). */
  | "no-vm"
  /** The VM answered with an error (ErrString or Err). */
  | "vm-error"
  /** The VM answered something this request does not expect. */
  | "unexpected-response"
  /** The VM closed the connection, or sent something that is not a response. */
  | "protocol"
  /** No answer within `timeoutMs`. */
  | "timeout";

/** A control request that did not succeed; the message is one line naming the socket path. */
export class ControlClientError extends Error {
  constructor(
    readonly reason: ControlClientErrorReason,
    readonly socketPath: string,
    message: string,
    /** The VM's answer, for "vm-error" and "unexpected-response". */
    readonly response?: VmResponse,
  ) {
    super(message);
    this.name = "ControlClientError";
  }
}

export interface ControlClientOptions {
  /** Give up waiting for the answer after this many ms (default: wait as long as the VM takes, as crosvm). */
  readonly timeoutMs?: number;
}

// Why connect failed, in words (errno values from include/uapi/asm-generic/errno*.h).
const CONNECT_FAILURE: Readonly<Record<number, string>> = {
  2: "no such file or directory",
  13: "permission denied",
  20: "a path component is not a directory",
  91: "not a control socket (wrong socket type)",
  111: "connection refused",
};
const EAGAIN = 11;

function connectOrExplain(socketPath: string): number {
  try {
    return connectSeqpacket(socketPath);
  } catch (e) {
    if (!(e instanceof libc.SysError)) {
      throw new ControlClientError("no-vm", socketPath, `no VM at ${socketPath} (${(e as Error).message})`);
    }
    if (e.errno === EAGAIN) {
      throw new ControlClientError(
        "no-vm",
        socketPath,
        `the VM at ${socketPath} is not accepting connections (EAGAIN)`,
      );
    }
    const why = CONNECT_FAILURE[e.errno] ?? errnoName(e.errno);
    throw new ControlClientError("no-vm", socketPath, `no VM at ${socketPath} (${why})`);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends one request and resolves with the VM's response, whatever it is (crosvm handle_request).
 * Rejects with ControlClientError when there is no VM at the path, the connection breaks or the answer is not a
 * response.
 */
export async function sendRequest(
  socketPath: string,
  request: VmRequest,
  options: ControlClientOptions = {},
): Promise<VmResponse> {
  const packet = encodeRequest(request);
  const fd = connectOrExplain(socketPath);
  try {
    const sent = sendPacket(fd, packet, socketPath);
    if (sent !== "sent") {
      throw new ControlClientError(
        "protocol",
        socketPath,
        `the VM at ${socketPath} did not take the ${request.kind} request (${sent})`,
      );
    }
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 16)) {
      const received = recvPacket(fd, MAX_MESSAGE_SIZE, socketPath);
      if (received.kind === "packet") {
        const decoded = decodeResponse(received.bytes);
        if (!decoded.ok) {
          throw new ControlClientError(
            "protocol",
            socketPath,
            `the VM at ${socketPath} sent an invalid answer: ${decoded.error.message}`,
          );
        }
        return decoded.value;
      }
      if (received.kind === "oversized") {
        throw new ControlClientError(
          "protocol",
          socketPath,
          `the VM at ${socketPath} sent a ${received.size}-byte answer, over the ${MAX_MESSAGE_SIZE}-byte limit`,
        );
      }
      if (received.kind === "closed") {
        throw new ControlClientError(
          "protocol",
          socketPath,
          `the VM at ${socketPath} closed the connection without answering ${request.kind}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new ControlClientError(
          "timeout",
          socketPath,
          `the VM at ${socketPath} did not answer ${request.kind} within ${options.timeoutMs} ms`,
        );
      }
      await sleep(delay);
    }
  } catch (e) {
    if (e instanceof ControlClientError) throw e;
    throw new ControlClientError(
      "protocol",
      socketPath,
      `control socket ${socketPath}: ${(e as Error).message}`,
    );
  } finally {
    libc.close(fd);
  }
}

function vmAnsweredError(socketPath: string, request: VmRequest, response: VmResponse): ControlClientError {
  if (response.kind === "Err" || response.kind === "ErrString") {
    const detail = response.kind === "Err" ? errnoName(response.errno) : response.message;
    return new ControlClientError(
      "vm-error",
      socketPath,
      `the VM at ${socketPath} answered ${request.kind} with an error: ${detail}`,
      response,
    );
  }
  return new ControlClientError(
    "unexpected-response",
    socketPath,
    `the VM at ${socketPath} answered ${request.kind} with an unexpected ${response.kind} response`,
    response,
  );
}

/** Sends a request whose only success answer is Ok (crosvm vms_request). */
async function requestOk(
  socketPath: string,
  request: VmRequest,
  options?: ControlClientOptions,
): Promise<void> {
  const response = await sendRequest(socketPath, request, options);
  if (response.kind !== "Ok") throw vmAnsweredError(socketPath, request, response);
}

/** `crosvm stop`: ends the VM (VmRequest::Exit); it exits with status 0. */
export function stopVm(socketPath: string, options?: ControlClientOptions): Promise<void> {
  return requestOk(socketPath, { kind: "Exit" }, options);
}

export interface SuspendOptions extends ControlClientOptions {
  /** Also put the devices to sleep (SuspendVm / ResumeVm instead of SuspendVcpus / ResumeVcpus). */
  readonly full?: boolean;
}

/** `crosvm suspend [--full]`: pauses the vCPUs (and, with `full`, the devices). */
export function suspendVm(socketPath: string, options: SuspendOptions = {}): Promise<void> {
  return requestOk(socketPath, { kind: options.full ? "SuspendVm" : "SuspendVcpus" }, options);
}

/** `crosvm resume [--full]`: resumes what suspend paused. A no-op on a running VM. */
export function resumeVm(socketPath: string, options: SuspendOptions = {}): Promise<void> {
  return requestOk(socketPath, { kind: options.full ? "ResumeVm" : "ResumeVcpus" }, options);
}

/** `crosvm powerbtn`: presses the guest's ACPI power button. */
export function powerButton(socketPath: string, options?: ControlClientOptions): Promise<void> {
  return requestOk(socketPath, { kind: "Powerbtn" }, options);
}

/** `crosvm disk resize DISK_INDEX NEW_SIZE`: resizes disk `diskIndex` (0-based, in --disk/--rwdisk order) to `newSize` bytes. */
export function resizeDisk(
  socketPath: string,
  diskIndex: number,
  newSize: number,
  options?: ControlClientOptions,
): Promise<void> {
  return requestOk(
    socketPath,
    { kind: "DiskCommand", diskIndex, command: { kind: "Resize", newSize } },
    options,
  );
}

export interface BalloonAdjustOptions extends ControlClientOptions {
  /** crosvm `balloon --wait`: the VM answers once the guest reached the size (or gave up), not at once. */
  readonly wait?: boolean;
}

/** `crosvm balloon SIZE`: sets the balloon to `numBytes` bytes. */
export function balloonAdjust(
  socketPath: string,
  numBytes: number,
  options: BalloonAdjustOptions = {},
): Promise<void> {
  return requestOk(
    socketPath,
    { kind: "BalloonCommand", command: { kind: "Adjust", numBytes, waitForSuccess: options.wait ?? false } },
    options,
  );
}

export interface BalloonStatsResult {
  readonly stats: BalloonStats;
  /** The balloon's current size in bytes. */
  readonly balloonActual: number;
}

/** `crosvm balloon_stats`: the guest's memory statistics as the balloon device last reported them. */
export async function balloonStats(
  socketPath: string,
  options?: ControlClientOptions,
): Promise<BalloonStatsResult> {
  const request: VmRequest = { kind: "BalloonCommand", command: { kind: "Stats" } };
  const response = await sendRequest(socketPath, request, options);
  if (response.kind !== "BalloonStats") throw vmAnsweredError(socketPath, request, response);
  return { stats: response.stats, balloonActual: response.balloonActual };
}

/**
 * `crosvm virtio-net add TAP_NAME`: hot-plugs a virtio-net device on the TAP `tapName` into a free PCI hotplug
 * slot of the VM (started with --pci-hotplug-slots); resolves to the PCI bus it went to.
 */
export async function hotplugNetAdd(
  socketPath: string,
  tapName: string,
  options?: ControlClientOptions,
): Promise<number> {
  const request: VmRequest = { kind: "HotPlugNetCommand", command: { kind: "AddTap", tapName } };
  const response = await sendRequest(socketPath, request, options);
  if (response.kind !== "PciHotPlugResponse") throw vmAnsweredError(socketPath, request, response);
  return response.bus;
}

/** `crosvm virtio-net remove BUS`: unplugs the hot-plugged device on PCI bus `bus`; its device process ends. */
export function hotplugNetRemove(
  socketPath: string,
  bus: number,
  options?: ControlClientOptions,
): Promise<void> {
  return requestOk(socketPath, { kind: "HotPlugNetCommand", command: { kind: "RemoveTap", bus } }, options);
}
