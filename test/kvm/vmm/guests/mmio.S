# Writes and reads an address in the MMIO hole where no device lives (0xE0000000, above where the PCI BARs are placed), prints what the read returned,
# then resets.
.include "prelude.inc"
.code32
main:
    movl $0x12345678, 0xe0000000
    movl 0xe0000000, %eax
    push %eax
    mov $msg, %esi
    call puts
    pop %eax
    call puthex
    mov $'\n', %al
    mov $COM1, %dx
    out %al, %dx
    jmp reset
msg: .asciz "unmapped read returned "
.include "reset_vector.inc"
