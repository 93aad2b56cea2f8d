# Exit-cost benchmark guest: a flat 64 KiB --bios image (linked at 0xFFFF0000) that switches to 32-bit protected
# mode and then writes the COM1 scratch register (port 0x3FF) EXITS times: one KVM_EXIT_IO per write. Then it
# loops forever; the host stops after EXITS exits.
.set EXITS, 200000
.code16
.text
.globl _start
_start:
start16:
    cli
    lgdtl %cs:(gdt_desc - _start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $start32
.code32
start32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x3ff, %dx
    mov $EXITS, %ecx
1:  mov %cl, %al
    out %al, %dx
    loop 1b
2:  jmp 2b
.balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
.code16
.org 0xfff0
    jmp start16
.org 0x10000
