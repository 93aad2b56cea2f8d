// The virtio-rng device kind (kind.ts): one device unless --no-rng, after the block devices and console ports
// (crosvm's order). It has no options and no files: the model reads the host's random source.
import * as v from "valibot";
import { defineDeviceKind } from "./kind.ts";
import { RNG_QUEUE_SIZE, VirtioRng } from "./rng.ts";

export const rngOptionsSchema = v.strictObject({}, "an object");

export const rngKind = defineDeviceKind({
  name: "rng",
  policy: "rng_device",
  schema: rngOptionsSchema,
  queueSizes: [RNG_QUEUE_SIZE],
  select: (config: { readonly rng: boolean }) => (config.rng ? [{}] : []),
  prepare: () => ({ label: "virtio-rng", backing: [] }),
  build: () => ({ device: new VirtioRng() }),
});
