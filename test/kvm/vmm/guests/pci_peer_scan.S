# Linux's peer-bus scan (arch/x86/pci/legacy.c pcibios_fixup_peer_bridges): a 16-bit vendor-ID read of function 0
# of every slot of buses 0-63 (the buses our MCFG announces) through configuration mechanism #1 (0xCF8/0xCFC).
# Prints how many slots answered with something other than FFFF, then CONFIG_ADDRESS as read back after the
# last slot (bus 63, device 31), each as 8 hex digits on its own line, then resets.
.include "prelude.inc"
.code32
main:
    xor %edi, %edi              # bus << 16 | device << 11
    xor %esi, %esi              # slots that answered
1:  mov %edi, %eax
    or $0x80000000, %eax        # enable bit
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %ax
    cmp $0xffff, %ax
    je 2f
    inc %esi
2:  add $0x800, %edi            # next device
    cmp $0x400000, %edi         # 64 buses
    jne 1b
    mov %esi, %eax
    call puthexln
    mov $0xcf8, %dx
    in %dx, %eax
    call puthexln
    jmp reset
.include "reset_vector.inc"
