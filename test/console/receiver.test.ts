import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { ConsoleLog } from '../../src/console/buffer.js';
import { ConsoleReceiver, nodeForAddress, parseConsoleDatagram } from '../../src/console/receiver.js';
import { inventory, nodeSpec } from '../lifecycle/fixtures.js';

let store: Store;
let receiver: ConsoleReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  store?.close();
});

function setup() {
  store = new Store(':memory:');
  store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01', 'worker', { ip: '127.0.0.1' }), nodeSpec('w2', 'aa:bb:cc:00:00:02')]));
  const log = new ConsoleLog(3);
  receiver = new ConsoleReceiver(store, log);
  return { log, receiver };
}

describe('console datagrams', () => {
  it('parses Talos JSON lines and drops anything else', () => {
    expect(parseConsoleDatagram(Buffer.from('{"msg":"hello","facility":"kern"}\n'))).toEqual([{ msg: 'hello', facility: 'kern' }]);
    expect(parseConsoleDatagram(Buffer.from('{"msg":"a"}\n{"msg":"b"}'))).toHaveLength(2);
    expect(parseConsoleDatagram(Buffer.from('not json'))).toBeUndefined();
    expect(parseConsoleDatagram(Buffer.from('[1,2]'))).toBeUndefined();
    expect(parseConsoleDatagram(Buffer.from(''))).toBeUndefined();
    expect(parseConsoleDatagram(Buffer.from(`{"msg":"${'x'.repeat(9000)}"}`))).toBeUndefined();
  });

  it('maps a source address to a node by inventory IP, then by a live lease', () => {
    setup();
    expect(nodeForAddress(store, '127.0.0.1')).toBe('w1');
    expect(nodeForAddress(store, '10.0.0.99')).toBeUndefined();
    store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES ('aa:bb:cc:00:00:02', '10.0.0.99', 'bound', ?, 0)").run(Date.now() + 60_000);
    expect(nodeForAddress(store, '10.0.0.99')).toBe('w2');
    store.db.prepare("UPDATE leases SET expires_at=? WHERE ip='10.0.0.99'").run(Date.now() - 1);
    expect(nodeForAddress(store, '10.0.0.99')).toBeUndefined();
  });

  it('keeps the last N lines per node, bounded, and counts drops', () => {
    const { log, receiver } = setup();
    for (let i = 0; i < 5; i++) receiver.receive(Buffer.from(JSON.stringify({ msg: `line ${i}` })), '127.0.0.1');
    receiver.receive(Buffer.from('garbage'), '127.0.0.1');
    receiver.receive(Buffer.from('{"msg":"who"}'), '10.9.9.9');
    expect(log.lines('w1').map((l) => l.msg)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(receiver.metrics()).toEqual({ console_datagrams_total: 7, console_lines_total: 5, console_malformed_total: 1, console_unmatched_total: 1 });
  });

  it('bounds the number of nodes it keeps', () => {
    const log = new ConsoleLog(2, 2);
    for (const n of ['a', 'b', 'c']) log.add(n, { at: 0, msg: n, fields: {} });
    expect(log.lines('a')).toEqual([]);
    expect(log.lines('c').map((l) => l.msg)).toEqual(['c']);
  });

  it('receives real datagrams on a loopback UDP socket', async () => {
    const { log, receiver } = setup();
    const port = await receiver.listen('127.0.0.1', 0);
    const got = new Promise<string>((resolve) => log.once('line', (node: string, line: { msg: string }) => resolve(`${node}:${line.msg}`)));
    const client = createSocket('udp4');
    client.send(Buffer.from('{"msg":"[    0.000000] Linux version 6.12","talos-level":"info"}'), port, '127.0.0.1');
    expect(await got).toBe('w1:[    0.000000] Linux version 6.12');
    client.close();
  });
});
