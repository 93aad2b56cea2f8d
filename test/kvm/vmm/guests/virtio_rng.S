# Drives virtio-rng (00:01.0 by default, after the host bridge) through the modern virtio-pci interface: the
# common configuration at BAR0 + 0 (virtio 1.2 4.1.4.3: reset, ACKNOWLEDGE | DRIVER, VIRTIO_F_VERSION_1,
# FEATURES_OK, queue 0 of 8 entries, DRIVER_OK) and queue 0's notify register at BAR0 + 0x3000
# (src/devices/virtio/virtio_pci_device.ts). Then REQUESTS requests of 64 device-writable bytes, one at a time:
# descriptor i, avail ring slot i, avail idx i + 1 (2.7.13), notify, and wait (interrupts stay off) until the
# used idx passes i (2.7.8). Says "virtio-rng: 4 used" and resets.
.include "prelude.inc"
.set REQUESTS, 4
.set DESC, 0x10000
.set AVAIL, 0x11000
.set USED, 0x12000
.set BUFS, 0x13000
.set NOTIFY, 0x3000
.code32
main:
    mov $0x80000810, %eax   # configuration mechanism #1: bus 0, device 1, function 0, BAR0 (0x10)
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0xcfc, %dx
    in %dx, %eax
    and $0xfffffff0, %eax
    mov %eax, %ebx          # EBX = BAR0: the common configuration
    movb $0, 0x14(%ebx)     # device_status = 0: reset
    movb $3, 0x14(%ebx)     # ACKNOWLEDGE | DRIVER
    movl $1, 0x08(%ebx)     # driver_feature_select = 1: feature bits 32..63
    movl $1, 0x0c(%ebx)     # driver_feature: VIRTIO_F_VERSION_1 (bit 32)
    movb $0xb, 0x14(%ebx)   # | FEATURES_OK
    movw $0, 0x16(%ebx)     # queue_select = 0
    movw $8, 0x18(%ebx)     # queue_size = 8
    movl $DESC, 0x20(%ebx)  # queue_desc
    movl $0, 0x24(%ebx)
    movl $AVAIL, 0x28(%ebx) # queue_driver
    movl $0, 0x2c(%ebx)
    movl $USED, 0x30(%ebx)  # queue_device
    movl $0, 0x34(%ebx)
    movw $1, 0x1c(%ebx)     # queue_enable = 1
    movb $0xf, 0x14(%ebx)   # | DRIVER_OK
    xor %edi, %edi
1:  mov %edi, %esi
    shl $4, %esi
    add $DESC, %esi         # ESI = descriptor i (16 bytes: le64 addr, le32 len, le16 flags, le16 next)
    mov %edi, %ecx
    shl $6, %ecx
    add $BUFS, %ecx
    movl %ecx, (%esi)
    movl $0, 4(%esi)
    movl $64, 8(%esi)
    movw $2, 12(%esi)       # VIRTQ_DESC_F_WRITE
    movw $0, 14(%esi)
    movw %di, AVAIL+4(,%edi,2)
    lea 1(%edi), %eax
    movw %ax, AVAIL+2
    movw $0, NOTIFY(%ebx)   # queue 0's notify register: KVM signals the device's ioeventfd
2:  pause
    movzwl USED+2, %eax
    cmp %edi, %eax
    jbe 2b
    inc %edi
    cmp $REQUESTS, %edi
    jne 1b
    mov $used, %esi
    call puts
    jmp reset
used:
    .asciz "virtio-rng: 4 used\n"
.include "reset_vector.inc"
