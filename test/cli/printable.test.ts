// Strings from the network reach the operator's terminal through the CLI:
// control bytes must arrive as visible escapes, never raw.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCli, REPO } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';
import { Store } from '../../src/store/store.js';
import { printable, printableJson, printTable } from '../../src/cli/printable.js';
import { loadInventoryFile } from '../../src/inventory/load.js';

const tmp = tempDirs('rb-printable-');
// C0 (NUL, ESC, CR, LF, TAB), DEL and C1 (CSI as one code point).
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const HOSTILE = 'PXE\u001b[2J\rclear\u0000\u007f\u009b31m';

describe('printable', () => {
  it('shows C0, DEL, C1 and the backslash as escapes and leaves the rest alone', () => {
    expect(printable(HOSTILE)).toBe('PXE\\x1b[2J\\x0dclear\\x00\\x7f\\x9b31m');
    expect(printable('a\\x1b\tb\nc')).toBe('a\\\\x1b\\x09b\\x0ac');
    expect(printable('PXEClient:Arch:00007 ünïcode')).toBe('PXEClient:Arch:00007 ünïcode');
  });

  it('keeps tables aligned by the escaped width, and JSON valid', () => {
    const lines: string[] = [];
    printTable([['A', 'B'], ['x\u001by', 'z']], (l) => lines.push(l));
    expect(lines).toEqual(['A       B', 'x\\x1by  z']);
    const json = printableJson({ v: HOSTILE });
    expect(json).not.toMatch(RAW);
    expect(JSON.parse(json)).toEqual({ v: HOSTILE });
  });
});

describe('the CLI prints network strings escaped', () => {
  it('rackboot discovered and rackboot nodes, as tables and as JSON', () => {
    const dir = tmp();
    const store = new Store(join(dir, 'rackboot.db'));
    try {
      const inv = loadInventoryFile(join(REPO, 'inventory/cluster.yaml'));
      if (!inv.ok) throw new Error('example inventory invalid');
      store.syncInventory(inv.inventory);
      store.recordDiscovered({ mac: '52:54:00:aa:bb:cc', source: 'dhcp', vendorClass: HOSTILE, userClass: 'iPXE\r\u0000', relay: '10.0.0.1\u001b]0;owned\u0007', arch: '0\u001b7' });
      store.setState('cp-1', 'failed', `node said: ${HOSTILE}`);
    } finally {
      store.close();
    }
    for (const args of [['discovered'], ['discovered', '--json'], ['nodes'], ['nodes', '--json']]) {
      const r = runCli([...args, '--data-dir', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, args.join(' ')).not.toMatch(RAW);
    }
    const table = runCli(['discovered', '--data-dir', dir]).stdout;
    expect(table).toContain('PXE\\x1b[2J\\x0dclear\\x00\\x7f\\x9b31m');
    expect(table).toContain('10.0.0.1\\x1b]0;owned\\x07');
    expect(runCli(['nodes', '--data-dir', dir]).stdout).toContain('node said: PXE\\x1b[2J\\x0dclear');
    const json = JSON.parse(runCli(['discovered', '--json', '--data-dir', dir]).stdout) as Array<{ vendorClass: string; userClass: string }>;
    expect(json[0]).toMatchObject({ vendorClass: HOSTILE, userClass: 'iPXE\r\u0000' });
  });
});
