# Says "rebooting" and writes RESET_VALUE 6 (SYS_RST | RST_CPU) to the FADT reset register at port 0xCF9.
.include "prelude.inc"
.include "acpi.inc"
.code32
main:
    mov $msg, %esi
    call puts
    mov $RESET_REG, %dx
    mov $6, %al
    out %al, %dx
1:  hlt
    jmp 1b
msg: .asciz "rebooting\n"
.include "reset_vector.inc"
