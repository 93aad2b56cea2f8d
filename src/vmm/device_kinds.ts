// Registers every shareable device kind in the importing thread (a vCPU Worker revives the Bus devices by kind).
// The legacy devices' module registry is src/devices/registry.ts; main_thread_hub.ts registers the kind through
// which Workers reach the PCI devices kept on the main thread.
import "../devices/registry.ts";
import "./main_thread_hub.ts";
