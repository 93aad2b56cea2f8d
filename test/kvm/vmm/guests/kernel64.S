# A stand-in "vmlinux" for the direct-kernel-boot path: an ELF64 image loaded at 2 MiB whose entry point, reached
# in 64-bit long mode as the Linux 64-bit boot protocol specifies, prints the boot_params address it got in RSI on
# COM1 and resets through the i8042. Linked with `ld -m elf_x86_64 -Ttext=0x200000`.
.set COM1, 0x3f8
.code64
.text
.globl _start
_start:
    mov %rsi, %r12
    lea msg(%rip), %rsi
    call puts
    mov %r12, %rax
    call puthex64
    mov $'\n', %al
    mov $COM1, %dx
    out %al, %dx
    mov $0xfe, %al
    out %al, $0x64
1:  hlt
    jmp 1b

puts:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret

puthex64:
    mov %rax, %rbx
    mov $16, %ecx
    mov $COM1, %dx
1:  rol $4, %rbx
    mov %bl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $7, %al
2:  out %al, %dx
    loop 1b
    ret

msg: .asciz "64-bit entry, boot_params at "
