/** Configuration parsing: the driver child environment pass-through (other settings are covered where they are used). */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('SWITCHBOARD_DRIVER_CHILD_ENV', () => {
  it('passes PATH alone by default, and nothing the service has beside it', () => {
    const config = loadConfig({ PATH: '/usr/bin:/bin', HOME: '/root', SECRET: 'x' });
    expect(config.driverChildEnv).toEqual({ PATH: '/usr/bin:/bin' });
  });

  it('passes the named variables that are set, and skips unset ones', () => {
    const config = loadConfig({ SWITCHBOARD_DRIVER_CHILD_ENV: 'PATH, HOME,SSH_AUTH_SOCK', PATH: '/bin', HOME: '/home/ops' });
    expect(config.driverChildEnv).toEqual({ PATH: '/bin', HOME: '/home/ops' });
    expect(Object.isFrozen(config.driverChildEnv)).toBe(true);
  });

  it('refuses names that are not variable names, and the ones the drivers set themselves', () => {
    expect(() => loadConfig({ SWITCHBOARD_DRIVER_CHILD_ENV: 'PATH;rm' })).toThrow(ConfigError);
    expect(() => loadConfig({ SWITCHBOARD_DRIVER_CHILD_ENV: 'PATH;rm' })).toThrow(/not an environment variable name/);
    expect(() => loadConfig({ SWITCHBOARD_DRIVER_CHILD_ENV: 'HOME,IPMI_PASSWORD' })).toThrow(/IPMI_PASSWORD is set by the drivers/);
  });
});

describe('driver commands get the configured environment and nothing else', () => {
  it('hands driverChildEnv to virsh (and LC_ALL=C), not the service\'s environment', async () => {
    const { mkdtemp, readFile, writeFile, chmod } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createVirshDriver } = await import('../src/drivers/virsh.ts');
    const dir = await mkdtemp(join(tmpdir(), 'sb-env-'));
    const fakeVirsh = join(dir, 'virsh');
    // A stand-in virsh that records its environment and reports a running domain.
    await writeFile(fakeVirsh, `#!/bin/sh\n/usr/bin/env > "${join(dir, 'env.txt')}"\necho running\n`);
    await chmod(fakeVirsh, 0o755);
    const config = loadConfig({ SWITCHBOARD_DRIVER_CHILD_ENV: 'HOME,PATH', HOME: '/home/ops', PATH: '/usr/bin:/bin', NOT_PASSED: 'x' });
    const driver = createVirshDriver({ virshPath: fakeVirsh, childEnv: config.driverChildEnv });
    const observed = await driver.query({ nodeId: 'n1', bmc: 'test', params: { uri: 'test:///default', domain: 'vm1' } as never }, new AbortController().signal);
    expect(observed).toBe('on');
    const names = (await readFile(join(dir, 'env.txt'), 'utf8')).trim().split('\n').map((l) => l.split('=')[0]).filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_');
    expect(names.sort()).toEqual(['HOME', 'LC_ALL', 'PATH']);
  });
});
