// POST and GET /api/nodes/:name/power through the admin server, against the
// Redfish fake on loopback: actions reach the BMC and are audited as `power`
// events, a session needs its CSRF token, a node without a BMC is a 409, a
// BMC that does not answer or refuses the password fails in bounded time
// saying who was at fault, and the page shows the power state.
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness, inventoryYaml, login, sessionActor, type Harness } from './harness.js';
import { passwordPath, writePassword } from '../../../src/bmc/credentials.js';
import { RedfishFake } from '../../fakes/redfish/service.js';
import { powerMonitor } from '../../../src/http/admin/views.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const bmcNode = (name: string, mac: string, address: string) => `  - name: ${name}
    mac: ${mac}
    role: worker
    bmc:
      address: ${address}
      username: root
`;

/** The harness with extra nodes whose BMCs are at the given addresses, and their passwords stored. */
async function withBmcs(nodes: { name: string; address: string; password: string }[]): Promise<Harness> {
  const h = await harness();
  cleanup.push(() => h.close());
  writeFileSync(join(h.dir, 'cluster.yaml'), inventoryYaml(nodes.map((n, i) => bmcNode(n.name, `52:54:00:00:03:0${i}`, n.address)).join('')));
  expect(h.watcher.reload()).toBe(true);
  for (const n of nodes) writePassword(passwordPath(h.settings.dataDir, n.name), n.password);
  return h;
}

async function redfish(opts: ConstructorParameters<typeof RedfishFake>[0] = {}): Promise<RedfishFake> {
  const f = await new RedfishFake(opts).start();
  cleanup.push(() => f.stop());
  return f;
}

/** A TCP peer that accepts and never says a word: a hung BMC. */
async function silentPeer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return (server.address() as { port: number }).port;
}

const powerEvents = (h: Harness, node: string) => h.store.events({ node, limit: 100 }).filter((e) => e.kind === 'power');

describe('power API', () => {
  it('sets PXE once, powers on, cycles with PXE first and powers off through Redfish; each action is a power event', async () => {
    const f = await redfish();
    const h = await withBmcs([{ name: 'rf-1', address: `redfish+http://127.0.0.1:${f.port}`, password: f.password }]);
    const post = (payload: object) => h.app.inject({ method: 'POST', url: '/api/nodes/rf-1/power', headers: auth, payload });

    const pxe = await post({ action: 'pxe-once' });
    expect(pxe.statusCode).toBe(200);
    expect(pxe.json()).toEqual({ node: 'rf-1', action: 'pxe-once', ok: true, message: 'next boot: PXE (uefi), once', state: null, fault: null });
    expect(f.bootOverride).toMatchObject({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' });

    const on = await post({ action: 'on' });
    expect(on.json()).toMatchObject({ ok: true, state: 'on', message: 'power on' });
    expect(f.machine.on).toBe(true);
    const cycle = await post({ action: 'cycle', pxe: true });
    expect(cycle.json()).toMatchObject({ ok: true, message: 'power cycle after setting PXE (uefi) once' });
    expect((await post({ action: 'off' })).json()).toMatchObject({ ok: true, state: 'off' });
    expect(f.resets).toEqual(['On', 'PowerCycle', 'ForceOff']);
    expect(f.machine.log).toEqual(['start boot=pxe', 'stop', 'start boot=pxe', 'stop']);

    const events = powerEvents(h, 'rf-1');
    expect(events.map((e) => e.message)).toEqual([
      `pxe-once by token through redfish+http://127.0.0.1:${f.port}: done`,
      `power on by token through redfish+http://127.0.0.1:${f.port}: done`,
      `power cycle by token through redfish+http://127.0.0.1:${f.port}: done`,
      `power off by token through redfish+http://127.0.0.1:${f.port}: done`,
    ]);
    expect(events[2]!.data).toMatchObject({ request: 'cycle', actor: 'token', ok: true, pxeFirst: true });

    const status = await h.app.inject({ url: '/api/nodes/rf-1/power', headers: auth });
    expect(status.json()).toMatchObject({ node: 'rf-1', address: `redfish+http://127.0.0.1:${f.port}`, state: 'off', reachable: true, fault: null, error: null });
    expect(Date.now() - status.json().readAt).toBeLessThan(5000);
    // The node views carry the same reading; a status read is not an audited action.
    expect((await h.app.inject({ url: '/api/nodes', headers: auth })).json().nodes.find((n: { name: string }) => n.name === 'rf-1').power).toMatchObject({ state: 'off', reachable: true });
    expect((await h.app.inject({ url: '/api/nodes/cp-1', headers: auth })).json().node.power).toBeNull();
    expect(powerEvents(h, 'rf-1')).toHaveLength(4);
  });

  it('refuses what it cannot do: no credentials, a session without CSRF, bad input, no BMC, unknown node', async () => {
    const f = await redfish();
    const h = await withBmcs([{ name: 'rf-1', address: `redfish+http://127.0.0.1:${f.port}`, password: f.password }]);
    const { cookie, csrf } = await login(h.app);
    const post = (headers: Record<string, string>, payload: object, node = 'rf-1') => h.app.inject({ method: 'POST', url: `/api/nodes/${node}/power`, headers, payload });

    expect((await post({}, { action: 'on' })).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/api/nodes/rf-1/power' })).statusCode).toBe(401);
    const noCsrf = await post({ cookie }, { action: 'on' });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().message).toBe('missing or wrong CSRF token');
    expect((await post({ cookie, 'x-csrf-token': 'forged' }, { action: 'on' })).statusCode).toBe(403);
    expect(f.resets).toEqual([]);
    expect(powerEvents(h, 'rf-1')).toEqual([]);

    expect((await post(auth, { action: 'reboot' })).json()).toEqual({ message: 'action must be one of on, off, soft, cycle, pxe-once' });
    expect((await post(auth, {})).statusCode).toBe(400);
    expect((await post(auth, { action: 'off', pxe: true })).json()).toEqual({ message: 'pxe: true goes only with on or cycle' });
    expect((await post(auth, { action: 'on', pxe: 'yes' })).statusCode).toBe(400);
    const noBmc = await post(auth, { action: 'on' }, 'cp-1');
    expect(noBmc.statusCode).toBe(409);
    expect(noBmc.json().message).toMatch(/^cp-1 has no bmc in the inventory, so rackboot cannot power it: power it by hand/);
    expect((await h.app.inject({ url: '/api/nodes/cp-1/power', headers: auth })).statusCode).toBe(409);
    expect((await post(auth, { action: 'on' }, 'nope')).statusCode).toBe(404);
    expect(f.resets).toEqual([]);

    // The page's way: session cookie and its CSRF token; the event names the session by its stored hash's start.
    const ok = await post({ cookie, 'x-csrf-token': csrf }, { action: 'on' });
    expect(ok.statusCode).toBe(200);
    expect(f.resets).toEqual(['On']);
    expect(powerEvents(h, 'rf-1').map((e) => (e.data as { actor: string }).actor)).toEqual([sessionActor(h)]);
  });

  it('runs one action per node at a time: a second click while the first is under way gets 409 and sends nothing', async () => {
    const f = await redfish({ delayMs: 150 });
    const h = await withBmcs([{ name: 'rf-1', address: `redfish+http://127.0.0.1:${f.port}`, password: f.password }]);
    const post = () => h.app.inject({ method: 'POST', url: '/api/nodes/rf-1/power', headers: auth, payload: { action: 'on' } });
    const [first, second] = await Promise.all([post(), new Promise((r) => setTimeout(r, 50)).then(post)]);
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(409);
    expect(second.json().message).toBe('a power action on rf-1 is already running; wait for it to finish');
    expect(f.resets).toEqual(['On']);
    expect((await post()).statusCode).toBe(200);
  });

  it('a BMC that does not answer fails in bounded time as a network fault; a refused password as credentials; both audited', async () => {
    const silent = await silentPeer();
    const f = await redfish();
    const h = await withBmcs([
      { name: 'hung', address: `redfish+http://127.0.0.1:${silent}`, password: 'x' },
      { name: 'badpw', address: `redfish+http://127.0.0.1:${f.port}`, password: 'not-the-password' },
      { name: 'nopw', address: `redfish+http://127.0.0.1:${f.port}`, password: 'x' },
    ]);
    h.settings.bmc.timeoutSeconds = 1;
    const t0 = Date.now();
    const hung = await h.app.inject({ method: 'POST', url: '/api/nodes/hung/power', headers: auth, payload: { action: 'on' } });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(hung.statusCode).toBe(502);
    expect(hung.json()).toMatchObject({ node: 'hung', action: 'on', ok: false, fault: 'network' });
    expect(hung.json().message).toMatch(/^network fault \(the BMC did not answer\): \S*127\.0\.0\.1:\d+: no answer to GET \/redfish\/v1\/ within 1 s$/);

    const bad = await h.app.inject({ method: 'POST', url: '/api/nodes/badpw/power', headers: auth, payload: { action: 'cycle' } });
    expect(bad.statusCode).toBe(502);
    expect(bad.json()).toMatchObject({ fault: 'credentials' });
    expect(bad.json().message).toMatch(/^credentials refused by the BMC: .*refused user "root" or its password/);
    expect(f.resets).toEqual([]);

    // No password stored: rackboot's own configuration, so 409 and what to run.
    const { rmSync } = await import('node:fs');
    rmSync(passwordPath(h.settings.dataDir, 'nopw'));
    const nopw = await h.app.inject({ method: 'POST', url: '/api/nodes/nopw/power', headers: auth, payload: { action: 'on' } });
    expect(nopw.statusCode).toBe(409);
    expect(nopw.json()).toMatchObject({ fault: 'config' });
    expect(nopw.json().message).toMatch(/run: rackboot bmc password nopw/);

    expect(powerEvents(h, 'hung')[0]!.data).toMatchObject({ request: 'on', actor: 'token', ok: false, fault: 'network' });
    expect(powerEvents(h, 'badpw')[0]!.data).toMatchObject({ ok: false, fault: 'credentials' });
    // What the actions found out shows on the node views too.
    const views = (await h.app.inject({ url: '/api/nodes', headers: auth })).json().nodes as { name: string; power: { reachable: boolean | null; fault: string | null } }[];
    expect(views.find((n) => n.name === 'hung')!.power).toMatchObject({ reachable: false, fault: 'network' });
    expect(views.find((n) => n.name === 'badpw')!.power).toMatchObject({ reachable: true, fault: 'credentials' });
  });

  it('the page shows each node\'s power state, when it was read, and power buttons only for nodes with a BMC', async () => {
    const f = await redfish();
    f.machine.start('default');
    const h = await withBmcs([{ name: 'rf-1', address: `redfish+http://127.0.0.1:${f.port}`, password: f.password }]);
    const { cookie } = await login(h.app);
    const before = (await h.app.inject({ url: '/ui', headers: { cookie } })).body;
    expect(before).toMatch(/<tr data-node="rf-1"[\s\S]*?<td data-label="Power" class="power-cell"><span class="power power-unknown" [^>]*>not read yet<\/span><\/td>/);
    expect(before).toMatch(/<tr data-node="cp-1"[\s\S]*?<td data-label="Power" class="power-cell"><span class="muted" [^>]*>no BMC<\/span><\/td>/);
    await h.app.inject({ url: '/api/nodes/rf-1/power', headers: auth });
    const after = (await h.app.inject({ url: '/ui', headers: { cookie } })).body;
    expect(after).toMatch(/<tr data-node="rf-1"[\s\S]*?<span class="power power-on" [^>]*>on<\/span> <span class="muted small">read <span data-since="\d+"/);
    const page = (await h.app.inject({ url: '/ui/nodes/rf-1', headers: { cookie } })).body;
    for (const action of ['on', 'off', 'cycle', 'pxe-once']) expect(page).toContain(`data-action="power" data-power="${action}" data-node="rf-1"`);
    expect(page).toMatch(/<dt>BMC<\/dt><dd><code class="wrap">redfish\+http:\/\/127\.0\.0\.1:\d+<\/code> <span class="ok">answering<\/span>/);
    expect((await h.app.inject({ url: '/ui/nodes/cp-1', headers: { cookie } })).body).not.toContain('data-action="power"');
    // The page's script sends these buttons' requests with the CSRF header.
    const js = (await h.app.inject({ url: '/ui/static/app.js' })).body;
    expect(js).toContain("post(base + '/power'");
    expect(js).toMatch(/'x-csrf-token': csrf/);
  });

  it('the live page gets new fragments when a node\'s power reading changes, with no store event behind it', async () => {
    const f = await redfish();
    const h = await withBmcs([{ name: 'rf-1', address: `redfish+http://127.0.0.1:${f.port}`, password: f.password }]);
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (h.app.server.address() as { port: number }).port;
    const abort = new AbortController();
    cleanup.push(async () => abort.abort());
    const stream = await fetch(`http://127.0.0.1:${port}/api/stream`, { headers: auth, signal: abort.signal });
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    const nextFragments = async (): Promise<Record<string, string>> => {
      let text = '';
      while (!text.endsWith('\n\n')) text += decoder.decode((await reader.read()).value);
      return JSON.parse(text.split('data: ')[1]!);
    };
    expect((await nextFragments())['nodes-body']).toContain('not read yet');
    const eventsBefore = h.store.events({ limit: 1000 }).length;
    f.machine.start('default');
    await powerMonitor(h.ctx).read(h.watcher.inventory!.nodes.find((n) => n.name === 'rf-1')!);
    expect(h.store.events({ limit: 1000 })).toHaveLength(eventsBefore);
    expect((await nextFragments())['nodes-body']).toMatch(/<span class="power power-on" [^>]*>on<\/span>/);
  });
});
