/** The machine a run was measured on, printed with the figures (they mean little without it). */
import { cpus, freemem, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly loadAverage: number[];
  readonly database: string;
}

export function machineInfo(database: string): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    database,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB (${m.freeMemoryGiB} free), Node ${m.node} ${m.platform}, ` +
    `load ${m.loadAverage.join(' ')}; database: ${m.database}`;
}
