/**
 * The one place that reads process.env. Every setting is validated here and the result is
 * frozen; a bad value stops the start with a message naming the variable.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** PostgreSQL when set; otherwise embedded PGlite in dataDir. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** 32-byte key (hex or base64) for driver secrets; embedded mode creates a key file when unset. */
  readonly secretKey: string | undefined;
  readonly demoNodes: number;
  /**
   * Extra Host names the server answers to (DNS-rebinding guard), lower-case, each `name` (any
   * port) or `name:port`. Loopback names, IP addresses and HOST are always allowed.
   */
  readonly allowedHosts: readonly string[];
  /** Extra web origins (`scheme://host[:port]`) whose pages may call the API and open the stream. */
  readonly allowedOrigins: readonly string[];
  readonly logLevel: string;
  /**
   * Variables of the service's environment passed on to driver commands (ipmitool, virsh),
   * which otherwise get only what the driver sets: e.g. HOME and SSH_AUTH_SOCK for qemu+ssh://.
   */
  readonly driverChildEnv: Readonly<Record<string, string>>;
  readonly limits: {
    /** Commands in flight at once per BMC. */
    readonly perBmcConcurrency: number;
    /** Minimum gap between two commands to one BMC. */
    readonly bmcMinIntervalMs: number;
    /** Driver commands in flight at once across the fleet. */
    readonly globalConcurrency: number;
  };
  readonly intervals: {
    /** Periodic power-state sync per node (jittered). 0 disables it. */
    readonly syncMs: number;
    /** How often `verifying` polls the BMC after an acknowledged step. */
    readonly verifyPollMs: number;
    /** A BMC that could not be read is checked again after this, doubling per failure (jittered)… */
    readonly healBaseMs: number;
    /** …up to this. */
    readonly healMaxMs: number;
    /** Group commit: longest wait for more transitions before a batch commits. */
    readonly commitWindowMs: number;
    /** Group commit: a batch commits at once when it reaches this many transitions. */
    readonly commitMaxBatch: number;
    /** Group commit: batches in flight at once (the fleet is split by node into this many shards). */
    readonly commitShards: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected ${min}..${max}, got ${value}`);
  return value;
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Set by the drivers themselves for every call; passing the service's own would be wrong. */
const DRIVER_OWNED_ENV = ['IPMI_PASSWORD', 'LC_ALL'];

function driverChildEnv(env: Env): Record<string, string> {
  const name = 'SWITCHBOARD_DRIVER_CHILD_ENV';
  const names = str(env, name, 'PATH').split(',').map((n) => n.trim()).filter((n) => n !== '');
  const out: Record<string, string> = {};
  for (const n of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new ConfigError(name, `"${n}" is not an environment variable name (expected a comma-separated list such as PATH,HOME)`);
    if (DRIVER_OWNED_ENV.includes(n)) throw new ConfigError(name, `${n} is set by the drivers for each command; remove it from the list`);
    const value = env[n];
    if (value !== undefined) out[n] = value;
  }
  return out;
}

function list(env: Env, name: string): string[] {
  return str(env, name, '').split(',').map((n) => n.trim()).filter((n) => n !== '');
}

/** `name` or `name:port`, where name is a DNS name, an IPv4 address or a bracketed IPv6 address. */
const HOST_ENTRY = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

function allowedHosts(env: Env): string[] {
  const name = 'SWITCHBOARD_ALLOWED_HOSTS';
  return list(env, name).map((raw) => {
    const entry = raw.toLowerCase();
    const port = /:(\d+)$/.exec(entry)?.[1];
    if (!HOST_ENTRY.test(entry) || (port !== undefined && Number(port) > 65535)) {
      throw new ConfigError(name, `"${raw}" is not a host name (expected a comma-separated list such as switchboard.example.com,switchboard.example.com:8443)`);
    }
    return entry;
  });
}

function allowedOrigins(env: Env): string[] {
  const name = 'SWITCHBOARD_ALLOWED_ORIGINS';
  return list(env, name).map((raw) => {
    const hint = `(expected a comma-separated list of origins such as https://switchboard.example.com, without a path)`;
    if (!URL.canParse(raw)) throw new ConfigError(name, `"${raw}" is not an origin ${hint}`);
    const url = new URL(raw);
    // Scheme and authority only (a trailing slash is tolerated): no credentials, path, query or fragment.
    if (!/^https?:\/\/[^/?#@\s]+\/?$/i.test(raw) || url.username !== '' || url.password !== '') {
      throw new ConfigError(name, `"${raw}" is not an origin ${hint}`);
    }
    return url.origin;
  });
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = optional(env, 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'expected a postgres:// or postgresql:// URL');
  }
  const logLevel = str(env, 'SWITCHBOARD_LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('SWITCHBOARD_LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const config: Config = {
    port: int(env, 'PORT', 3000, 0, 65535),
    host: str(env, 'HOST', '127.0.0.1'),
    databaseUrl,
    dataDir: str(env, 'SWITCHBOARD_DATA_DIR', './data'),
    secretKey: optional(env, 'SWITCHBOARD_SECRET_KEY'),
    demoNodes: int(env, 'SWITCHBOARD_DEMO_NODES', 0, 0, 100_000),
    allowedHosts: allowedHosts(env),
    allowedOrigins: allowedOrigins(env),
    logLevel,
    driverChildEnv: driverChildEnv(env),
    limits: {
      perBmcConcurrency: int(env, 'SWITCHBOARD_PER_BMC_CONCURRENCY', 1, 1, 64),
      bmcMinIntervalMs: int(env, 'SWITCHBOARD_BMC_MIN_INTERVAL_MS', 0, 0, 60_000),
      globalConcurrency: int(env, 'SWITCHBOARD_GLOBAL_CONCURRENCY', 64, 1, 10_000),
    },
    intervals: {
      syncMs: int(env, 'SWITCHBOARD_SYNC_INTERVAL_MS', 300_000, 0, 86_400_000),
      verifyPollMs: int(env, 'SWITCHBOARD_VERIFY_POLL_MS', 2_000, 10, 600_000),
      healBaseMs: int(env, 'SWITCHBOARD_HEAL_BASE_MS', 5_000, 10, 3_600_000),
      healMaxMs: int(env, 'SWITCHBOARD_HEAL_MAX_MS', 240_000, 10, 86_400_000),
      commitWindowMs: int(env, 'SWITCHBOARD_COMMIT_WINDOW_MS', 2, 0, 1_000),
      commitMaxBatch: int(env, 'SWITCHBOARD_COMMIT_MAX_BATCH', 500, 1, 100_000),
      commitShards: int(env, 'SWITCHBOARD_COMMIT_SHARDS', 4, 1, 64),
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Settings of the `switchboard` command-line client; its flags (--url, --token) override them. */
export interface CliSettings {
  /** Base URL of the server, without a trailing slash. */
  readonly url: string;
  readonly token: string | undefined;
}

export function loadCliSettings(env: Env = process.env): CliSettings {
  const url = str(env, 'SWITCHBOARD_URL', 'http://127.0.0.1:3000');
  if (!/^https?:\/\/[^\s/]+/.test(url) || !URL.canParse(url)) {
    throw new ConfigError('SWITCHBOARD_URL', `expected an http:// or https:// URL such as http://127.0.0.1:3000, got "${url}"`);
  }
  const token = optional(env, 'SWITCHBOARD_TOKEN');
  if (token !== undefined && !/^[\x21-\x7e]{1,512}$/.test(token)) {
    throw new ConfigError('SWITCHBOARD_TOKEN', 'expected the token printed by the server or by "switchboard token create" (printable, no spaces)');
  }
  return Object.freeze({ url: url.replace(/\/+$/, ''), token });
}
