# Two vCPUs: the BSP copies a real-mode trampoline to 0x8000 and starts the AP with INIT + SIPI through the
# in-kernel local APIC (Intel SDM Vol. 3A §8.4.4.1). Each vCPU adds 1 to its own counter COUNT times (BSP at
# 0x1000, AP at 0x1004); the BSP then waits for the AP's counter, prints both and resets.
.include "prelude.inc"
.set COUNT, 20000
.set BSP_COUNTER, 0x1000
.set AP_COUNTER, 0x1004
.set TRAMPOLINE, 0x8000
.set LAPIC_SVR, 0xfee000f0
.set LAPIC_ICR_LOW, 0xfee00300
.set LAPIC_ICR_HIGH, 0xfee00310
.code32
main:
    movl $0, BSP_COUNTER
    movl $0, AP_COUNTER
    mov $ap_start, %esi
    mov $TRAMPOLINE, %edi
    mov $(ap_end - ap_start), %ecx
    rep movsb
    orl $0x1ff, LAPIC_SVR                       # software-enable the local APIC (SVR bit 8), spurious vector 0xFF;
                                                # KVM sends no IPI from a software-disabled APIC
    movl $0x01000000, LAPIC_ICR_HIGH            # destination APIC ID 1
    movl $0x00004500, LAPIC_ICR_LOW             # INIT, level assert
    movl $0x00004600 + (TRAMPOLINE >> 12), LAPIC_ICR_LOW   # STARTUP, vector 0x08 -> 0x8000
    mov $COUNT, %ecx
1:  incl BSP_COUNTER
    loop 1b
2:  pause
    cmpl $COUNT, AP_COUNTER
    jne 2b
    mov $bsp, %esi
    call puts
    mov BSP_COUNTER, %eax
    call puthex
    mov $ap, %esi
    call puts
    mov AP_COUNTER, %eax
    call puthex
    mov $nl, %esi
    call puts
    jmp reset
bsp: .asciz "bsp="
ap: .asciz " ap="
nl: .asciz "\n"

# The AP starts here in real mode at 0x0800:0000; this code only uses relative jumps, so it runs where copied.
.code16
ap_start:
    xor %ax, %ax
    mov %ax, %ds
    mov $COUNT, %ecx
1:  addr32 incl AP_COUNTER
    dec %ecx
    jnz 1b
3:  cli
    hlt
    jmp 3b
ap_end:
.include "reset_vector.inc"
