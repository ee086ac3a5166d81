// The logger's redaction paths, for the one value that keeps most of itself:
// a database conninfo loses only its password.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write(c, _e, cb) { lines.push(c.toString()); cb(); } }) });
  return { log, text: () => lines.join('') };
}

describe('log redaction', () => {
  it('a conninfo field keeps host and user but not the password, at the top level or one down', () => {
    const { log, text } = capture();
    log.info({ conninfo: 'postgres://rb:s3cret@db.example/rackboot' }, 'connecting');
    log.child({ svc: 'store' }).warn({ store: { conninfo: "host=db user=rb password='s3 cret'" } }, 'retrying');
    expect(text()).not.toContain('s3cret');
    expect(text()).not.toContain('s3 cret');
    expect(text()).toContain('postgres://rb:***@db.example/rackboot');
    expect(text()).toContain('host=db user=rb password=***');
  });

  it('a token is still hidden whole', () => {
    const { log, text } = capture();
    log.info({ adminToken: 'abcdef0123' }, 'x');
    expect(text()).not.toContain('abcdef0123');
  });
});
