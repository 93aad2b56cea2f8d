# Prints a line on COM1, then asks the i8042 for a CPU reset.
.include "prelude.inc"
.code32
main:
    mov $msg, %esi
    call puts
    jmp reset
msg: .asciz "hello from the guest\n"
.include "reset_vector.inc"
