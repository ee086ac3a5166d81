import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelArgs } from '../../src/talos/kernel-args.js';
import { hasMarker, MARKER_PREFIX, parseHardwareReport, parseMarker, REQUIRED_TALOS_ARGS, standinInit } from '../../src/lab/standin-init.js';

describe('stand-in marker', () => {
  it('parses a success line out of a noisy serial log', () => {
    const serial = `[    5.1] e1000 eth0 up\r\n${MARKER_PREFIX} result=ok missing=- ip=10.77.0.100 config=none mac=52:54:00:e2:00:01\r\n[ 6.0] reboot: Power down\n`;
    expect(parseMarker(serial)).toEqual({ result: 'ok', missing: [], ip: '10.77.0.100', config: 'none', mac: '52:54:00:e2:00:01' });
  });

  it('parses a failure with missing arguments and a failed fetch', () => {
    const m = parseMarker(`${MARKER_PREFIX} result=fail missing=pti=on,slab_nomerge ip=- config=fetch-failed mac=-\n`);
    expect(m).toMatchObject({ result: 'fail', missing: ['pti=on', 'slab_nomerge'], config: 'fetch-failed' });
  });

  it('waits for the whole line: the serial console delivers it in pieces (a CI run read config= as empty)', () => {
    const line = `${MARKER_PREFIX} result=ok missing=- ip=10.77.0.102 config=${'ab'.repeat(32)} mac=52:54:00:e2:00:04`;
    const half = `[ 5.4] udhcpc: lease obtained\r\n${line.slice(0, 45)}`;
    expect(parseMarker(half)).toBeUndefined();
    expect(hasMarker(half)).toBe(false);
    expect(parseMarker(`${half}${line.slice(45)}\r\n`)).toMatchObject({ config: 'ab'.repeat(32), mac: '52:54:00:e2:00:04' });
    expect(hasMarker(`${half}${line.slice(45)}\n`)).toBe(true);
  });

  it('ignores the kernel echoing the init script and lines that only mention the marker', () => {
    expect(parseMarker(`echo "${MARKER_PREFIX} result=$result"\n`)).toBeUndefined();
    expect(parseMarker('no marker here')).toBeUndefined();
  });
});

describe('stand-in /init', () => {
  it('checks for every argument rackboot puts on a Talos v1.11 command line', () => {
    const args = kernelArgs({ talosVersion: 'v1.11.5', arch: 'amd64', consoles: ['ttyS0'], schematicArgs: [], settingsArgs: [] });
    for (const want of REQUIRED_TALOS_ARGS) expect(args).toContain(want);
  });

  it('loads the modules in the order given and is valid shell', () => {
    const script = standinInit(['virtio.ko', 'e1000.ko']);
    expect(script.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(script).toContain('for m in virtio.ko e1000.ko; do insmod');
    const dir = mkdtempSync(join(tmpdir(), 'standin-init-'));
    try {
      writeFileSync(join(dir, 'init'), script);
      // -n: parse only. Catches quoting mistakes from the template literal.
      execFileSync('/bin/sh', ['-n', join(dir, 'init')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps shell variables as shell variables (no template interpolation leaked)', () => {
    const script = standinInit([]);
    expect(script).toContain('missing="${missing#,}"');
    expect(script).toContain('url="${word#talos.config=}"');
    expect(script).not.toContain('undefined');
  });
});

// branch commission: the hardware report lines the stand-in prints with rackboot.hwreport.
describe('the hardware report', () => {
  it('keeps values with spaces, sorts lines by disk, DMI and NIC, and ignores other console noise', () => {
    const serial = [
      'rackboot-standin: cmdline: console=ttyS0 rackboot.hwreport=3',
      'RACKBOOT-STANDIN-HW disk sda device/model SLOW DISK X  ',
      'RACKBOOT-STANDIN-HW disk sda size 196608\r',
      'RACKBOOT-STANDIN-HW disk vda serial ',
      'RACKBOOT-STANDIN-HW dmi id product_serial CHASSIS-9',
      'RACKBOOT-STANDIN-HW nic eth1 address 52:54:00:e2:17:02',
      '[    1.2] RACKBOOT-STANDIN-HW disk sdz size 1',
    ].join('\n');
    expect(parseHardwareReport(serial)).toEqual({
      disks: { sda: { 'device/model': 'SLOW DISK X', size: '196608' }, vda: { serial: '' } },
      dmi: { product_serial: 'CHASSIS-9' },
      nics: { eth1: '52:54:00:e2:17:02' },
    });
  });

  it('the init script reports only when the command line asks, and powers off before taking a lease', () => {
    const init = standinInit([]);
    const report = init.indexOf('if [ -n "$hw" ]; then');
    expect(report).toBeGreaterThan(0);
    expect(init.indexOf('poweroff -f', report)).toBeLessThan(init.indexOf('udhcpc'));
    expect(init).toContain('rackboot.hwreport=*)');
  });
});
