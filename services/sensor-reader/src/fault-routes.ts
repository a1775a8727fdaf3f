import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RouteHandler } from '@vigil/shared/runtime';
import { channelsAffectedBy, FAULT_KINDS, isFaultKind } from './faults.js';
import type { SimulatorSource } from './simulator-source.js';

/** Longest fault one request may inject, and most faults pending at once: a request is bounded. */
export const MAX_FAULT_DURATION_S = 3_600;
export const MAX_PENDING_FAULTS = 8;

/**
 * Fault injection on command, for demos and tests, and only for who holds the token
 * (VIGIL_SENSOR_READER_FAULT_TOKEN); without one the routes answer 403 and say how to turn them on:
 *   curl -X POST -H "authorization: Bearer $TOKEN" localhost:9101/faults -d '{"kind":"cavitation","durationS":60}'
 */
export function faultRoutes(source: SimulatorSource, token: string): Record<string, RouteHandler> {
  const guarded =
    (route: RouteHandler): RouteHandler =>
    async (body, request) => {
      if (token === '') {
        return { status: 403, body: { error: 'fault injection is off: set VIGIL_SENSOR_READER_FAULT_TOKEN and send it as "authorization: Bearer <token>"' } };
      }
      if (!holdsToken(request, token)) return { status: 401, body: { error: 'fault injection needs "authorization: Bearer <token>"' } };
      return route(body, request);
    };
  return {
    'GET /faults': guarded(async () => ({
      status: 200,
      body: { timeS: source.simulator.timeS, active: source.simulator.activeFaults(), scheduled: source.simulator.scheduledFaults() },
    })),
    'POST /faults': guarded(async (body) => {
      let request: Record<string, unknown>;
      try {
        request = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return { status: 400, body: { error: 'body must be JSON: {"kind": "...", "durationS": 60}' } };
      }
      if (typeof request !== 'object' || request === null) return { status: 400, body: { error: 'body must be a JSON object' } };
      if (!isFaultKind(request.kind)) {
        return { status: 400, body: { error: `kind must be one of ${FAULT_KINDS.join(', ')}` } };
      }
      const durationS = request.durationS ?? 60;
      if (typeof durationS !== 'number' || !(durationS > 0) || durationS > MAX_FAULT_DURATION_S) {
        return { status: 400, body: { error: `durationS must be a number of seconds in (0, ${MAX_FAULT_DURATION_S}]` } };
      }
      if (request.channel !== undefined && typeof request.channel !== 'string') {
        return { status: 400, body: { error: 'channel must be a channel name' } };
      }
      if (source.simulator.scheduledFaults().length >= MAX_PENDING_FAULTS) {
        return { status: 429, body: { error: `${MAX_PENDING_FAULTS} faults are already pending: wait for one to end, or DELETE /faults` } };
      }
      const fault = source.injectNow({
        kind: request.kind,
        durationS,
        ...(typeof request.channel === 'string' ? { channel: request.channel } : {}),
      });
      return { status: 201, body: { fault, affects: channelsAffectedBy(fault) } };
    }),
    'DELETE /faults': guarded(async () => {
      source.simulator.clearFaults();
      return { status: 200, body: { cleared: true } };
    }),
  };
}

/** Compared as digests, so neither the length nor a prefix of the token leaks through timing. */
function holdsToken(request: IncomingMessage, token: string): boolean {
  const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(token));
}
