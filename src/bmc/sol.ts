// One IPMI Serial-over-LAN session: `ipmitool sol activate` reading the
// node's serial console through its BMC. stdin stays an open pipe (ipmitool
// ends the session when its input ends) and is written only to end the
// session with ipmitool's own escape, "~.", so the BMC frees its single SOL
// slot instead of waiting for the session to time out. The password reaches
// ipmitool only through its environment, as for power actions (ipmi.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { TerminalLines } from '../console/terminal.js';
import { IPMI_PASSWORD_MAX, type IpmiOptions, IpmiBmc } from './ipmi.js';

/** How a session ended: asked to (`stopped`), or the BMC or ipmitool ended it. */
export interface SolEnd {
  reason: 'stopped' | 'refused' | 'dropped';
  /** ipmitool's last words on stderr, without its chatter (never the password: it is not on stderr or argv). */
  detail: string;
  lines: number;
}

/** ipmitool's own lines on stdout around the console's bytes. */
const IPMITOOL_CHATTER = /^\[SOL Session operational|^~\.? ?\[terminated ipmitool\]|^\[SOL session closed by BMC\]/;

const STDERR_KEEP = 4096;

export class SolSession {
  private child: ChildProcess | undefined;
  private readonly terminal = new TerminalLines();
  private stderr = '';
  private lineCount = 0;
  private stopping = false;
  readonly ended: Promise<SolEnd>;
  readonly describe: string;

  constructor(opts: IpmiOptions, onLine: (text: string) => void) {
    const bmc = new IpmiBmc(opts);
    this.describe = bmc.describe;
    const deliver = (lines: string[]) => {
      for (const l of lines) {
        if (IPMITOOL_CHATTER.test(l)) continue;
        this.lineCount++;
        onLine(l);
      }
    };
    if (Buffer.byteLength(opts.password) > IPMI_PASSWORD_MAX) {
      this.ended = Promise.resolve({ reason: 'refused', detail: `IPMI 2.0 passwords are at most ${IPMI_PASSWORD_MAX} bytes`, lines: 0 });
      return;
    }
    // -v (in argv) makes the handshake's failures say which step failed; the console bytes are on stdout only.
    const child = spawn('ipmitool', bmc.argv(['sol', 'activate']), {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', IPMI_PASSWORD: opts.password },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => deliver(this.terminal.feed(d)));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.stdin!.on('error', () => undefined);
    this.ended = new Promise((resolve) => {
      const finish = (code: number | null, err?: Error) => {
        deliver(this.terminal.flush());
        const detail = err ? err.message : meaningful(this.stderr);
        const reason: SolEnd['reason'] = this.stopping ? 'stopped' : this.lineCount === 0 && (code !== 0 || err) ? 'refused' : 'dropped';
        resolve({ reason, detail: (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'ipmitool is not installed (apt-get install ipmitool)' : detail, lines: this.lineCount });
      };
      child.once('error', (err) => finish(null, err));
      child.once('close', (code) => finish(code));
    });
  }

  /** Ends the session: ipmitool's escape first (the BMC frees its slot), a kill if it does not go within `graceMs`. */
  async stop(graceMs = 3000): Promise<SolEnd> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      // The escape character is recognised only at the start of a line.
      child.stdin!.write('\r~.');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.ended;
      clearTimeout(timer);
    }
    return this.ended;
  }
}

/** ipmitool's stderr without the noise a pipe and -v bring, one line. */
function meaningful(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^>\s*/, '').trim())
    .filter((l) => l && !/^tcgetattr|^Loading IANA|^Unable to Get Channel Cipher Suites|^Running Get|^(Sending|Received)|^\[SOL/.test(l));
  return lines.slice(-3).join('; ') || 'ipmitool ended without a message';
}
