/** What a process has cost so far, from /proc: CPU time and context switches (a proxy for wake-ups). */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

export interface ProcessCost {
  /** CPU seconds, user and system. */
  cpuS: number;
  /** Voluntary and involuntary context switches. */
  switches: number;
}

export function costOf(pid: number): ProcessCost {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpuS, switches: count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches') };
}
