# Says "powering off" and enters S5 by writing SLP_EN with SLP_TYP 0 (the DSDT's \_S5_) to PM1_CNT.
.include "prelude.inc"
.include "acpi.inc"
.code32
main:
    mov $msg, %esi
    call puts
    mov $PM1_CNT, %dx
    mov $(SCI_EN | SLP_EN), %ax
    out %ax, %dx
1:  hlt
    jmp 1b
msg: .asciz "powering off\n"
.include "reset_vector.inc"
