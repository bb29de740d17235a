/**
 * Redfish driver: GET the ComputerSystem's `PowerState`, POST `ComputerSystem.Reset`.
 *
 * A Reset is acknowledged (200/202/204) before the power changes, and the system passes
 * through PoweringOn/PoweringOff; those read as 'unknown' so the host keeps verifying instead
 * of failing. The Reset target and its allowed ResetTypes are read from the system resource
 * (or its @Redfish.ActionInfo) and kept per BMC + system, so a step is one POST; a query
 * refreshes them for free, and a 404 from the kept target reads them again once. A ResetType
 * the BMC does not allow is never replaced by a button press, whose effect depends on the
 * current state.
 *
 * Auth 'session' logs in once per BMC url + user and keeps the X-Auth-Token in this driver
 * instance; a 401 drops the token and logs in again once before it counts as an auth error.
 * A BMC without a session service (the login answers 404/405/501) is a config error that says
 * so, unless the node allows `sessionFallbackToBasic`. Without `user` no credential is sent
 * (a BMC that needs no authentication).
 */
import { Type } from '@sinclair/typebox';
import { LIMIT_PARAMS, DEFAULT_ATTEMPTS, resolveLimits, resolveTiming, type RetryParams, type Timing, type TimingParams } from './timing.ts';
import { createHttpClient, errorForStatus, parseJson, type HttpClient, type HttpResponse, urlOrigin } from './http-client.ts';
import {
  DriverError,
  type DriverCapabilities,
  type DriverTarget,
  type PowerDriver,
  type Reading,
  type StepAck,
} from './types.ts';
import { checkBmcUrl } from './redact.ts';

export interface RedfishParams {
  /** BMC base URL, e.g. https://10.0.0.5 (a trailing /redfish/v1 is accepted). */
  url: string;
  /** Member id under /redfish/v1/Systems (or its full @odata.id); discovered when there is one. */
  systemId?: string;
  /** Absent for a BMC that needs no authentication: then no Authorization header at all. */
  user?: string;
  /** Needed with user (may be empty); not without it. */
  password?: string;
  /** Accept a self-signed TLS certificate. */
  insecure?: boolean;
  auth?: 'basic' | 'session';
  /** With auth 'session': use basic auth when the BMC has no session service (login answers 404/405/501). */
  sessionFallbackToBasic?: boolean;
  timing?: TimingParams;
  retry?: RetryParams;
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
    user: Type.Optional(Type.String({ minLength: 1, description: 'BMC user; leave out (with password) when the BMC needs no authentication' })),
    password: Type.Optional(Type.String({ description: 'Password of user (secret)' })),
    insecure: Type.Optional(Type.Boolean({ default: false })),
    auth: Type.Optional(Type.Union([Type.Literal('basic'), Type.Literal('session')], { default: 'basic' })),
    sessionFallbackToBasic: Type.Optional(
      Type.Boolean({ default: false, description: 'With auth "session": use basic auth when the BMC has no session service' }),
    ),
    ...LIMIT_PARAMS,
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
  attempts: DEFAULT_ATTEMPTS,
  minIntervalMs: 0,
};

const requestTimeoutOf = (params: RedfishParams): number => resolveTiming(REDFISH_TIMING, params.timing).requestTimeoutMs;

const capabilitiesOf = (params: RedfishParams): DriverCapabilities => ({
  softOff: true,
  queryable: true,
  ...resolveLimits(REDFISH_TIMING, params),
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
/** Login statuses that mean "this BMC has no session service" rather than "wrong credentials". */
const NO_SESSION_SERVICE = new Set([404, 405, 501]);

type Json = Record<string, unknown>;

/** A system's Reset action as the BMC describes it. */
interface ResetAction {
  readonly target: string;
  /** undefined: the BMC lists none, so the preferred type is sent. */
  readonly allowed: readonly string[] | undefined;
}

export function createRedfishDriver(deps: RedfishDriverDeps = {}): PowerDriver<RedfishParams> {
  const http = deps.http ?? createHttpClient({ requestTimeoutMs: deps.requestTimeoutMs });
  /** X-Auth-Token per `${base} ${user}`. */
  const sessions = new Map<string, string>();
  /** `${base} ${user}` of session-mode nodes whose BMC has no session service and that allow basic auth. */
  const basicInstead = new Set<string>();
  /** Discovered system path per BMC base. */
  const discovered = new Map<string, string>();
  /** Reset action per `${base} ${system path}`. */
  const resetActions = new Map<string, ResetAction>();

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
    const request = (headers: Record<string, string>): Promise<HttpResponse> =>
      http.request({ method, url, json, signal, what, insecure: params.insecure, timeoutMs: requestTimeoutOf(params), headers: { ...common, ...headers } });
    if (params.user === undefined) return request({});
    const basic = (): Record<string, string> => ({
      authorization: `Basic ${Buffer.from(`${params.user ?? ''}:${params.password ?? ''}`, 'utf8').toString('base64')}`,
    });
    const cacheKey = `${base} ${params.user}`;
    if (params.auth !== 'session' || basicInstead.has(cacheKey)) return request(basic());
    for (let attempt = 0; ; attempt++) {
      let token = sessions.get(cacheKey);
      if (token === undefined) {
        const login = await logIn(params, base, signal);
        if ('noSessionService' in login) {
          if (!params.sessionFallbackToBasic) throw noSessionServiceError(base, login.noSessionService);
          basicInstead.add(cacheKey);
          return request(basic());
        }
        token = login.token;
        sessions.set(cacheKey, token);
      }
      const res = await request({ 'x-auth-token': token });
      if (res.status !== 401 || attempt > 0) return res;
      // The session expired or was deleted on the BMC: log in again, once.
      if (sessions.get(cacheKey) === token) sessions.delete(cacheKey);
    }
  }

  async function logIn(
    params: RedfishParams,
    base: string,
    signal: AbortSignal,
  ): Promise<{ token: string } | { noSessionService: number }> {
    const what = `redfish POST ${SESSIONS_PATH}`;
    const res = await http.request({
      method: 'POST',
      url: new URL(SESSIONS_PATH, base).toString(),
      json: { UserName: params.user, Password: params.password ?? '' },
      headers: { 'odata-version': '4.0' },
      insecure: params.insecure,
      timeoutMs: requestTimeoutOf(params),
      signal,
      what,
    });
    if (NO_SESSION_SERVICE.has(res.status)) return { noSessionService: res.status };
    if (res.status < 200 || res.status > 299) throw errorForStatus(res.status, what, redfishMessage(res));
    const token = res.headers.get('x-auth-token');
    if (!token) throw new DriverError('protocol', `${what}: session created but no X-Auth-Token header in the answer`);
    return { token };
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

  /** Reads the Reset action from a fresh system resource (and its ActionInfo) and keeps it. */
  async function discoverResetAction(params: RedfishParams, signal: AbortSignal): Promise<ResetAction> {
    const { path, system } = await getSystem(params, signal);
    const action = resetActionOf(system);
    const found: ResetAction = {
      target: typeof action?.target === 'string' ? action.target : `${path}/Actions/ComputerSystem.Reset`,
      allowed: await allowedResetTypes(params, action, signal),
    };
    resetActions.set(resetKey(params, path), found);
    return found;
  }

  /** Refreshes the kept Reset action from a system resource read anyway, when that needs no request. */
  function rememberResetAction(params: RedfishParams, path: string, system: Json): void {
    const action = resetActionOf(system);
    if (action && action[ALLOWABLE] === undefined && typeof action['@Redfish.ActionInfo'] === 'string') return;
    resetActions.set(resetKey(params, path), {
      target: typeof action?.target === 'string' ? action.target : `${path}/Actions/ComputerSystem.Reset`,
      allowed: action ? stringArray(action[ALLOWABLE]) : undefined,
    });
  }

  async function reset(target: DriverTarget<RedfishParams>, step: Step, signal: AbortSignal): Promise<StepAck> {
    const { params } = target;
    const base = baseUrl(params);
    const key = resetKey(params, await systemPath(params, signal));
    const kept = resetActions.get(key);
    let action = kept ?? (await discoverResetAction(params, signal));
    let fromCache = kept !== undefined;
    for (;;) {
      const resetType = chooseResetType(step, action.allowed);
      if (new URL(action.target, base).origin !== new URL(base).origin) {
        throw new DriverError('config', `redfish ${base}: Reset target ${action.target} points to another host; refusing to send credentials there`);
      }
      const res = await send(params, 'POST', action.target, signal, { ResetType: resetType });
      if (res.status >= 200 && res.status <= 299) return {};
      if (res.status === 404 && fromCache) {
        // The kept target is gone (firmware update, system renumbered): read it again, once.
        // A 404 means the BMC did not take the command, so sending it again repeats nothing.
        resetActions.delete(key);
        action = await discoverResetAction(params, signal);
        fromCache = false;
        continue;
      }
      // Several BMCs refuse a Reset to the state the system is already in (400 or 409);
      // that is the outcome we asked for, not a failure.
      if (res.status === 400 || res.status === 409) {
        const { system } = await getSystem(params, signal);
        if (readPowerState(system.PowerState) === (step === 'on' ? 'on' : 'off')) return {};
      }
      // A target or ResetType the BMC no longer takes: the next command reads them afresh.
      if (res.status === 404 || res.status === 400) resetActions.delete(key);
      throw errorForStatus(res.status, `redfish POST ${action.target} ResetType=${resetType}`, redfishMessage(res));
    }
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
    async query(target, signal): Promise<Reading> {
      const { path, system } = await getSystem(target.params, signal);
      rememberResetAction(target.params, path, system);
      return readPowerState(system.PowerState);
    },
  };
}

export function validateRedfishParams(params: RedfishParams): void {
  checkBmcUrl('url', params.url, 'params.user and params.password');
  if (params.auth !== undefined && params.auth !== 'basic' && params.auth !== 'session') {
    throw new DriverError('config', `auth: expected "basic" or "session", got "${String(params.auth)}"`);
  }
  if (params.user === undefined) {
    if (params.password !== undefined) {
      throw new DriverError('config', 'password needs user (leave both out for a BMC that needs no authentication)');
    }
    if (params.auth === 'session') {
      throw new DriverError('config', 'auth "session" needs user and password; leave auth out for a BMC that needs no authentication');
    }
  } else if (params.password === undefined) {
    throw new DriverError('config', 'user needs password (an empty string when the account has none)');
  }
  if (params.sessionFallbackToBasic === true && params.auth !== 'session') {
    throw new DriverError('config', 'sessionFallbackToBasic applies only with auth "session"');
  }
}

function noSessionServiceError(base: string, status: number): DriverError {
  return new DriverError(
    'config',
    `redfish ${base}: the BMC has no Redfish session service (POST ${SESSIONS_PATH} answered HTTP ${status}); ` +
      'set auth to "basic", or sessionFallbackToBasic: true to use basic auth when it is missing',
  );
}

function resetActionOf(system: Json): Json | undefined {
  const actions = isObject(system.Actions) ? system.Actions : {};
  const action = actions[RESET_ACTION];
  return isObject(action) ? action : undefined;
}

function resetKey(params: RedfishParams, systemPath: string): string {
  return `${baseUrl(params)} ${systemPath}`;
}

/** On/Off are final; PoweringOn/PoweringOff/Reset/absent mean "look again later". */
export function readPowerState(value: unknown): Reading {
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
