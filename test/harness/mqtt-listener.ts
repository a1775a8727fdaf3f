import { connectAsync, type MqttClient } from 'mqtt';

export interface ReceivedMessage {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

/** A subscriber from outside the pipeline, as an operator's dashboard or SCADA would be. */
export class MqttListener {
  readonly messages: ReceivedMessage[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain, at: Date.now() });
    });
  }

  static async connect(url: string, topics: string[]): Promise<MqttListener> {
    const client = await connectAsync(url, { reconnectPeriod: 500, clientId: `vigil-test-${process.pid}-${Math.random().toString(16).slice(2)}` });
    const listener = new MqttListener(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return listener;
  }

  on(topicSuffix: string): ReceivedMessage[] {
    return this.messages.filter((message) => message.topic.endsWith(topicSuffix));
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
