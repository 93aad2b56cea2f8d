# Says "spinning" and then loops forever without exits, so only a kick from the VMM gets the vCPU out of KVM_RUN.
.include "prelude.inc"
.code32
main:
    mov $msg, %esi
    call puts
1:  jmp 1b
msg: .asciz "spinning\n"
.include "reset_vector.inc"
