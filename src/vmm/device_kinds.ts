// Registers every shareable device kind in the importing thread (a vCPU Worker revives the Bus devices by kind).
// The legacy devices' module registry is src/devices/registry.ts.
import "../devices/registry.ts";
