import { dirname, join } from 'node:path';
import { AssetSlots, Counter, Gauge, isoTime, isValidAssetId, startStage, type DecisionMessage, type Logger, type RunningStage } from '@vigil/shared/runtime';
import { AlertPolicy, rescuedAlert } from './alert-policy.js';
import { AuditLog, COMMANDS, Mutes, parseCommand, type CommandResult } from './commands.js';
import { SERVICE, type PublisherConfig } from './config.js';
import { connectBroker, topicsFor } from './mqtt-link.js';
import { Outbox, type Alert } from './outbox.js';

/** Assets whose last state and alert counters the publisher keeps; past it the longest silent goes. */
const MAX_PUBLISHED_ASSETS = 256;

export type AlertPublisher = RunningStage;

export async function startAlertPublisher(config: PublisherConfig, logger: Logger): Promise<AlertPublisher> {
  return startStage({
    stage: SERVICE,
    kind: 'decision',
    settings: config,
    logger,
    async setup({ metrics, rejectLog }) {
      const registers = [metrics.registry];
      const published = new Counter({
        name: 'vigil_alerts_published_total',
        help: 'Alerts the broker acknowledged (PUBACK), per asset.',
        labelNames: ['asset'] as const,
        registers,
      });
      const suppressed = new Counter({
        name: 'vigil_alerts_suppressed_total',
        help: 'Re-entries of an alarm episode within the cooldown with the same leading sensor: counted on the episode (reentries), no new alert.',
        labelNames: ['asset'] as const,
        registers,
      });
      const outboxErrors = new Counter({
        name: 'vigil_outbox_write_errors_total',
        help: 'Alerts the outbox could not write to disk (held in memory and published while the broker is up).',
        registers,
      });

      const outbox = new Outbox(config.outboxPath);
      new Gauge({
        name: 'vigil_alerts_pending',
        help: 'Alerts in the outbox waiting for the broker to acknowledge them.',
        registers,
        collect() {
          this.set(outbox.size);
    },
  });
  if (outbox.size > 0) logger.info({ pending: outbox.size }, 'outbox holds unacknowledged alerts from before; publishing them');

  const topics = topicsFor(config.mqtt.topicPrefix, config.deviceId);
  const policy = new AlertPolicy({ device: config.deviceId, cooldownMs: config.cooldownS * 1000, criticalRatio: config.criticalRatio });
  const client = connectBroker(config, topics);
  const inFlight = new Set<string>();
  // The last state per asset, re-sent on reconnect: bounded like every per-asset table (the
  // threshold sends decisions for at most its own max assets; names come and go over months).
  const latestState = new AssetSlots<string>({
    capacity: MAX_PUBLISHED_ASSETS,
    idleMs: 0,
    onEvict: (asset) => {
      published.remove({ asset });
      suppressed.remove({ asset });
      policy.forget(asset);
    },
  });
  let loggedDown = false;

  // A bounded window of unacknowledged alerts: a crash between the broker receiving an alert and
  // its PUBACK being recorded repeats that alert after the restart, so the window is the most a
  // crash can duplicate. Without it a backlog (after an outage) went out all at once, and a kill
  // during that flush repeated 211 of 300. The rest wait in the outbox, oldest first.
  const publishAlert = (alert: Alert): void => {
    if (!client.connected || inFlight.has(alert.id) || inFlight.size >= config.maxInFlight) return;
    inFlight.add(alert.id);
    const topic = alert.event === 'cleared' || alert.event === 'acknowledged' ? topics.episode(alert.asset) : topics.alert(alert.asset);
    client.publish(topic, JSON.stringify(alert), { qos: 1 }, (error) => {
      inFlight.delete(alert.id);
      if (error) {
        rejectLog.warn('publish_error', { err: error.message, id: alert.id }, 'alert not acknowledged; will retry');
        return;
      }
      outbox.ack(alert.id);
      if (alert.event === undefined || alert.event === 'raised') published.inc({ asset: alert.asset });
      logger.info({ id: alert.id, event: alert.event ?? 'raised', asset: alert.asset, severity: alert.severity }, 'alert published');
      publishPending();
    });
  };
  const publishPending = () => {
    for (const alert of outbox.pendingOldestFirst()) {
      if (inFlight.size >= config.maxInFlight) return;
      publishAlert(alert);
    }
  };
  const publishState = (asset: string, payload: string) => {
    if (client.connected) client.publish(topics.state(asset), payload, { qos: 1, retain: true });
  };

  client.on('connect', () => {
    metrics.connectionUp.set({ peer: 'mqtt' }, 1);
    if (loggedDown) logger.info('mqtt connection restored');
    loggedDown = false;
    client.publish(topics.status, 'online', { qos: 1, retain: true });
    client.subscribe(topics.commands, { qos: 1 });
    for (const asset of latestState.assets()) publishState(asset, latestState.peek(asset) ?? '');
    publishPending();
  });
  client.on('close', () => {
    metrics.connectionUp.set({ peer: 'mqtt' }, 0);
  });
  client.on('message', (topic, payload) => {
    const asset = topics.assetOfCommand(topic);
    if (asset !== undefined) answerCommand(asset, payload);
  });
  client.on('error', (error) => {
    if (!loggedDown) logger.warn({ err: error.message }, 'mqtt error; reconnecting');
    loggedDown = true;
  });
  metrics.connectionUp.set({ peer: 'mqtt' }, 0);
  const retryTimer = setInterval(publishPending, config.retryMs);

  const rescued = new Counter({
    name: 'vigil_alerts_rescued_total',
    help: 'Alarms whose handling threw, published anyway as a plain alert (no contributors): an alarm is never lost to an exception.',
    registers,
  });
  const keep = (alert: Alert): void => {
    if (!outbox.add(alert)) {
      outboxErrors.inc();
      rejectLog.warn('outbox_write', { err: outbox.lastWriteError }, 'outbox cannot write to disk; alert held in memory');
    }
    publishAlert(alert);
  };

  const handle = (decision: DecisionMessage): void => {
    try {
      handleDecision(decision);
    } catch (error) {
      if (decision.changed && decision.state === 'anomalous' && !outbox.has(`${config.deviceId}:${decision.asset}:${decision.seq}`)) {
        rescued.inc();
        keep(rescuedAlert(decision, config.deviceId));
      }
      // Still counted (handler_error) and logged by the stage loop.
      throw error;
    }
  };

  const handleDecision = (decision: DecisionMessage): void => {
    if (decision.changed || latestState.get(decision.asset) === undefined) {
      const payload = JSON.stringify({ state: decision.state, since: isoTime(decision.since), seq: decision.seq, score: decision.score });
      latestState.makeRoom(decision.asset);
      latestState.set(decision.asset, payload);
      publishState(decision.asset, payload);
    }
    const verdict = policy.judge(decision);
    if (verdict.kind === 'suppressed') suppressed.inc({ asset: decision.asset });
    if (verdict.kind === 'alert' || verdict.kind === 'cleared') {
      // A muted asset's episodes are still judged and recorded (audit log), not published.
      if (mutes.isMuted(decision.asset, Date.now())) {
        muted.inc({ asset: decision.asset });
        audit.write({ at: new Date().toISOString(), muted: verdict.alert });
      } else keep(verdict.alert);
    }
    metrics.completed(decision.ingestTs);
  };

  const muted = new Counter({
    name: 'vigil_alerts_muted_total',
    help: 'Alerts and episode ends not published because the asset was muted by an operator (recorded in the audit log).',
    labelNames: ['asset'] as const,
    registers,
  });
  const commandsTotal = new Counter({
    name: 'vigil_commands_total',
    help: 'Operator commands, by command and outcome (accepted, refused).',
    labelNames: ['command', 'outcome'] as const,
    registers,
  });
  const mutes = new Mutes();
  const audit = new AuditLog(join(dirname(config.outboxPath), 'commands.jsonl'));
  const answerCommand = (asset: string, payload: Buffer): void => {
    const now = Date.now();
    const parsed = isValidAssetId(asset) ? parseCommand(payload, now) : { refused: 'not a valid asset id', id: '', command: '' };
    let reason: string | undefined = 'refused' in parsed ? parsed.refused : undefined;
    if (!('refused' in parsed)) {
      switch (parsed.command) {
        case 'ack': {
          const raised = policy.episodeOf(asset, parsed.episode);
          if (!raised) reason = 'no such episode: the current or last episode of this asset can be acknowledged';
          else keep({ ...raised, id: `${raised.id}:ack`, event: 'acknowledged', by: parsed.by, ts: now, time: new Date(now).toISOString() });
          break;
        }
        case 'mute':
          mutes.set(asset, parsed.untilMs);
          break;
        case 'unmute':
          if (!mutes.clear(asset)) reason = 'not muted';
          break;
      }
    }
    const result: CommandResult = {
      id: parsed.id,
      command: parsed.command,
      asset,
      status: reason === undefined ? 'accepted' : 'refused',
      ...(reason === undefined ? {} : { reason }),
      at: new Date(now).toISOString(),
    };
    commandsTotal.inc({ command: (COMMANDS as readonly string[]).includes(result.command) ? result.command : 'other', outcome: result.status });
    audit.write({ ...result, request: 'refused' in parsed ? undefined : parsed });
    if (client.connected && isValidAssetId(asset)) client.publish(topics.commandResult(asset), JSON.stringify(result), { qos: 1 });
    logger.info({ ...result }, 'operator command');
  };

  return {
    handle,
    healthChecks: [{ name: 'outbox', healthy: () => outbox.lastWriteError === undefined }],
    parts: [
      {
        name: 'mqtt',
        stop: async () => {
          clearInterval(retryTimer);
          // A clean stop says offline itself: the last will is only for deaths.
          if (client.connected) await client.publishAsync(topics.status, 'offline', { qos: 1, retain: true }).catch(() => undefined);
          await client.endAsync();
        },
      },
    ],
    started: { topics: topics.alert('<asset>') },
  };
    },
  });

}
