# Enables the power button event (PM1_EN.PWRBTN) with SCI_EN set, says "armed", polls PM1_STS until the button
# status bit is set (interrupts stay disabled, so the SCI itself is not taken), clears it by writing 1, says
# "power button pressed" and enters S5 as an ACPI OS does on a power button press.
.include "prelude.inc"
.include "acpi.inc"
.code32
main:
    mov $PM1_CNT, %dx
    in %dx, %ax
    or $SCI_EN, %ax
    out %ax, %dx
    mov $PM1_EN, %dx
    mov $PWRBTN, %ax
    out %ax, %dx
    mov $armed, %esi
    call puts
    mov $PM1_STS, %dx
1:  in %dx, %ax
    test $PWRBTN, %ax
    jz 1b
    mov $PWRBTN, %ax
    out %ax, %dx
    mov $pressed, %esi
    call puts
    mov $PM1_CNT, %dx
    mov $(SCI_EN | SLP_EN), %ax
    out %ax, %dx
2:  hlt
    jmp 2b
armed: .asciz "armed\n"
pressed: .asciz "power button pressed\n"
.include "reset_vector.inc"
