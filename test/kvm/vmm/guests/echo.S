# Says "ready", waits for a byte on COM1 (LSR bit 0, data ready), echoes it back in a line, then resets.
.include "prelude.inc"
.code32
main:
    mov $ready, %esi
    call puts
wait:
    mov $COM1 + 5, %dx
    in %dx, %al
    test $1, %al
    jz wait
    mov $COM1, %dx
    in %dx, %al
    mov %al, %bl
    mov $got, %esi
    call puts
    mov $COM1, %dx
    mov %bl, %al
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
    jmp reset
ready: .asciz "ready\n"
got: .asciz "got: "
.include "reset_vector.inc"
