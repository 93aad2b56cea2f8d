// Imports every shareable device module so that their kinds are registered with registerDeviceKind in this thread.
// A vCPU Worker imports this file before reviving its Bus (see shared_device.ts).
import "./acpi/acpi_pm.ts";
import "./cmos.ts";
import "./debugcon.ts";
import "./i8042.ts";
import "./pci/config_io_presence.ts";
import "./pci/ecam_presence.ts";
import "./serial/uart.ts";
