// A Redfish service fake (DMTF DSP0266 protocol, resource shapes from the
// DMTF schemas ServiceRoot v1_5, ComputerSystemCollection, ComputerSystem
// v1_13, Manager v1_10, SessionService v1_1, Session v1_3, and the Base
// message registry for errors) driving one ProcessMachine. Enough of the
// standard for rackboot's client, DMTF's redfishtool and OpenStack's sushy.
// Faults for tests: refuse credentials (wrong password), answer slowly,
// accept Reset and ignore it.
import { randomBytes } from 'node:crypto';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ProcessMachine } from './machine.js';

export interface RedfishFakeOptions {
  username?: string;
  password?: string;
  tls?: { cert: string; key: string };
  resetTypes?: string[];
  /** Added before every answer. */
  delayMs?: number;
  /** Reset answers 204 and does nothing: a BMC that accepts commands and ignores them. */
  ignoreResets?: boolean;
  machine?: ProcessMachine;
  /** Another client changes the system right after each of our first N GETs of it (so our ETag goes stale). */
  concurrentWrites?: number;
}

type Json = Record<string, unknown>;
const ODATA_VERSION = '4.0';
const SYSTEM = '/redfish/v1/Systems/1';
const BOOT_TARGETS = ['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup', 'UefiShell'];

export class RedfishFake {
  readonly machine: ProcessMachine;
  /** Every request: "METHOD path status", for tests that count calls. */
  readonly requests: string[] = [];
  readonly resets: string[] = [];
  /** The If-Match header of each PATCH ('' when absent). */
  readonly ifMatches: string[] = [];
  private readonly sessions = new Map<string, { id: string; user: string }>();
  private boot = { BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideTarget: 'None', BootSourceOverrideMode: 'UEFI' };
  private generation = 1;
  private server!: Server;
  port = 0;

  constructor(private readonly opts: RedfishFakeOptions = {}) {
    this.machine = opts.machine ?? new ProcessMachine();
  }

  get username(): string { return this.opts.username ?? 'root'; }
  get password(): string { return this.opts.password ?? 'calvin-fake-9'; }
  get bootOverride() { return { ...this.boot }; }
  private get etag(): string { return `W/"${this.generation}"`; }

  async start(): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = this.opts.tls ? createHttps({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : createHttp(handler);
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await this.machine.stop();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Forgets every session, as a BMC does when sessions time out or it restarts. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** Firmware consuming a one-time boot override: the next start uses it, then it is disabled. */
  private powerOn(): void {
    const once = this.boot.BootSourceOverrideEnabled !== 'Disabled' && this.boot.BootSourceOverrideTarget === 'Pxe';
    if (this.boot.BootSourceOverrideEnabled === 'Once') {
      this.boot = { ...this.boot, BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideTarget: 'None' };
      this.generation++;
    }
    this.machine.start(once ? 'pxe' : 'default');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.opts.delayMs) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/$/, '') || '/';
    const method = req.method ?? 'GET';
    const send = (status: number, body?: Json, headers: Record<string, string> = {}) => {
      this.requests.push(`${method} ${path} ${status}`);
      const text = body ? JSON.stringify(body) : '';
      res.writeHead(status, { 'OData-Version': ODATA_VERSION, ...(body ? { 'Content-Type': 'application/json; charset=utf-8' } : {}), ...headers });
      res.end(text);
    };
    let body: Json = {};
    if (chunks.length > 0) {
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json; } catch {
        return send(400, error('MalformedJSON', 'The request body submitted was malformed JSON and could not be parsed by the receiving service.'));
      }
    }
    // Public per DSP0266: the version document, the service root, and creating a session.
    if (method === 'GET' && (path === '/redfish' || path === '/redfish/v1')) {
      return send(200, path === '/redfish' ? { v1: '/redfish/v1/' } : this.serviceRoot());
    }
    if (method === 'POST' && path === '/redfish/v1/SessionService/Sessions') return this.login(body, send);
    const user = this.authenticate(req);
    if (!user) {
      return send(401, error('NoValidSession', 'There is no valid session established with the implementation.'), { 'WWW-Authenticate': 'Basic realm="fake BMC"' });
    }
    const resource = this.resource(path);
    if (method === 'GET') {
      if (!resource) return send(404, error('ResourceMissingAtURI', `The resource at the URI ${path} was not found.`));
      const etag = this.etag;
      if (path === SYSTEM && (this.opts.concurrentWrites ?? 0) > 0) {
        this.opts.concurrentWrites!--;
        this.generation++;
      }
      return send(200, resource, path === SYSTEM ? { ETag: etag } : {});
    }
    if (method === 'DELETE' && path.startsWith('/redfish/v1/SessionService/Sessions/')) {
      const id = path.split('/').pop()!;
      for (const [token, s] of this.sessions) if (s.id === id) this.sessions.delete(token);
      return send(204);
    }
    if (method === 'PATCH' && path === SYSTEM) return this.patchSystem(req, body, send);
    if (method === 'POST' && path === `${SYSTEM}/Actions/ComputerSystem.Reset`) return this.reset(body, send);
    if (!resource) return send(404, error('ResourceMissingAtURI', `The resource at the URI ${path} was not found.`));
    return send(405, error('OperationNotAllowed', `The ${method} operation is not allowed on ${path}.`), { Allow: 'GET' });
  }

  private login(body: Json, send: (s: number, b?: Json, h?: Record<string, string>) => void): void {
    if (typeof body.UserName !== 'string' || typeof body.Password !== 'string') {
      return send(400, error('PropertyMissing', 'The property UserName or Password is a required property and must be included in the request.'));
    }
    if (body.UserName !== this.username || body.Password !== this.password) {
      return send(401, error('InsufficientPrivilege', 'There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.'));
    }
    const token = randomBytes(16).toString('hex');
    const id = String(this.sessions.size + 1) + randomBytes(2).toString('hex');
    this.sessions.set(token, { id, user: body.UserName });
    const uri = `/redfish/v1/SessionService/Sessions/${id}`;
    send(201, this.session(id, body.UserName), { 'X-Auth-Token': token, Location: uri });
  }

  private authenticate(req: IncomingMessage): string | undefined {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return this.sessions.get(token)?.user;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (!basic) return undefined;
    const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    return user === this.username && rest.join(':') === this.password ? user : undefined;
  }

  private patchSystem(req: IncomingMessage, body: Json, send: (s: number, b?: Json, h?: Record<string, string>) => void): void {
    const ifMatch = req.headers['if-match'];
    this.ifMatches.push(typeof ifMatch === 'string' ? ifMatch : '');
    if (typeof ifMatch === 'string' && ifMatch !== '*' && !ifMatch.split(',').map((s) => s.trim()).includes(this.etag)) {
      return send(412, error('PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
    }
    const boot = body.Boot as Json | undefined;
    const known = new Set(['Boot']);
    const unknown = Object.keys(body).find((k) => !known.has(k) && !k.startsWith('@'));
    if (unknown) return send(400, error('PropertyUnknown', `The property ${unknown} is not in the list of valid properties for the resource.`));
    if (!boot || typeof boot !== 'object') return send(400, error('PropertyMissing', 'The property Boot is a required property and must be included in the request.'));
    const allowed: Record<string, string[]> = {
      BootSourceOverrideEnabled: ['Disabled', 'Once', 'Continuous'],
      BootSourceOverrideTarget: BOOT_TARGETS,
      BootSourceOverrideMode: ['UEFI', 'Legacy'],
    };
    for (const [k, v] of Object.entries(boot)) {
      if (!(k in allowed)) return send(400, error('PropertyUnknown', `The property ${k} is not in the list of valid properties for the resource.`));
      if (!allowed[k]!.includes(v as string)) return send(400, error('PropertyValueNotInList', `The value ${JSON.stringify(v)} for the property ${k} is not in the list of acceptable values.`));
    }
    this.boot = { ...this.boot, ...(boot as typeof this.boot) };
    this.generation++;
    send(200, this.system(), { ETag: this.etag });
  }

  private async reset(body: Json, send: (s: number, b?: Json, h?: Record<string, string>) => void): Promise<void> {
    const type = body.ResetType;
    if (typeof type !== 'string') return send(400, error('ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.'));
    if (!this.resetTypes.includes(type)) {
      return send(400, error('ActionParameterNotSupported', `The parameter ResetType for the action ComputerSystem.Reset is not supported on the target resource: ${type}.`));
    }
    this.resets.push(type);
    if (!this.opts.ignoreResets) {
      if (type === 'On' || type === 'ForceOn') this.powerOn();
      else if (type === 'ForceOff') await this.machine.stop();
      else if (type === 'GracefulShutdown') await this.machine.stop(true);
      else if (type === 'ForceRestart' || type === 'PowerCycle' || type === 'GracefulRestart') {
        if (type !== 'ForceRestart' || this.machine.on) {
          await this.machine.stop(type === 'GracefulRestart');
          this.powerOn();
        }
      }
    }
    send(204);
  }

  private get resetTypes(): string[] {
    return this.opts.resetTypes ?? ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle'];
  }

  private resource(path: string): Json | undefined {
    switch (path) {
      case '/redfish/v1/Systems': return collection('#ComputerSystemCollection.ComputerSystemCollection', 'Computer System Collection', path, [SYSTEM]);
      case SYSTEM: return this.system();
      case '/redfish/v1/Managers': return collection('#ManagerCollection.ManagerCollection', 'Manager Collection', path, ['/redfish/v1/Managers/BMC']);
      case '/redfish/v1/Managers/BMC': return {
        '@odata.id': path, '@odata.type': '#Manager.v1_10_0.Manager', Id: 'BMC', Name: 'Fake BMC', ManagerType: 'BMC',
        Status: { State: 'Enabled', Health: 'OK' }, PowerState: 'On', FirmwareVersion: '1.0.0-fake',
        Links: { ManagerForServers: [{ '@odata.id': SYSTEM }] },
      };
      case '/redfish/v1/SessionService': return {
        '@odata.id': path, '@odata.type': '#SessionService.v1_1_8.SessionService', Id: 'SessionService', Name: 'Session Service',
        ServiceEnabled: true, SessionTimeout: 600, Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' },
      };
      case '/redfish/v1/SessionService/Sessions':
        return collection('#SessionCollection.SessionCollection', 'Session Collection', path, [...this.sessions.values()].map((s) => `${path}/${s.id}`));
      default: {
        const s = [...this.sessions.values()].find((x) => path === `/redfish/v1/SessionService/Sessions/${x.id}`);
        return s ? this.session(s.id, s.user) : undefined;
      }
    }
  }

  private serviceRoot(): Json {
    return {
      '@odata.id': '/redfish/v1/', '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot', Id: 'RootService', Name: 'Root Service',
      RedfishVersion: '1.11.0', UUID: '92384634-2938-2342-8820-489239905423',
      Systems: { '@odata.id': '/redfish/v1/Systems' }, Managers: { '@odata.id': '/redfish/v1/Managers' },
      SessionService: { '@odata.id': '/redfish/v1/SessionService' },
      Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
    };
  }

  private system(): Json {
    return {
      '@odata.id': SYSTEM, '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem', '@odata.etag': this.etag,
      Id: '1', Name: 'Fake server', SystemType: 'Physical', Manufacturer: 'rackboot tests', Model: 'process machine',
      UUID: '4c4c4544-0000-1000-8000-000000000001', PowerState: this.machine.on ? 'On' : 'Off',
      Status: { State: 'Enabled', Health: 'OK' },
      Boot: { ...this.boot, 'BootSourceOverrideTarget@Redfish.AllowableValues': BOOT_TARGETS },
      Actions: {
        '#ComputerSystem.Reset': { target: `${SYSTEM}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': this.resetTypes },
      },
      Links: { ManagedBy: [{ '@odata.id': '/redfish/v1/Managers/BMC' }] },
    };
  }

  private session(id: string, user: string): Json {
    return { '@odata.id': `/redfish/v1/SessionService/Sessions/${id}`, '@odata.type': '#Session.v1_3_0.Session', Id: id, Name: `User Session ${id}`, UserName: user };
  }
}

function collection(type: string, name: string, path: string, members: string[]): Json {
  return { '@odata.id': path, '@odata.type': type, Name: name, 'Members@odata.count': members.length, Members: members.map((m) => ({ '@odata.id': m })) };
}

/** A Redfish error response body with one Base registry message. */
export function error(messageId: string, message: string): Json {
  return {
    error: {
      code: `Base.1.8.${messageId}`, message,
      '@Message.ExtendedInfo': [{ '@odata.type': '#Message.v1_1_1.Message', MessageId: `Base.1.8.${messageId}`, Message: message, Severity: 'Critical', Resolution: 'See the message.' }],
    },
  };
}

