import { CsvSource } from './csv-source.js';
import { parseColumnMap } from '@vigil/shared';
import { parseFaultSchedule } from './faults.js';
import { ModbusSource } from './modbus-source.js';
import { parseRegisterMap } from './modbus-registers.js';
import { MqttSource } from './mqtt-source.js';
import type { SampleSource } from './sample-source.js';
import { SimulatorSource } from './simulator-source.js';
import type { SensorReaderConfig } from './config.js';

/** Builds the configured source; settings that only make sense together are checked here. */
export function createSource(config: SensorReaderConfig): SampleSource {
  switch (config.source) {
    case 'simulator':
      return new SimulatorSource({
        asset: config.asset,
        seed: config.simulator.seed,
        rateHz: config.rateHz,
        speed: config.simulator.speed,
        schedule: parseFaultSchedule(config.simulator.faults),
        repeatS: config.simulator.repeatS,
        maxSamples: config.simulator.maxSamples,
      });
    case 'csv':
      if (config.csv.path === '') throw new Error('source csv needs csv.path (VIGIL_SENSOR_READER_CSV_PATH)');
      return new CsvSource({
        path: config.csv.path,
        asset: config.asset,
        speed: config.csv.speed,
        loop: config.csv.loop,
        restamp: config.csv.restamp,
        timeColumn: config.csv.timeColumn,
        delimiter: config.csv.delimiter,
        columnMap: parseColumnMap(config.csv.columns),
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
      if (config.modbus.registers === '') {
        throw new Error('source modbus needs a register map (VIGIL_SENSOR_READER_MODBUS_REGISTERS)');
      }
      return new ModbusSource({
        host: config.modbus.host,
        port: config.modbus.port,
        unitId: config.modbus.unitId,
        timeoutMs: config.modbus.timeoutMs,
        rateHz: config.rateHz,
        asset: config.asset,
        registers: parseRegisterMap(config.modbus.registers),
      });
    default:
      throw new Error(`unknown source ${String(config.source)}`);
  }
}
