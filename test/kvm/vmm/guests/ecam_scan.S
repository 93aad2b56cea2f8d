# Reads the vendor/device dword through the PCIe ECAM window (0xF4000000): 00:00.0, 00:01.0 and 05:00.0, prints
# each as 8 hex digits on its own line, then resets.
.include "prelude.inc"
.code32
main:
    mov 0xf4000000, %eax        # bus 0, device 0
    call puthexln
    mov 0xf4008000, %eax        # bus 0, device 1 (device << 15)
    call puthexln
    mov 0xf4500000, %eax        # bus 5, device 0 (bus << 20)
    call puthexln
    jmp reset
.include "reset_vector.inc"
