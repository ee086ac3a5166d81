import { describe, expect, it } from 'vitest';
import { userInfo } from 'node:os';
import { cliActor } from '../../src/cli/actor.js';

describe('the CLI actor in events', () => {
  it('names the unix user, and who ran sudo', () => {
    expect(cliActor({}, () => 'alice')).toBe('cli:alice');
    expect(cliActor({ SUDO_USER: 'alice' }, () => 'root')).toBe('cli:root (sudo by alice)');
    expect(cliActor({ SUDO_USER: 'root' }, () => 'root')).toBe('cli:root');
    expect(cliActor({}, () => { throw new Error('no passwd entry'); })).toMatch(/^cli:uid \d+$/);
    expect(cliActor({})).toBe(`cli:${userInfo().username}`);
  });
});
