import { describe, expect, it } from 'vitest';
import { applyLive, diffSettings } from '../../src/settings/live.js';
import { loadSettings } from '../../src/settings/settings.js';

const base = () => loadSettings({}, '/nonexistent-dir-for-defaults');

describe('settings a reload may change', () => {
  it('applies live keys in place and names the rest as needing a restart', () => {
    const running = base();
    const dhcp = running.dhcp;
    const next = base();
    next.logLevel = 'debug';
    next.talos.extraKernelArgs = ['talos.dashboard.disabled=1'];
    next.dhcp.dns = ['10.0.0.53'];
    next.dhcp.mode = 'full';
    next.http.listen = '10.0.0.1:8080';
    next.tftp.port = 1069;
    const change = diffSettings(running, next);
    expect(change.live.sort()).toEqual(['dhcp.dns', 'logLevel', 'talos.extraKernelArgs']);
    expect(change.needRestart.sort()).toEqual(['dhcp.mode', 'http.listen', 'tftp.port']);
    applyLive(running, next, change.live);
    expect(running.logLevel).toBe('debug');
    expect(running.talos.extraKernelArgs).toEqual(['talos.dashboard.disabled=1']);
    // The same section objects the services hold, with the live values written in.
    expect(running.dhcp).toBe(dhcp);
    expect(running.dhcp.dns).toEqual(['10.0.0.53']);
    expect(running.dhcp.mode).toBe('proxy');
    expect(running.http.listen).toBe('0.0.0.0:8080');
  });

  it('a key it does not know (a new setting) needs a restart', () => {
    const running = base();
    const next = { ...base(), http: { ...base().http, adminListen: '127.0.0.1:9443' } };
    expect(diffSettings(running, next)).toEqual({ live: [], needRestart: ['http.adminListen'] });
    expect(diffSettings(running, base())).toEqual({ live: [], needRestart: [] });
  });
});
