# Reads the vendor/device dword of bus 0, devices 0-3, through configuration mechanism #1 (0xCF8/0xCFC), prints
# each as 8 hex digits on its own line (FFFFFFFF where no device answers), then resets.
.include "prelude.inc"
.code32
main:
    xor %edi, %edi
1:  mov %edi, %eax
    shl $11, %eax
    or $0x80000000, %eax
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    call puthex
    mov $COM1, %dx
    mov $'\n', %al
    out %al, %dx
    inc %edi
    cmp $4, %edi
    jne 1b
    jmp reset
.include "reset_vector.inc"
