import { describe, expect, it } from 'vitest';
import { Cmdline } from '../../src/talos/cmdline.js';

// Every case of TestCmdlineAppendAll in siderolabs/go-procfs procfs/cmdline_test.go
// (v0.1.2, the go-procfs Talos v1.11.0–v1.13.x build with): initial line, args, options, result.
const OVERWRITE = { overwrite: ['console'] };
const NEGATE = { deleteNegated: true };
const BOTH = { overwrite: ['console'], deleteNegated: true };
const CASES: [string, string[], object, string][] = [
  ['ip=dhcp console=x root=/dev/sdc', ['root=/dev/sda', 'root=/dev/sdb'], {}, 'ip=dhcp console=x root=/dev/sdc root=/dev/sda root=/dev/sdb'],
  ['root=/dev/sdb', ['this=that=those'], {}, 'root=/dev/sdb this=that=those'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['console=tty0', 'console=ttyS1,115200', 'nogui'], {}, 'console=tty0 console=ttyS0 console=tty0 console=ttyS1,115200 root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['console=tty0', 'console=ttyS1,115200', 'nogui'], OVERWRITE, 'console=tty0 console=ttyS1,115200 root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['-console', 'nogui'], BOTH, 'root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0,9600 root=/dev/sdb', ['-console', 'nogui'], NEGATE, 'root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0,9600 root=/dev/sdb', ['-console=ttyS0,9600', 'nogui'], NEGATE, 'console=tty0 root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['-console=tty0', 'nogui'], BOTH, 'console=ttyS0 root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['-console', 'nogui', 'console=ttyAMA0'], BOTH, 'root=/dev/sdb nogui console=ttyAMA0'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['-console=tty0', 'nogui', 'console=ttyAMA0'], NEGATE, 'console=ttyS0 console=ttyAMA0 root=/dev/sdb nogui'],
  ['console=tty0 console=ttyS0 root=/dev/sdb', ['-console=tty0', 'nogui', 'console=ttyAMA0'], BOTH, 'console=ttyAMA0 root=/dev/sdb nogui'],
];

describe('Cmdline (go-procfs semantics)', () => {
  it.each(CASES)('%s + %j', (initial, args, opts, expected) => {
    expect(new Cmdline([initial]).appendAll(args, opts).toString()).toBe(expected);
  });

  it('a bare "-" is an argument, not a negation; "key=" prints as "key"', () => {
    expect(new Cmdline(['a=1', 'slab_nomerge=']).appendAll(['-'], NEGATE).toString()).toBe('a=1 slab_nomerge -');
  });
});
