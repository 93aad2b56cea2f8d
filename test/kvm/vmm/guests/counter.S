# Prints "tick N" (N as 8 hex digits) on COM1 every 50 ms, forever: a guest whose progress shows on the serial
# port, for pausing and resuming the vCPUs. The 50 ms come from the in-kernel i8254 PIT: channel 0 as a rate
# generator (mode 2) counting PERIOD input clocks of 1.193182 MHz; the guest polls the latched count and waits for
# it to reload. Interrupts stay disabled, so the PIT's IRQ 0 is never taken.
.include "prelude.inc"
.set PIT_CH0, 0x40
.set PIT_CMD, 0x43
.set PERIOD, 59659              # 50 ms at 1.193182 MHz
.code32
main:
    mov $0x34, %al              # channel 0, lobyte/hibyte, mode 2, binary
    out %al, $PIT_CMD
    mov $(PERIOD & 0xff), %al
    out %al, $PIT_CH0
    mov $(PERIOD >> 8), %al
    out %al, $PIT_CH0
    xor %edi, %edi
next:
    mov $tick, %esi
    call puts
    mov %edi, %eax
    call puthex
    mov $'\n', %al
    out %al, %dx
    inc %edi
    call wait_period
    jmp next

# Returns once the PIT channel 0 count has reloaded (it counts down, so a reload reads larger than before).
wait_period:
    call pit_count
    mov %ax, %bx
1:  call pit_count
    cmp %bx, %ax
    mov %ax, %bx
    jbe 1b
    ret

# AX = channel 0's current count (counter latch command, then low and high byte).
pit_count:
    xor %al, %al
    out %al, $PIT_CMD
    in $PIT_CH0, %al
    mov %al, %ah
    in $PIT_CH0, %al
    xchg %al, %ah
    ret
tick: .asciz "tick "
.include "reset_vector.inc"
