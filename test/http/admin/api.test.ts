import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { ADMIN_HEADERS, testAppliance, type TestAppliance } from '../../helpers/appliance.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance();
});
afterEach(async () => a.close());

describe('JSON API', () => {
  it('GET /healthz', async () => {
    const res = await a.app.inject('/healthz');
    expect(res.json()).toEqual({ ok: true });
  });

  it('GET /api/nodes lists the inventory nodes with their state, over inject and a real socket', async () => {
    const listing = (await a.admin.inject({ url: '/api/nodes', headers: ADMIN_HEADERS })).json() as { total: number; nodes: Array<Record<string, unknown>> };
    expect(listing).toMatchObject({ total: 5, page: 1, pageSize: 50, pages: 1 });
    const viaInject = listing.nodes;
    expect(viaInject.map((n) => n.name)).toEqual(['cp-1', 'cp-2', 'cp-3', 'worker-1', 'worker-2']);
    expect(viaInject[0]).toMatchObject({ name: 'cp-1', mac: '52:54:00:12:34:01', role: 'controlplane', state: 'registered', ip: '10.77.0.11', uuid: null, lastSeen: null });

    await a.admin.listen({ host: '127.0.0.1', port: 0 });
    const { port } = a.admin.server.address() as { port: number };
    expect((await request(`http://127.0.0.1:${port}/api/nodes`)).statusCode).toBe(401);
    const res = await request(`http://127.0.0.1:${port}/api/nodes`, { headers: ADMIN_HEADERS });
    expect(res.headers['content-type']).toContain('application/json');
    expect(await res.body.json()).toEqual(listing);
  });

  it('GET /api/events filters by node and rejects bad input with a JSON message', async () => {
    await a.app.inject({ url: '/ipxe?mac=52:54:00:12:34:01&arch=x86_64', remoteAddress: '10.77.0.11' });
    const events = (await a.admin.inject({ url: '/api/events?node=cp-1', headers: ADMIN_HEADERS })).json() as Array<{ node: string; kind: string; message: string }>;
    expect(events.every((e) => e.node === 'cp-1')).toBe(true);
    expect(events.map((e) => e.kind)).toEqual(['inventory', 'state']);
    expect((await a.admin.inject({ url: '/api/events?node=nope', headers: ADMIN_HEADERS })).statusCode).toBe(404);
    const bad = await a.admin.inject({ url: '/api/events?limit=abc', headers: ADMIN_HEADERS });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('limit');
  });

  it('GET /api/inventory shows a rejected edit with its line while the last good inventory stays live', async () => {
    expect((await a.admin.inject({ url: '/api/inventory', headers: ADMIN_HEADERS })).json()).toMatchObject({ ok: true, errors: [], nodes: 5 });
    const file = a.watcher.file;
    writeFileSync(file, readFileSync(file, 'utf8').replace('ip: 10.77.0.12', 'ip: 10.77.0.11'));
    a.watcher.reload();
    const body = (await a.admin.inject({ url: '/api/inventory', headers: ADMIN_HEADERS })).json();
    expect(body.ok).toBe(false);
    expect(body.loadedAt).toEqual(expect.any(Number));
    expect(body.errors[0]).toMatchObject({ file, line: expect.any(Number), col: expect.any(Number), message: expect.stringContaining('duplicate ip 10.77.0.11') });
    expect(body.nodes).toBe(5);
  });

  it('unknown endpoints are JSON 404s', async () => {
    const res = await a.app.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toContain('no such endpoint');
  });
});
