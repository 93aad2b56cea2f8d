// The one queue-processing loop every device uses: pop chains -> handle each -> add_used -> at most one
// interrupt at the end, when the driver wants one (2.7.10). A refused chain (bad descriptor) is handed back with
// length 0; a handler that throws fails only its own request; a faulted queue marks the device DEVICE_NEEDS_RESET.
// One call handles at most MAX_CHAINS_PER_BATCH chains: a guest that keeps a queue full must not keep the device
// from its other work (the device process answers its control socket between batches). A call that stops at the
// limit marks the queue (Queue.markBatchLimited) so that the caller's loop comes back to it.
import type { ChainBuffers, DescriptorChain } from "./descriptor_chain.ts";
import type { Interrupt } from "./interrupt.ts";
import type { Queue } from "./split_queue.ts";

/**
 * Most chains handled per call. Linux's virtio drivers queue up to the queue size (256 here) at once; 64 keeps a
 * batch of 4 KiB block requests at about a millisecond, and is the figure issue 9 asks for.
 */
export const MAX_CHAINS_PER_BATCH = 64;

/** Handles one good chain; returns the number of bytes written into its device-writable buffers. */
export type ChainHandler = (chain: DescriptorChain) => number;

/** Where refused chains and failed requests are reported: the device's rate-limited GuestLog (base/guest_log.ts). */
export interface QueueLog {
  warn(reason: string, message: string): void;
}

export interface ProcessOptions {
  /** Stop before popping when this returns false (e.g. a receive queue with no input left). */
  readonly more?: () => boolean;
}

/** Processes what is available on `queue`; returns how many chains were used. Never throws. */
export function processQueue(
  queue: Queue,
  interrupt: Interrupt,
  handle: ChainHandler,
  log: QueueLog,
  options: ProcessOptions = {},
): number {
  return drain(
    queue,
    interrupt,
    log,
    () => (!options.more || options.more() ? queue.pop() : undefined),
    handle,
  );
}

/** Handles one good chain given as ChainBuffers; returns the bytes written into its device-writable buffers. */
export type BuffersHandler = (chain: ChainBuffers) => number;

/**
 * Requests a device starts without waiting for them (block I/O on io_uring), so that several are in flight on the
 * host at once. A chain that cannot be started is handled at once by the handler, after every started one has
 * completed (so a FLUSH follows the writes before it). Each call of processQueue ends with none in flight.
 */
export interface InFlight<C> {
  /** Starts the request of `chain` (a good chain) and returns true, or returns false and starts nothing. */
  start(chain: C): boolean;
  /** How many were started and have not been reported yet. */
  readonly count: number;
  /** Waits for every started request and reports each as done(head, used length). Never throws. */
  complete(done: (head: number, len: number) => void): void;
}

/**
 * processQueue for a device on a hot path: each chain is read into `buffers` (reused, so no object per chain or
 * buffer) rather than into a DescriptorChain.
 */
export function processQueueBuffers(
  queue: Queue,
  interrupt: Interrupt,
  buffers: ChainBuffers,
  handle: BuffersHandler,
  log: QueueLog,
  inFlight?: InFlight<ChainBuffers>,
): number {
  return drain(queue, interrupt, log, () => (queue.popInto(buffers) ? buffers : undefined), handle, inFlight);
}

/** The loop itself, over whichever form `next` pops chains in. */
function drain<C extends { readonly head: number; readonly error: string | undefined }>(
  queue: Queue,
  interrupt: Interrupt,
  log: QueueLog,
  next: () => C | undefined,
  handle: (chain: C) => number,
  inFlight?: InFlight<C>,
): number {
  let used = 0;
  const completed = (head: number, len: number) => queue.addUsed(head, len);
  try {
    for (;;) {
      if (used === MAX_CHAINS_PER_BATCH) {
        if (queue.pending() > 0) queue.markBatchLimited();
        break;
      }
      const chain = next();
      if (!chain) break;
      used++;
      if (inFlight) {
        if (!chain.error && inFlight.start(chain)) continue;
        if (inFlight.count > 0) inFlight.complete(completed);
      }
      let len = 0;
      if (chain.error) {
        log.warn("refused chain", `refused descriptor chain ${chain.head}: ${chain.error}`);
      } else {
        try {
          len = handle(chain);
        } catch (e) {
          log.warn(
            "request failed",
            `request in descriptor chain ${chain.head} failed: ${(e as Error).message}`,
          );
        }
      }
      queue.addUsed(chain.head, len);
    }
    if (inFlight && inFlight.count > 0) inFlight.complete(completed);
  } catch (e) {
    // Rings were checked at activation, so this is a bug rather than guest input; keep the device alive.
    log.warn("queue stopped", `queue processing stopped: ${(e as Error).message}`);
  }
  if (queue.fault) interrupt.signalNeedsReset(queue.fault);
  if (used > 0 && queue.needsNotification()) interrupt.signalUsedQueue(queue.vector);
  return used;
}
