import type { RouteHandler } from '@vigil/shared';
import { channelsAffectedBy, FAULT_KINDS, isFaultKind } from './faults.js';
import type { SimulatorSource } from './simulator-source.js';

/**
 * Fault injection on command, for demos and tests:
 *   curl -X POST localhost:9101/faults -d '{"kind":"cavitation","durationS":60}'
 */
export function faultRoutes(source: SimulatorSource): Record<string, RouteHandler> {
  return {
    'GET /faults': async () => ({
      status: 200,
      body: { timeS: source.simulator.timeS, active: source.simulator.activeFaults(), scheduled: source.simulator.scheduledFaults() },
    }),
    'POST /faults': async (body) => {
      let request: Record<string, unknown>;
      try {
        request = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return { status: 400, body: { error: 'body must be JSON: {"kind": "...", "durationS": 60}' } };
      }
      if (!isFaultKind(request.kind)) {
        return { status: 400, body: { error: `kind must be one of ${FAULT_KINDS.join(', ')}` } };
      }
      const durationS = request.durationS ?? 60;
      if (typeof durationS !== 'number' || !(durationS > 0)) {
        return { status: 400, body: { error: 'durationS must be a positive number' } };
      }
      if (request.channel !== undefined && typeof request.channel !== 'string') {
        return { status: 400, body: { error: 'channel must be a channel name' } };
      }
      const fault = source.injectNow({
        kind: request.kind,
        durationS,
        ...(typeof request.channel === 'string' ? { channel: request.channel } : {}),
      });
      return { status: 201, body: { fault, affects: channelsAffectedBy(fault) } };
    },
    'DELETE /faults': async () => {
      source.simulator.clearFaults();
      return { status: 200, body: { cleared: true } };
    },
  };
}
