// Redfish (DMTF DSP0266) power and boot control. Reads the ServiceRoot,
// finds the ComputerSystem (the address's path, or the only member of
// Systems), logs in through SessionService (X-Auth-Token) or falls back to
// HTTP basic auth, picks a ResetType the system says it allows, and PATCHes
// the boot override with If-Match so a concurrent change is not overwritten.
import { httpCall, type HttpReply, type HttpTarget } from './redfish-http.js';
import { BmcError, type Bmc, type BootMode, type PowerAction, type PowerState } from './types.js';

export interface RedfishOptions {
  host: string;
  port: number;
  tls: boolean;
  systemPath?: string;
  username: string;
  password: string;
  fingerprint?: string;
  /** session (default; basic when the service has no SessionService) or basic. */
  auth?: 'session' | 'basic';
  timeoutMs?: number;
}

/** ResetTypes that do each action, best first (Resource.ResetType in the DMTF schema). */
const RESET_PREFERENCE: Record<PowerAction, string[]> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff'],
  soft: ['GracefulShutdown'],
  cycle: ['PowerCycle', 'ForceRestart'],
};

type Json = Record<string, unknown>;

export class RedfishBmc implements Bmc {
  readonly describe: string;
  private readonly target: HttpTarget;
  private token?: string;
  private sessionUri?: string;
  private systemUri?: string;
  private root?: Json;

  constructor(private readonly opts: RedfishOptions) {
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    this.describe = `${opts.tls ? 'redfish' : 'redfish+http'}://${host}:${opts.port}${opts.systemPath ?? ''}`;
    this.target = { host: opts.host, port: opts.port, tls: opts.tls, fingerprint: opts.fingerprint, timeoutMs: opts.timeoutMs ?? 15_000 };
  }

  async powerStatus(): Promise<PowerState> {
    const system = await this.system();
    const state = system.json.PowerState;
    if (state === 'Off') return 'off';
    if (state === 'On' || state === 'PoweringOn' || state === 'PoweringOff' || state === 'Paused') return 'on';
    throw new BmcError('bmc', `${this.describe}: the system reports no PowerState (${JSON.stringify(state)})`);
  }

  async power(action: PowerAction): Promise<void> {
    const { json: system } = await this.system();
    const reset = (system.Actions as Json | undefined)?.['#ComputerSystem.Reset'] as Json | undefined;
    const targetUri = reset?.target;
    if (typeof targetUri !== 'string') throw new BmcError('bmc', `${this.describe}: the system offers no #ComputerSystem.Reset action`);
    const allowed = await this.allowedResetTypes(reset!);
    // An off machine does not restart; "cycle" means "make it boot", so it is powered on.
    const wanted = action === 'cycle' && system.PowerState === 'Off' ? RESET_PREFERENCE.on : RESET_PREFERENCE[action];
    const resetType = wanted.find((t) => allowed === undefined || allowed.includes(t));
    if (!resetType) {
      throw new BmcError('bmc', `${this.describe}: no ResetType for ${action} (wanted ${wanted.join(' or ')}; the system allows ${allowed!.join(', ')})`);
    }
    await this.call('POST', targetUri, { ResetType: resetType });
  }

  async pxeOnce(mode: BootMode): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { json: system, etag } = await this.system();
      const boot = (system.Boot ?? {}) as Json;
      const targets = boot['BootSourceOverrideTarget@Redfish.AllowableValues'];
      if (Array.isArray(targets) && !targets.includes('Pxe')) {
        throw new BmcError('bmc', `${this.describe}: the system cannot boot from Pxe (allowed targets: ${targets.join(', ')})`);
      }
      const patch: Json = { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' };
      // BootSourceOverrideMode exists only on systems that know UEFI from legacy; sending it elsewhere is an error.
      if ('BootSourceOverrideMode' in boot) patch.BootSourceOverrideMode = mode === 'uefi' ? 'UEFI' : 'Legacy';
      try {
        await this.call('PATCH', this.systemUri!, { Boot: patch }, etag ? { 'If-Match': etag } : {});
        return;
      } catch (err) {
        // 412: the system changed between our GET and PATCH; read it again once.
        if (err instanceof PreconditionFailed && attempt < 3) continue;
        if (err instanceof PreconditionFailed) throw new BmcError('bmc', `${this.describe}: the boot override kept changing under us (412 Precondition Failed three times)`);
        throw err;
      }
    }
  }

  /** Ends the session, if one was opened. */
  async close(): Promise<void> {
    if (!this.token || !this.sessionUri) return;
    const headers = { 'X-Auth-Token': this.token };
    this.token = undefined;
    await httpCall(this.target, 'DELETE', this.sessionUri, headers).catch(() => undefined);
  }

  private async allowedResetTypes(reset: Json): Promise<string[] | undefined> {
    const inline = reset['ResetType@Redfish.AllowableValues'];
    if (Array.isArray(inline)) return inline.map(String);
    const info = reset['@Redfish.ActionInfo'];
    if (typeof info === 'string') {
      const { json } = await this.call('GET', info);
      const param = ((json.Parameters ?? []) as Json[]).find((p) => p.Name === 'ResetType');
      if (Array.isArray(param?.AllowableValues)) return param.AllowableValues.map(String);
    }
    return undefined; // the service states no limit: any ResetType is allowed
  }

  private async system(): Promise<{ json: Json; etag?: string }> {
    if (!this.systemUri) this.systemUri = this.opts.systemPath ?? (await this.onlySystem());
    const reply = await this.call('GET', this.systemUri);
    const header = reply.headers.etag;
    const etag = typeof header === 'string' ? header : typeof reply.json['@odata.etag'] === 'string' ? reply.json['@odata.etag'] : undefined;
    return { json: reply.json, etag };
  }

  private async onlySystem(): Promise<string> {
    const root = await this.serviceRoot();
    const systems = (root.Systems as Json | undefined)?.['@odata.id'];
    if (typeof systems !== 'string') throw new BmcError('bmc', `${this.describe}: the service root links no Systems collection`);
    const { json } = await this.call('GET', systems);
    const members = ((json.Members ?? []) as Json[]).map((m) => m['@odata.id']).filter((m): m is string => typeof m === 'string');
    if (members.length !== 1) {
      throw new BmcError('config', `${this.describe}: the BMC manages ${members.length} systems (${members.join(', ')}); put the one to use in the address, e.g. redfish://host/redfish/v1/Systems/ID`);
    }
    return members[0]!;
  }

  private async serviceRoot(): Promise<Json> {
    if (this.root) return this.root;
    const reply = await httpCall(this.target, 'GET', '/redfish/v1/', {});
    if (reply.status !== 200 || !isObject(reply.json)) {
      throw new BmcError('bmc', `${this.describe}: GET /redfish/v1/ answered ${reply.status}${redfishMessage(reply.json)}; is this a Redfish service?`);
    }
    this.root = reply.json;
    return this.root;
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (this.token) return { 'X-Auth-Token': this.token };
    const root = await this.serviceRoot();
    const sessions = ((root.Links as Json | undefined)?.Sessions as Json | undefined)?.['@odata.id'];
    if (this.opts.auth === 'basic' || typeof sessions !== 'string') {
      return { Authorization: `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password}`).toString('base64')}` };
    }
    const reply = await httpCall(this.target, 'POST', sessions, {}, { UserName: this.opts.username, Password: this.opts.password });
    if (reply.status === 401 || reply.status === 403) {
      throw new BmcError('credentials', `${this.describe}: the BMC refused user ${JSON.stringify(this.opts.username)} or its password (${reply.status}${redfishMessage(reply.json)})`);
    }
    const token = reply.headers['x-auth-token'];
    if (reply.status >= 300 || typeof token !== 'string') {
      throw new BmcError('bmc', `${this.describe}: login at ${sessions} answered ${reply.status}${redfishMessage(reply.json)} without a session token`);
    }
    this.token = token;
    const location = reply.headers.location;
    this.sessionUri = typeof location === 'string' ? new URL(location, 'http://x').pathname : undefined;
    return { 'X-Auth-Token': token };
  }

  private async call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ json: Json; headers: HttpReply['headers'] }> {
    for (let attempt = 1; ; attempt++) {
      const hadToken = this.token !== undefined;
      const reply = await httpCall(this.target, method, path, { ...(await this.authHeaders()), ...extra }, body);
      if (reply.status === 401 && hadToken && attempt === 1) {
        this.token = undefined; // the session expired or was deleted: log in again, once
        continue;
      }
      if (reply.status === 401 || reply.status === 403) {
        throw new BmcError('credentials', `${this.describe}: ${method} ${path} refused (${reply.status}${redfishMessage(reply.json)}); check user ${JSON.stringify(this.opts.username)}, its password and its role`);
      }
      if (reply.status === 412) throw new PreconditionFailed();
      if (reply.status < 200 || reply.status >= 300) {
        throw new BmcError('bmc', `${this.describe}: ${method} ${path} answered ${reply.status}${redfishMessage(reply.json)}`);
      }
      return { json: isObject(reply.json) ? reply.json : {}, headers: reply.headers };
    }
  }
}

class PreconditionFailed extends Error {}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message of a Redfish error body ({"error": {"message", "@Message.ExtendedInfo"}}), if any. */
export function redfishMessage(body: unknown): string {
  if (!isObject(body) || !isObject(body.error)) return '';
  const e = body.error;
  const info = Array.isArray(e['@Message.ExtendedInfo']) ? (e['@Message.ExtendedInfo'] as Json[]) : [];
  const detail = info.map((i) => i.Message).filter((m): m is string => typeof m === 'string');
  const text = detail.length > 0 ? detail.join('; ') : typeof e.message === 'string' ? e.message : '';
  return text ? `: ${text}` : '';
}
