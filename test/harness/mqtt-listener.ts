import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

export interface ReceivedMessage {
  topic: string;
  payload: string;
  /** The bytes as received, for binary payloads (Sparkplug's protobuf). */
  raw: Buffer;
  retain: boolean;
  at: number;
}

/** A subscriber from outside the pipeline, as an operator's dashboard or SCADA would be. */
export class MqttListener {
  readonly messages: ReceivedMessage[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString('utf8'), raw: payload, retain: packet.retain, at: Date.now() });
    });
  }

  /** With a `persistentId`, the broker keeps the subscription and queues QoS 1 messages while away; `options` add to the client's (a CA for TLS). */
  static async connect(url: string, topics: string[], persistentId?: string, options: IClientOptions = {}): Promise<MqttListener> {
    const client = await connectAsync(url, {
      reconnectPeriod: 300,
      clientId: persistentId ?? `vigil-test-${process.pid}-${Math.random().toString(16).slice(2)}`,
      clean: persistentId === undefined,
      // TLS (ca), or a test's own reconnect policy.
      ...options,
    });
    const listener = new MqttListener(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return listener;
  }

  on(topicSuffix: string): ReceivedMessage[] {
    return this.messages.filter((message) => message.topic.endsWith(topicSuffix));
  }

  async close(): Promise<void> {
    // Forced: a polite end waits for the broker, which a fault test may have left stopped.
    await this.client.endAsync(true);
  }
}
