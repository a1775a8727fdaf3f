import { CsvSource } from './csv-source.js';
import { ModbusSource } from './modbus-source.js';
import { MqttSource } from './mqtt-source.js';
import { OpcuaSource } from './opcua-source.js';
import type { SampleSource } from './sample-source.js';
import { SimulatorSource } from './simulator-source.js';
import type { SensorReaderConfig } from './config.js';

/** What a source with a link of its own says of it (the reader logs it and keeps a gauge). */
export type LinkReport = (peer: string, up: boolean, detail: string) => void;

/** Builds the configured source from settings the loader has parsed and checked together. */
export function createSource(config: SensorReaderConfig, onLink: LinkReport = () => undefined): SampleSource {
  switch (config.source) {
    case 'simulator':
      return new SimulatorSource({
        asset: config.asset,
        seed: config.simulator.seed,
        rateHz: config.rateHz,
        speed: config.simulator.speed,
        schedule: config.simulator.schedule,
        repeatS: config.simulator.repeatS,
        maxSamples: config.simulator.maxSamples,
      });
    case 'csv':
      return new CsvSource({
        path: config.csv.path,
        asset: config.asset,
        speed: config.csv.speed,
        loop: config.csv.loop,
        restamp: config.csv.restamp,
        timeColumn: config.csv.timeColumn,
        delimiter: config.csv.delimiter,
        columnMap: config.csv.columnMap,
      });
    case 'mqtt':
      return new MqttSource({
        url: config.mqtt.url,
        username: config.mqtt.username,
        password: config.mqtt.password,
        topics: config.mqtt.topics,
        asset: config.asset,
        clientId: `vigil-${config.deviceId}-reader`,
        timeWindow: { earliestMs: Date.parse(config.time.earliest), maxFutureMs: config.time.maxFutureS * 1000 },
      });
    case 'modbus':
      return new ModbusSource({
        link:
          config.modbus.transport === 'rtu'
            ? {
                kind: 'rtu',
                path: config.modbus.serialPort,
                baudRate: config.modbus.baudRate,
                parity: config.modbus.parity,
                dataBits: config.modbus.dataBits,
                stopBits: config.modbus.stopBits,
              }
            : { kind: 'tcp', host: config.modbus.host, port: config.modbus.port },
        unitId: config.modbus.unitId,
        timeoutMs: config.modbus.timeoutMs,
        rateHz: config.rateHz,
        asset: config.asset,
        registers: config.modbus.registerMap,
      });
    case 'opcua':
      return new OpcuaSource({
        endpoint: config.opcua.endpoint,
        securityMode: config.opcua.securityMode,
        securityPolicy: config.opcua.securityPolicy,
        username: config.opcua.username,
        password: config.opcua.password,
        userCertificateFile: config.opcua.userCertificateFile,
        userPrivateKeyFile: config.opcua.userPrivateKeyFile,
        pkiDir: config.opcua.pkiDir,
        nodes: config.opcua.nodeMap,
        rateHz: config.rateHz,
        asset: config.asset,
        onLink: (up, detail) => onLink('opcua', up, detail),
      });
    default:
      throw new Error(`unknown source ${String(config.source)}`);
  }
}
