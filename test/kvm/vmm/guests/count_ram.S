# Adds 1 to the dword at 0x1000 forever, without any exit: its progress shows only in guest RAM.
.include "prelude.inc"
.set COUNTER, 0x1000
.code32
main:
    movl $0, COUNTER
1:  incl COUNTER
    jmp 1b
.include "reset_vector.inc"
