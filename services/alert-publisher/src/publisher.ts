import { dirname, join } from 'node:path';
import { AssetSlots, AuditLog, commandResult, EVERY_ASSET, Counter, Gauge, isoTime, isValidAssetId, startStage, type DecisionMessage, type Logger, type RunningStage } from '@vigil/shared/runtime';
import { AlertPolicy, rescuedAlert } from './alert-policy.js';
import { COMMANDS, deviceCommandProblem, Mutes, parseCommand } from './commands.js';
import { FALSE_ALARM_MEMORY_MS, KnownFalseAlarms } from './known-false-alarms.js';
import { SERVICE, type PublisherConfig } from './config.js';
import { birthTopic, discoveryMessages, type DiscoverySettings } from './home-assistant.js';
import { connectBroker, credentialsAndTls, topicsFor } from './mqtt-link.js';
import { Outbox, type Alert, type OutputName } from './outbox.js';
import type { SparkplugOutput } from './sparkplug-output.js';
import { WebhookOutput } from './webhook-output.js';
import manifest from '../package.json' with { type: 'json' };

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

      const outputs: OutputName[] = ['mqtt', ...(config.webhook.url !== '' ? (['webhook'] as const) : []), ...(config.sparkplug.enabled ? (['sparkplug'] as const) : [])];
      const outbox = new Outbox(config.outboxPath, outputs);
      new Gauge({
        name: 'vigil_alerts_pending',
        help: 'Alerts in the outbox waiting for an output to deliver them (the broker\'s PUBACK, the web hook\'s 2xx), per output.',
        labelNames: ['output'] as const,
        registers,
        collect() {
          for (const output of outputs) this.set({ output }, outbox.sizeFor(output));
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
      lastScoreAt.delete(asset);
      heldBack.delete(asset);
      sparkplug?.forget(asset);
    },
  });
  const lastScoreAt = new Map<string, number>();
  const userAgent = `vigil/${manifest.version}`;
  const discovery: DiscoverySettings | undefined = config.homeAssistant.discovery ? { prefix: config.homeAssistant.prefix, device: config.deviceId, version: manifest.version } : undefined;
  const announce = (asset: string): void => {
    if (!discovery || !client.connected) return;
    for (const message of discoveryMessages(discovery, topics, asset)) client.publish(message.topic, message.payload, { qos: 1, retain: true });
  };

  const webhook =
    config.webhook.url === ''
      ? undefined
      : new WebhookOutput(
          { url: config.webhook.url, secret: config.webhook.secret, timeoutMs: config.webhook.timeoutS * 1000, maxBackoffMs: config.webhook.maxBackoffS * 1000 },
          outbox,
          { attempted: (outcome) => webhookAttempts.inc({ outcome }), reachable: (up) => metrics.connectionUp.set({ peer: 'webhook' }, up ? 1 : 0) },
          logger,
          userAgent,
        );
  const webhookAttempts = new Counter({
    name: 'vigil_webhook_attempts_total',
    help: 'Web hook deliveries tried, by outcome: delivered (a 2xx), failed (any other answer or none; retried with backoff).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const sparkplugMessages = new Counter({
    name: 'vigil_sparkplug_messages_total',
    help: 'Sparkplug B messages published, by type (NBIRTH, DBIRTH, DDATA, DDEATH).',
    labelNames: ['type'] as const,
    registers,
  });
  // Loaded only when configured: the Sparkplug schema and protobufjs cost memory.
  const sparkplug: SparkplugOutput | undefined = config.sparkplug.enabled
    ? new (await import('./sparkplug-output.js')).SparkplugOutput(
        {
          connection:
            config.sparkplug.url === ''
              ? { url: config.mqtt.url, ...credentialsAndTls(config.mqtt) }
              : { url: config.sparkplug.url, ...(config.sparkplug.username ? { username: config.sparkplug.username, password: config.sparkplug.password } : {}) },
          groupId: config.sparkplug.groupId,
          edgeNode: config.deviceId,
          dataIntervalMs: Math.max(1, config.scoreIntervalS) * 1000,
          bdSeqPath: join(dirname(config.outboxPath), 'sparkplug-bdseq'),
          primaryHostId: config.sparkplug.primaryHostId,
        },
        outbox,
        { connected: (up) => metrics.connectionUp.set({ peer: 'sparkplug' }, up ? 1 : 0), sent: (type) => sparkplugMessages.inc({ type }) },
        logger,
      )
    : undefined;
  webhook?.kick();
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
  // The score now and then (not every sample: at 10 Hz that is 36,000 messages an hour an asset).
  const publishScore = (decision: DecisionMessage): void => {
    if (config.scoreIntervalS === 0 || !client.connected) return;
    const now = Date.now();
    if (now - (lastScoreAt.get(decision.asset) ?? 0) < config.scoreIntervalS * 1000) return;
    lastScoreAt.set(decision.asset, now);
    client.publish(topics.score(decision.asset), JSON.stringify({ score: decision.score, threshold: decision.threshold.high, state: decision.state, seq: decision.seq, time: isoTime(decision.ts) }), { qos: 0 });
  };
  const publishState = (asset: string, payload: string) => {
    if (client.connected) client.publish(topics.state(asset), payload, { qos: 1, retain: true });
  };

  client.on('connect', () => {
    metrics.connectionUp.set({ peer: 'mqtt' }, 1);
    if (loggedDown) logger.info('mqtt connection restored');
    loggedDown = false;
    client.publish(topics.status, 'online', { qos: 1, retain: true });
    client.subscribe([topics.commands, topics.deviceCommand], { qos: 1 });
    if (discovery) client.subscribe(birthTopic(discovery), { qos: 1 });
    for (const asset of latestState.assets()) {
      announce(asset);
      publishState(asset, latestState.peek(asset) ?? '');
    }
    publishPending();
  });
  client.on('close', () => {
    metrics.connectionUp.set({ peer: 'mqtt' }, 0);
  });
  client.on('message', (topic, payload) => {
    // Home Assistant started (its birth message): it may have lost what it knew; announce again.
    if (discovery && topic === birthTopic(discovery)) {
      if (payload.toString() === 'online') for (const asset of latestState.assets()) announce(asset);
      return;
    }
    if (topic === topics.deviceCommand) {
      answerCommand(EVERY_ASSET, payload);
      return;
    }
    const asset = topics.assetOfCommand(topic);
    if (asset !== undefined) answerCommand(asset, payload);
  });
  client.on('error', (error) => {
    if (!loggedDown) logger.warn({ err: error.message }, 'mqtt error; reconnecting');
    loggedDown = true;
  });
  metrics.connectionUp.set({ peer: 'mqtt' }, 0);
  const retryTimer = setInterval(() => {
    publishPending();
    sparkplug?.kick();
  }, config.retryMs);

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
    webhook?.kick();
    sparkplug?.kick();
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
    const firstSeen = latestState.get(decision.asset) === undefined;
    // A state that differs from the last decision's is a change even when the decision that
    // carried the change (changed: true) was lost on the way: the retained state must not go stale.
    if (decision.changed || firstSeen || policy.lastStateOf(decision.asset) !== decision.state) {
      const payload = JSON.stringify({ state: decision.state, since: isoTime(decision.since), seq: decision.seq, score: decision.score });
      latestState.makeRoom(decision.asset);
      latestState.set(decision.asset, payload);
      if (firstSeen) announce(decision.asset);
      publishState(decision.asset, payload);
    }
    publishScore(decision);
    sparkplug?.observe(decision);
    const verdict = policy.judge(decision);
    if (verdict.kind === 'suppressed') {
      suppressed.inc({ asset: decision.asset });
      // Rare (a fault that flaps), and the one place an entry into alarm sends nothing: said in the log.
      logger.info({ asset: decision.asset, seq: decision.seq, episode: verdict.episode }, 'anomalous again within the cooldown, led by the same sensor: the same episode, no new alert');
    }
    if ((verdict.kind === 'alert' || verdict.kind === 'cleared') && verdict.missedChange) {
      missedChanges.inc({ asset: decision.asset });
      rejectLog.warn('missed_change', { asset: decision.asset, seq: decision.seq, state: decision.state }, 'the state changed with no decision marking it (that one lost by seq, or a new threshold after a model change): the change is taken from this one');
    }
    // An episode held back as a known false alarm: raised after all once it grows past that alarm's peak.
    const held = heldBack.get(decision.asset);
    if (held && decision.state === 'anomalous' && decision.score > held.bound && verdict.kind !== 'alert') {
      heldBack.delete(decision.asset);
      const escalated: Alert = { ...held.alert, id: `${held.alert.id}:escalated`, score: decision.score, seq: decision.seq, ts: decision.ts, time: isoTime(decision.ts) ?? held.alert.time, escalated: true };
      if (mutes.isMuted(decision.asset, Date.now())) {
        muted.inc({ asset: decision.asset });
        audit.write({ at: new Date().toISOString(), muted: escalated });
      } else keep(escalated);
    }
    if (verdict.kind === 'alert') {
      const known = falseAlarms.match(decision.asset, verdict.alert.contributors[0]?.sensor, verdict.alert.score);
      if (known) {
        heldBack.set(decision.asset, { alert: verdict.alert, bound: known.peakScore });
        heldBackTotal.inc({ asset: decision.asset });
        audit.write({ at: new Date().toISOString(), heldBack: verdict.alert, like: known.episode });
        metrics.completed(decision.ingestTs);
        return;
      }
      heldBack.delete(decision.asset);
    }
    if (verdict.kind === 'cleared' && heldBack.get(decision.asset)?.alert.episode === verdict.alert.episode) {
      heldBack.delete(decision.asset);
      audit.write({ at: new Date().toISOString(), heldBack: verdict.alert });
      metrics.completed(decision.ingestTs);
      return;
    }
    if (verdict.kind === 'alert' || verdict.kind === 'cleared') {
      // A muted asset's episodes are still judged and recorded (audit log), not published.
      if (mutes.isMuted(decision.asset, Date.now())) {
        muted.inc({ asset: decision.asset });
        audit.write({ at: new Date().toISOString(), muted: verdict.alert });
      } else keep(verdict.alert);
    }
    metrics.completed(decision.ingestTs);
  };

  const missedChanges = new Counter({
    name: 'vigil_alert_missed_changes_total',
    help: 'Alarms raised or cleared from a change of state no decision marked (that one lost by seq, or a new threshold after a model change): read from the state of the next decision.',
    labelNames: ['asset'] as const,
    registers,
  });
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
  const mutes = new Mutes(join(dirname(config.outboxPath), 'mutes.json'));
  const audit = new AuditLog(join(dirname(config.outboxPath), 'commands.jsonl'));
  // Operators' verdicts on episodes: the labelled record a later learning or evaluation can use.
  const labels = new AuditLog(join(dirname(config.outboxPath), 'labels.jsonl'));
  const falseAlarms = new KnownFalseAlarms(join(dirname(config.outboxPath), 'false-alarms.json'));
  const heldBack = new Map<string, { alert: Alert; bound: number }>();
  const heldBackTotal = new Counter({
    name: 'vigil_alerts_held_back_total',
    help: 'Alarms held back because they match an episode an operator marked false-positive (same asset, same leading sensor, no stronger); raised after all if they grow past it.',
    labelNames: ['asset'] as const,
    registers,
  });
  /** A command for one asset, or with EVERY_ASSET for the whole device. */
  const answerCommand = (asset: string, payload: Buffer): void => {
    const now = Date.now();
    const wholeDevice = asset === EVERY_ASSET;
    const parsed = wholeDevice || isValidAssetId(asset) ? parseCommand(payload, now) : { refused: 'not a valid asset id', id: '', command: '' };
    // A model command: the inference service answers it.
    if (parsed === undefined) return;
    let reason: string | undefined = 'refused' in parsed ? parsed.refused : wholeDevice ? deviceCommandProblem(parsed.command) : undefined;
    if (reason === undefined && !('refused' in parsed)) {
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
        case 'feedback': {
          const raised = policy.episodeOf(asset, parsed.episode);
          if (!raised) {
            reason = 'no such episode: feedback is taken on the current or last episode of this asset';
            break;
          }
          const peak = Math.max(raised.score, policy.peakOf(asset, parsed.episode) ?? 0);
          labels.write({ at: new Date(now).toISOString(), asset, episode: raised.id, verdict: parsed.verdict, note: parsed.note, by: parsed.by, raisedAt: raised.time, peakScore: peak, contributors: raised.contributors, model: raised.model });
          if (parsed.verdict === 'false-positive') {
            falseAlarms.add({ asset, leader: raised.contributors[0]?.sensor ?? '', peakScore: peak, episode: raised.id, untilMs: now + FALSE_ALARM_MEMORY_MS }, now);
          }
          // new-normal: the inference service relearns (it hears the same command); confirmed: the label is all.
          break;
        }
      }
    }
    const result = commandResult(parsed, asset, reason, now);
    commandsTotal.inc({ command: (COMMANDS as readonly string[]).includes(result.command) ? result.command : 'other', outcome: result.status });
    audit.write({ ...result, request: 'refused' in parsed ? undefined : parsed });
    if (client.connected && (wholeDevice || isValidAssetId(asset))) client.publish(topics.commandResult(asset), JSON.stringify(result), { qos: 1 });
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
      ...(webhook ? [{ name: 'webhook', stop: () => webhook.stop() }] : []),
      ...(sparkplug ? [{ name: 'sparkplug', stop: () => sparkplug.stop() }] : []),
    ],
    started: { topics: topics.alert('<asset>') },
  };
    },
  });

}
