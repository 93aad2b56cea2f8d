# Loads an empty IDT and raises #BP: the exception cannot be delivered (#GP, then #DF, also undeliverable), so the
# CPU triple-faults and KVM reports KVM_EXIT_SHUTDOWN.
.include "prelude.inc"
.code32
main:
    lidt empty_idt
    int3
    jmp reset
.balign 8
empty_idt:
    .word 0
    .long 0
.include "reset_vector.inc"
