/**
 * Redfish driver: GET the ComputerSystem's `PowerState`, POST `ComputerSystem.Reset`.
 *
 * A Reset is acknowledged (200/202/204) before the power changes, and the system passes
 * through PoweringOn/PoweringOff; those read as 'unknown' so the host keeps verifying instead
 * of failing. The Reset target and its allowed ResetTypes are read from the system resource
 * (or its @Redfish.ActionInfo); a ResetType the BMC does not allow is never replaced by a
 * button press, whose effect depends on the current state.
 *
 * Auth 'session' logs in once per BMC url + user and keeps the X-Auth-Token in this driver
 * instance; a 401 drops the token and logs in again once before it counts as an auth error.
 */
import { Type } from '@sinclair/typebox';
import { resolveTiming, TimingParamsSchema, type Timing, type TimingParams } from './timing.ts';
import { createHttpClient, errorForStatus, parseJson, type HttpClient, type HttpResponse, urlOrigin } from './http-client.ts';
import {
  DriverError,
  type DriverCapabilities,
  type DriverTarget,
  type PowerDriver,
  type PowerReading,
  type StepAck,
} from './types.ts';

export interface RedfishParams {
  /** BMC base URL, e.g. https://10.0.0.5 (a trailing /redfish/v1 is accepted). */
  url: string;
  /** Member id under /redfish/v1/Systems (or its full @odata.id); discovered when there is one. */
  systemId?: string;
  user: string;
  password: string;
  /** Accept a self-signed TLS certificate. */
  insecure?: boolean;
  auth?: 'basic' | 'session';
  timing?: TimingParams;
}

export interface RedfishDriverDeps {
  /** Shared HTTP client; the driver creates its own when absent. */
  readonly http?: HttpClient;
  /** Deadline of one HTTP request when the driver creates its own client. */
  readonly requestTimeoutMs?: number;
}

const paramsSchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'BMC base URL (http or https)' }),
    systemId: Type.Optional(Type.String({ minLength: 1 })),
    user: Type.String({ minLength: 1 }),
    password: Type.String(),
    insecure: Type.Optional(Type.Boolean({ default: false })),
    auth: Type.Optional(Type.Union([Type.Literal('basic'), Type.Literal('session')], { default: 'basic' })),
    timing: Type.Optional(TimingParamsSchema),
  },
  { additionalProperties: false },
);

/**
 * Redfish BMCs answer a Reset in seconds but can take 30 s under load (iDRAC), and a session
 * login is a request of its own; a Reset they accepted may still be applied well after.
 */
export const REDFISH_TIMING: Timing = {
  requestTimeoutMs: 30_000,
  commandBudgetMs: 90_000,
  settleMs: 30_000,
  stepTimeoutMs: 180_000,
  attempts: 3,
  minIntervalMs: 0,
};

const capabilitiesOf = (params: RedfishParams): DriverCapabilities => ({
  softOff: true,
  queryable: true,
  timing: resolveTiming(REDFISH_TIMING, params.timing),
  reportsStateOnAck: false,
});

type Step = 'on' | 'off' | 'softOff';

/** ResetTypes in order of preference. PushPowerButton toggles, so it stands in for nothing. */
const RESET_TYPES: Record<Step, readonly string[]> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff'],
  softOff: ['GracefulShutdown'],
};

const SYSTEMS_PATH = '/redfish/v1/Systems';
const SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';
const RESET_ACTION = '#ComputerSystem.Reset';
const ALLOWABLE = 'ResetType@Redfish.AllowableValues';

type Json = Record<string, unknown>;

export function createRedfishDriver(deps: RedfishDriverDeps = {}): PowerDriver<RedfishParams> {
  const http = deps.http ?? createHttpClient({ requestTimeoutMs: deps.requestTimeoutMs });
  /** X-Auth-Token per `${base} ${user}`. */
  const sessions = new Map<string, string>();
  /** Discovered system path per BMC base. */
  const discovered = new Map<string, string>();

  async function send(
    params: RedfishParams,
    method: string,
    path: string,
    signal: AbortSignal,
    json?: unknown,
  ): Promise<HttpResponse> {
    const base = baseUrl(params);
    const url = new URL(path, base).toString();
    const what = `redfish ${method} ${new URL(url).pathname}`;
    const common = { 'odata-version': '4.0' };
    if (params.auth !== 'session') {
      const basic = Buffer.from(`${params.user}:${params.password}`, 'utf8').toString('base64');
      return http.request({
        method, url, json, signal, what, insecure: params.insecure,
        headers: { ...common, authorization: `Basic ${basic}` },
      });
    }
    const cacheKey = `${base} ${params.user}`;
    for (let attempt = 0; ; attempt++) {
      let token = sessions.get(cacheKey);
      if (token === undefined) {
        token = await login(params, base, signal);
        sessions.set(cacheKey, token);
      }
      const res = await http.request({
        method, url, json, signal, what, insecure: params.insecure,
        headers: { ...common, 'x-auth-token': token },
      });
      if (res.status !== 401 || attempt > 0) return res;
      // The session expired or was deleted on the BMC: log in again, once.
      if (sessions.get(cacheKey) === token) sessions.delete(cacheKey);
    }
  }

  async function login(params: RedfishParams, base: string, signal: AbortSignal): Promise<string> {
    const what = `redfish POST ${SESSIONS_PATH}`;
    const res = await http.request({
      method: 'POST',
      url: new URL(SESSIONS_PATH, base).toString(),
      json: { UserName: params.user, Password: params.password },
      headers: { 'odata-version': '4.0' },
      insecure: params.insecure,
      signal,
      what,
    });
    if (res.status < 200 || res.status > 299) throw errorForStatus(res.status, what, redfishMessage(res));
    const token = res.headers.get('x-auth-token');
    if (!token) throw new DriverError('protocol', `${what}: session created but no X-Auth-Token header in the answer`);
    return token;
  }

  async function getJson(params: RedfishParams, path: string, signal: AbortSignal): Promise<Json> {
    const res = await send(params, 'GET', path, signal);
    const what = `redfish GET ${path}`;
    if (res.status !== 200) throw errorForStatus(res.status, what, redfishMessage(res));
    const body = parseJson(res, what);
    if (!isObject(body)) throw new DriverError('protocol', `${what}: expected a JSON object`);
    return body;
  }

  async function systemPath(params: RedfishParams, signal: AbortSignal): Promise<string> {
    if (params.systemId !== undefined) {
      return params.systemId.startsWith('/')
        ? params.systemId
        : `${SYSTEMS_PATH}/${encodeURIComponent(params.systemId)}`;
    }
    const base = baseUrl(params);
    const known = discovered.get(base);
    if (known) return known;
    const collection = await getJson(params, SYSTEMS_PATH, signal);
    const members = Array.isArray(collection.Members) ? collection.Members : [];
    const ids = members
      .map((member: unknown) => (isObject(member) ? member['@odata.id'] : undefined))
      .filter((id): id is string => typeof id === 'string');
    if (ids.length === 0) throw new DriverError('config', `redfish ${base}: ${SYSTEMS_PATH} lists no systems`);
    if (ids.length > 1) {
      const names = ids.map((id) => id.split('/').pop()).join(', ');
      throw new DriverError('config', `redfish ${base}: ${ids.length} systems (${names}); set systemId to one of them`);
    }
    const [only] = ids as [string];
    discovered.set(base, only);
    return only;
  }

  async function getSystem(params: RedfishParams, signal: AbortSignal): Promise<{ path: string; system: Json }> {
    const path = await systemPath(params, signal);
    try {
      return { path, system: await getJson(params, path, signal) };
    } catch (err) {
      if (err instanceof DriverError && err.kind === 'config') discovered.delete(baseUrl(params));
      throw err;
    }
  }

  async function allowedResetTypes(
    params: RedfishParams,
    action: Json | undefined,
    signal: AbortSignal,
  ): Promise<string[] | undefined> {
    if (!action) return undefined;
    const listed = stringArray(action[ALLOWABLE]);
    if (listed) return listed;
    const infoPath = action['@Redfish.ActionInfo'];
    if (typeof infoPath !== 'string') return undefined;
    const info = await getJson(params, infoPath, signal);
    const parameters = Array.isArray(info.Parameters) ? info.Parameters : [];
    const resetType = parameters.find((p: unknown) => isObject(p) && p.Name === 'ResetType');
    return isObject(resetType) ? stringArray(resetType.AllowableValues) : undefined;
  }

  async function reset(target: DriverTarget<RedfishParams>, step: Step, signal: AbortSignal): Promise<StepAck> {
    const { params } = target;
    const { path, system } = await getSystem(params, signal);
    const actions = isObject(system.Actions) ? system.Actions : {};
    const action = isObject(actions[RESET_ACTION]) ? actions[RESET_ACTION] : undefined;
    const allowed = await allowedResetTypes(params, action, signal);
    const resetType = chooseResetType(step, allowed);
    const targetPath = typeof action?.target === 'string' ? action.target : `${path}/Actions/ComputerSystem.Reset`;
    const base = baseUrl(params);
    if (new URL(targetPath, base).origin !== new URL(base).origin) {
      throw new DriverError('protocol', `redfish ${base}: Reset target ${targetPath} points to another host; refusing to send credentials there`);
    }
    const res = await send(params, 'POST', targetPath, signal, { ResetType: resetType });
    if (res.status >= 200 && res.status <= 299) return {};
    // Several BMCs refuse a Reset to the state the system is already in (400 or 409);
    // that is the outcome we asked for, not a failure.
    if ((res.status === 400 || res.status === 409) && readPowerState(system.PowerState) === (step === 'on' ? 'on' : 'off')) {
      return {};
    }
    throw errorForStatus(res.status, `redfish POST ${targetPath} ResetType=${resetType}`, redfishMessage(res));
  }

  return {
    name: 'redfish',
    paramsSchema,
    secretParams: ['password'],
    validateParams: validateRedfishParams,
    capabilities: capabilitiesOf,
    defaultBmc: (params) => urlOrigin(params.url),
    powerOn: (target, signal) => reset(target, 'on', signal),
    powerOff: (target, signal) => reset(target, 'off', signal),
    softOff: (target, signal) => reset(target, 'softOff', signal),
    async query(target, signal): Promise<PowerReading> {
      const { system } = await getSystem(target.params, signal);
      return readPowerState(system.PowerState);
    },
  };
}

export function validateRedfishParams(params: RedfishParams): void {
  let url: URL;
  try {
    url = new URL(params.url);
  } catch {
    throw new DriverError('config', `url: "${params.url}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DriverError('config', `url: expected http:// or https://, got ${url.protocol}`);
  }
  if (params.auth !== undefined && params.auth !== 'basic' && params.auth !== 'session') {
    throw new DriverError('config', `auth: expected "basic" or "session", got "${String(params.auth)}"`);
  }
}

/** On/Off are final; PoweringOn/PoweringOff/Reset/absent mean "look again later". */
export function readPowerState(value: unknown): PowerReading {
  if (value === 'On') return 'on';
  if (value === 'Off') return 'off';
  return 'unknown';
}

export function chooseResetType(step: Step, allowed: readonly string[] | undefined): string {
  const preferred = RESET_TYPES[step];
  if (!allowed) return preferred[0] as string;
  const match = preferred.find((type) => allowed.includes(type));
  if (match) return match;
  throw new DriverError(
    'unsupported',
    `redfish: the BMC allows ResetType ${allowed.join(', ') || '(none)'}, none of ${preferred.join(', ')} needed for ${step}`,
  );
}

/** Every Redfish path is absolute (/redfish/v1/...), so only the origin of the url counts. */
function baseUrl(params: RedfishParams): string {
  return `${new URL(params.url).origin}/`;
}

/** The human message of a Redfish error body, if there is one. */
function redfishMessage(res: HttpResponse): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return undefined;
  }
  if (!isObject(body) || !isObject(body.error)) return undefined;
  const info = body.error['@Message.ExtendedInfo'];
  const first: unknown = Array.isArray(info) ? info[0] : undefined;
  if (isObject(first) && typeof first.Message === 'string') return first.Message;
  return typeof body.error.message === 'string' ? body.error.message : undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}
