// IPMI over LAN (IPMI 2.0 RMCP+, "lanplus") through Debian's ipmitool.
// Chosen over a native client: ipmitool's RMCP+ handshake, cipher-suite
// negotiation and vendor quirks are proven against far more BMCs than a new
// implementation would be, and its verbose stderr says which handshake step
// failed, which is how a fault is laid on the network or the credentials.
// The password reaches ipmitool only through its environment (-E reads
// IPMI_PASSWORD): never argv (world-readable in /proc/PID/cmdline), never a log.
import { execFile } from 'node:child_process';
import { BmcError, type Bmc, type BootMode, type PowerAction, type PowerState } from './types.js';

export interface IpmiOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** Seconds ipmitool waits per try (-N) and tries (-R); the whole call is killed after timeoutMs. */
  retrySeconds?: number;
  retries?: number;
  timeoutMs?: number;
  /**
   * RMCP+ cipher suite (-C). Unset, ipmitool asks the BMC for its suites and
   * picks the strongest; a BMC that does not answer that query (ipmi_sim,
   * some older firmware) costs a timeout per call, so the suite can be fixed.
   */
  cipherSuite?: number;
}

/** IPMI 2.0 user passwords are at most 20 bytes (the spec's Set User Password). */
export const IPMI_PASSWORD_MAX = 20;

/** Commands per action: ipmitool's words for IPMI Chassis Control (IPMI 2.0 §28.3). */
const CHASSIS_CONTROL: Record<Exclude<PowerAction, 'cycle'>, string> = { on: 'on', off: 'off', soft: 'soft' };

export class IpmiBmc implements Bmc {
  readonly describe: string;
  constructor(private readonly opts: IpmiOptions) {
    this.describe = `ipmi://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  }

  async powerStatus(): Promise<PowerState> {
    const out = await this.run(['chassis', 'power', 'status']);
    const m = /Chassis Power is (on|off)/i.exec(out);
    if (!m) throw new BmcError('bmc', `${this.describe}: unexpected answer to chassis power status: ${firstLine(out)}`);
    return m[1]!.toLowerCase() as PowerState;
  }

  async power(action: PowerAction): Promise<void> {
    if (action === 'cycle') {
      // IPMI's power cycle is specified to do nothing on a machine that is off;
      // "cycle" here means "make it boot", so an off machine is powered on.
      const state = await this.powerStatus();
      await this.run(['chassis', 'power', state === 'off' ? 'on' : 'cycle']);
      return;
    }
    await this.run(['chassis', 'power', CHASSIS_CONTROL[action]]);
  }

  async pxeOnce(mode: BootMode): Promise<void> {
    // Without "persistent" ipmitool sets the boot flags valid for the next boot only.
    await this.run(['chassis', 'bootdev', 'pxe', ...(mode === 'uefi' ? ['options=efiboot'] : [])]);
  }

  /** argv for one ipmitool call; exported for the test that checks no secret is in it. */
  argv(command: string[]): string[] {
    const o = this.opts;
    return ['-I', 'lanplus', '-H', o.host, '-p', String(o.port), '-U', o.username, '-E', '-v',
      '-N', String(o.retrySeconds ?? 2), '-R', String(o.retries ?? 3),
      ...(o.cipherSuite !== undefined ? ['-C', String(o.cipherSuite)] : []), ...command];
  }

  private run(command: string[]): Promise<string> {
    const o = this.opts;
    if (Buffer.byteLength(o.password) > IPMI_PASSWORD_MAX) {
      return Promise.reject(new BmcError('config', `${this.describe}: IPMI 2.0 passwords are at most ${IPMI_PASSWORD_MAX} bytes; store the BMC's real password`));
    }
    const timeout = o.timeoutMs ?? ((o.retrySeconds ?? 2) * (o.retries ?? 3) + 5) * 1000;
    return new Promise((resolve, reject) => {
      const child = execFile('ipmitool', this.argv(command), {
        // A bare environment: nothing of the daemon's leaks in, and the password only here.
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', IPMI_PASSWORD: o.password },
        timeout, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 1 << 20,
      }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        reject(this.classify(err as NodeJS.ErrnoException & { killed?: boolean }, stderr, command, timeout));
      });
      child.stdin?.end();
    });
  }

  private classify(err: NodeJS.ErrnoException & { killed?: boolean }, stderr: string, command: string[], timeoutMs: number): BmcError {
    const what = `${this.describe} (${command.join(' ')})`;
    if (err.code === 'ENOENT') return new BmcError('config', `ipmitool is not installed (apt-get install ipmitool); needed for ${this.describe}`);
    if (err.killed) return new BmcError('network', `${what}: no answer within ${Math.round(timeoutMs / 1000)} s`);
    if (/RAKP \d+ (HMAC is invalid|message indicates an error)|unauthorized name|invalid (role|password)|Activate Session error/i.test(stderr)) {
      return new BmcError('credentials', `${what}: the BMC refused user ${JSON.stringify(this.opts.username)} or its password (${meaningful(stderr)})`);
    }
    if (/Unable to establish IPMI v2|Get Auth Capabilities error|No response|Insufficient resources for session/i.test(stderr)) {
      return new BmcError('network', `${what}: no RMCP+ session (${meaningful(stderr)}); is the BMC at that address and port reachable?`);
    }
    return new BmcError('bmc', `${what}: ${meaningful(stderr)}`);
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

/** ipmitool's verbose stderr without its chatter, one line. */
function meaningful(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^>\s*/, '').trim())
    .filter((l) => l && !/^Loading IANA|^Unable to Get Channel Cipher Suites|^Running Get|^(Sending|Received)/.test(l));
  return lines.slice(0, 3).join('; ') || 'ipmitool failed without a message';
}
