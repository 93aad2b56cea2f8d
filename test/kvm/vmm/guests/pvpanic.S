# Finds the pvpanic device's BAR0 at 00:03.0 (after virtio-rng at 00:01.0 and virtio-balloon at 00:02.0) through 0xCF8/0xCFC, enables memory
# decoding, prints the BAR, then reports a panic by writing PVPANIC_PANICKED (1) to it and spins.
.include "prelude.inc"
.code32
main:
    mov $0x80001810, %eax       # bus 0, device 3, function 0, register 0x10 (BAR0)
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    and $0xfffffff0, %eax
    mov %eax, %ebx
    call puthex
    mov $COM1, %dx
    mov $'\n', %al
    out %al, %dx
    mov $0x80001804, %eax       # COMMAND (device 3): memory space enable
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    mov $0x2, %ax
    out %ax, %dx
    movb $1, (%ebx)
1:  jmp 1b
.include "reset_vector.inc"
