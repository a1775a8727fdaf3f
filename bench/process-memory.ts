/**
 * A process's memory from /proc, three ways, because RSS alone misleads on a device running five
 * Node processes: RSS counts every page the process maps, including the Node executable's and
 * the shared libraries' pages, which the kernel keeps once for all processes (and, in containers
 * built from one base image, once for all containers). Of an idle Node 20's ~39 MB RSS here, ~34
 * MB are such file pages. `private` (RssAnon) is what this process alone holds: heap, JIT code,
 * buffers; a leak shows there. PSS splits each shared page among the processes sharing it, so the
 * PSS of all processes adds up to the memory they really take.
 */
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  rssMb: number;
  privateMb: number;
  sharedFileMb: number;
  pssMb: number;
}

function kbField(text: string, field: string): number {
  const line = text.split('\n').find((entry) => entry.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN) / 1024;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rssMb: kbField(status, 'VmRSS'),
    privateMb: kbField(status, 'RssAnon'),
    sharedFileMb: kbField(status, 'RssFile'),
    pssMb: kbField(rollup, 'Pss'),
  };
}
