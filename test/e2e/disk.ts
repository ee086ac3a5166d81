// A disk whose boot sector writes a marker to COM1 and halts: proof that a
// machine booted from its local disk, not from the network.
import { writeFileSync } from 'node:fs';

export const DISK_MARKER = 'RACKBOOT-LOCAL-DISK-BOOTED';

/** 16-bit real-mode code at 0000:7C00: print a string to port 0x3F8, then halt. */
export function bootSector(message = DISK_MARKER + '\r\n'): Buffer {
  const code = [
    0x31, 0xc0, //       xor ax, ax
    0x8e, 0xd8, //       mov ds, ax
    0xfc, //             cld
    0xbe, 0x16, 0x7c, // mov si, 0x7c16 (the message below)
    0xac, //       next: lodsb
    0x08, 0xc0, //       or al, al
    0x74, 0x06, //       jz halt
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xee, //             out dx, al
    0xeb, 0xf5, //       jmp next
    0xf4, //       halt: hlt
    0xeb, 0xfd, //       jmp halt
  ];
  const sector = Buffer.alloc(512);
  Buffer.from(code).copy(sector, 0);
  sector.write(message + '\0', code.length, 'latin1');
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A 1 MiB raw disk image holding the boot sector. */
export function writeBootDisk(file: string): string {
  const disk = Buffer.alloc(1 << 20);
  bootSector().copy(disk, 0);
  writeFileSync(file, disk);
  return file;
}
