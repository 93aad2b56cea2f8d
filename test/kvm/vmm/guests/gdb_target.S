# The GDB stub's test guest (test/kvm/vmm/gdb_stub.test.ts): an ELF64 "kernel" at 2 MiB whose symbols the
# debugger breaks on. It sets RAX, calls `marker` (a software breakpoint there; its first instruction sets RBX),
# reaches `second` (a hardware breakpoint), then spins until the byte `go` is set (the debugger interrupts the
# spin with Ctrl-C and writes it), then prints a line on COM1 and resets through the i8042, so a test sees that the
# guest ran on after the debugger detached. `pattern` is memory for the debugger to read.
.set COM1, 0x3f8
.code64
.text
.globl _start
_start:
    mov $0x1234abcd, %rax
    call marker
.globl second
second:
    nop
.globl spin
spin:
    cmpb $0, go(%rip)
    je spin
    lea done(%rip), %rsi
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  mov $0xfe, %al
    out %al, $0x64
3:  hlt
    jmp 3b

.globl marker
marker:
    mov $0x5678, %rbx
    ret

.globl pattern
pattern: .quad 0x1122334455667788
.globl go
go: .byte 0
done: .asciz "guest ran on after the debugger\n"
