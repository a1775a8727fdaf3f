/**
 * What a process has cost so far, from /proc: CPU time and context switches (a proxy for wake-ups).
 *
 * CPU time is read per thread from /proc/<pid>/task/<tid>/schedstat, the scheduler's own count of
 * nanoseconds on a CPU. utime and stime in /proc/<pid>/stat are sampled at the 100 Hz tick: a
 * service costing 0.1 % of a core is 3 ticks in 30 s, so its idle cost read ±30 % from the ticks
 * alone, and a process that wakes on the tick is charged whole ticks. Where schedstat is missing
 * (a kernel without it), the ticks are used.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

export interface ProcessCost {
  /** CPU seconds of each live thread, by thread id (one entry, -1, when read from the ticks). */
  threads: Map<number, number>;
  /** Voluntary and involuntary context switches of the process. */
  switches: number;
}

function threadSeconds(pid: number): Map<number, number> {
  try {
    const threads = new Map<number, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // A thread may exit between the listing and the read: it is left out.
      try {
        threads.set(Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9);
      } catch {
        continue;
      }
    }
    if (threads.size > 0) return threads;
  } catch {
    // No schedstat on this kernel: fall back to the ticks.
  }
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return new Map([[-1, (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND]]);
}

export function costOf(pid: number): ProcessCost {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { threads: threadSeconds(pid), switches: count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches') };
}

/** CPU seconds spent between two readings of one process: each thread's growth, a thread started in between counted whole (one that ended in between is missed). */
export function cpuSecondsBetween(before: ProcessCost, after: ProcessCost): number {
  let seconds = 0;
  for (const [tid, spent] of after.threads) seconds += spent - (before.threads.get(tid) ?? 0);
  return seconds;
}
