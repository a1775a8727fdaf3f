import {
  readSettingsFile,
  assetSpecsOf,
  assetsSchema,
  commonSchema,
  ConfigChecks,
  parseColumnMap,
  defaultOutputEndpoint,
  envPrefix,
  loadConfig,
  redisUrlSetting,
  type FullPolicy,
  type StageName,
  TOPOLOGY,
} from '@vigil/shared/runtime';

import { parseFaultSchedule } from './faults.js';
import { checkColumnMap } from './map-file.js';
import { checkRegisterMap, parseRegisterMap } from './modbus-registers.js';
import { checkNodeMap, parseNodeMap, type OpcuaSecurityMode, type OpcuaSecurityPolicy } from './opcua-source.js';

export const SERVICE = 'sensor-reader' satisfies StageName;
const ENV = envPrefix(SERVICE);

export const schema = {
  ...commonSchema(SERVICE, TOPOLOGY[SERVICE].opsPort),
  redisUrl: redisUrlSetting,
  asset: {
    doc: 'Asset id stamped on every reading (the machine this reader watches): 1-64 of A-Z a-z 0-9 _ . -',
    format: 'asset-id',
    default: 'pump-1',
    env: `${ENV}_ASSET`,
  },
  assets: {
    doc: 'Allow-list of asset ids (besides the configured asset) the source may name, comma-separated; empty: any valid id, up to maxAssets at a time.',
    format: 'asset-id-list',
    default: [] as string[],
    env: `${ENV}_ASSETS`,
  },
  // With an assets file, a source may name only its assets (and the configured one).
  ...assetsSchema,
  maxAssets: {
    doc: 'Most distinct assets this reader stamps readings for at a time (the configured ones always among them; a name silent for VIGIL_ASSET_IDLE_S gives its place up): a source that names a new asset past it has those readings refused and counted, so a flood of names cannot fill Redis with sequence keys. Keep it at or below the preprocessor\'s and threshold\'s max assets.',
    format: 'positive-int',
    default: 32,
    env: `${ENV}_MAX_ASSETS`,
  },
  source: {
    doc: 'Where readings come from: simulator, csv, mqtt, modbus or opcua.',
    format: ['simulator', 'csv', 'mqtt', 'modbus', 'opcua'],
    default: 'simulator',
    env: `${ENV}_SOURCE`,
  },
  rateHz: {
    doc: 'Sample rate in Hz (simulator and modbus polling).',
    format: 'positive-number',
    default: 10,
    env: `${ENV}_RATE_HZ`,
  },
  thermal: {
    softLimitC: {
      doc: 'CPU temperature above which the sample rate is lowered step by step (a Pi 4 throttles at 80 °C, a 3B+ soft-limits at 60 °C).',
      format: 'positive-number',
      default: 75,
      env: `${ENV}_THERMAL_SOFT_LIMIT_C`,
    },
    hysteresisC: { doc: 'The rate is restored once the CPU is this far below the soft limit.', format: 'positive-number', default: 5, env: `${ENV}_THERMAL_HYSTERESIS_C` },
    stepFactor: { doc: 'Each step multiplies the rate by this (down) or divides by it (up).', format: 'positive-number', default: 0.5, env: `${ENV}_THERMAL_STEP` },
    minRateHz: { doc: 'Lowest rate the governor goes to.', format: 'positive-number', default: 1, env: `${ENV}_THERMAL_MIN_RATE_HZ` },
    checkMs: { doc: 'How often the CPU temperature is checked.', format: 'positive-int', default: 10_000, env: `${ENV}_THERMAL_CHECK_MS` },
  },
  output: {
    endpoint: {
      doc: 'ZeroMQ endpoint of the preprocessor input.',
      format: 'zmq-endpoint',
      default: defaultOutputEndpoint(SERVICE),
      env: `${ENV}_OUTPUT`,
    },
    highWaterMark: {
      doc: 'Readings queued for the preprocessor before new ones are shed (and counted).',
      format: 'positive-int',
      default: 10_000,
      env: `${ENV}_OUTPUT_HWM`,
    },
    whenFull: {
      doc: 'When the queue is full: drop-newest (shed and count; a live sensor cannot wait) or block (the source waits: file replay, benchmarks).',
      format: ['drop-newest', 'block'],
      // Typed as the union, so the loaded setting is one (a value outside it fails at start).
      default: 'drop-newest' as FullPolicy,
      env: `${ENV}_OUTPUT_WHEN_FULL`,
    },
    stallResetMs: {
      doc: 'drop-newest: after this many ms with every reading refused, replace the output socket (a libzmq pipe can stay marked full after the preprocessor drained it); 0 never.',
      format: 'nat',
      default: 2_000,
      env: `${ENV}_OUTPUT_STALL_RESET_MS`,
    },
  },
  time: {
    earliest: {
      doc: 'A reading stamped before this date (YYYY-MM-DD) is refused and counted (ts_out_of_range): no working system sends it.',
      format: 'iso-date',
      default: '1990-01-01',
      env: `${ENV}_EARLIEST_TIME`,
    },
    maxFutureS: {
      doc: 'A reading stamped more than this many seconds ahead of this device\'s clock is refused and counted (ts_out_of_range).',
      format: 'positive-int',
      default: 86_400,
      env: `${ENV}_MAX_FUTURE_S`,
    },
  },
  faultToken: {
    doc: 'Token that turns on fault injection (POST /faults on the ops port, simulator source only), sent as "authorization: Bearer <token>"; empty: off.',
    format: String,
    default: '',
    env: `${ENV}_FAULT_TOKEN`,
    sensitive: true,
  },
  simulator: {
    seed: { doc: 'Random seed of the simulated pump.', format: 'nat', default: 1, env: `${ENV}_SIM_SEED` },
    speed: {
      doc: 'Simulated time runs this many times faster than real time (demos and tests).',
      format: 'positive-number',
      default: 1,
      env: `${ENV}_SIM_SPEED`,
    },
    faults: {
      doc: 'Fault schedule, kind[:channel]@startSeconds+durationSeconds, comma-separated. Kinds: bearing-wear, cavitation, leak, sensor-stuck, sensor-spike.',
      format: String,
      default: 'cavitation@600+120,bearing-wear@1500+300',
      env: `${ENV}_SIM_FAULTS`,
    },
    repeatS: {
      doc: 'Repeat the fault schedule every this many simulated seconds (0: once).',
      format: 'nat',
      default: 2400,
      env: `${ENV}_SIM_REPEAT_S`,
    },
    maxSamples: {
      doc: 'Stop the simulator after this many samples (0: never).',
      format: 'nat',
      default: 0,
      env: `${ENV}_SIM_MAX_SAMPLES`,
    },
  },
  csv: {
    path: { doc: 'CSV file to replay.', format: String, default: '', env: `${ENV}_CSV_PATH` },
    speed: {
      doc: 'Replay at N times the recorded pace; 0 replays as fast as the pipeline takes it.',
      format: Number,
      default: 1,
      env: `${ENV}_CSV_SPEED`,
    },
    loop: { doc: 'Start over at the end of the file.', format: Boolean, default: false, env: `${ENV}_CSV_LOOP` },
    restamp: {
      doc: 'Stamp readings with the replay clock instead of the file time.',
      format: Boolean,
      default: false,
      env: `${ENV}_CSV_RESTAMP`,
    },
    timeColumn: { doc: 'Name of the time column.', format: String, default: 'datetime', env: `${ENV}_CSV_TIME_COLUMN` },
    delimiter: {
      doc: 'Column separator; empty detects ; or , from the header.',
      format: String,
      default: '',
      env: `${ENV}_CSV_DELIMITER`,
    },
    columns: {
      doc: 'Column map source=channel, comma-separated; empty reads SKAB files with the pump channel names and other files by their header.',
      format: 'string-list',
      default: [] as string[],
      env: `${ENV}_CSV_COLUMNS`,
    },
    columnsFile: { doc: 'The column map from a JSON or YAML file instead: {"<column>": "<channel>", ...}.', format: String, default: '', env: `${ENV}_CSV_COLUMNS_FILE` },
  },
  mqtt: {
    url: {
      doc: 'Broker with the sensor topics to read.',
      format: 'mqtt-url',
      default: 'mqtt://127.0.0.1:1883',
      env: `${ENV}_MQTT_URL`,
      sensitive: true,
    },
    username: { doc: 'Broker user name.', format: String, default: '', env: `${ENV}_MQTT_USERNAME` },
    password: { doc: 'Broker password.', format: String, default: '', env: `${ENV}_MQTT_PASSWORD`, sensitive: true },
    topics: {
      doc: 'Topics to subscribe to, comma-separated (wildcards allowed).',
      format: 'string-list',
      default: ['sensors/#'],
      env: `${ENV}_MQTT_TOPICS`,
    },
  },
  modbus: {
    transport: { doc: 'tcp (a PLC or gateway on the network) or rtu (RS-485 on a serial port).', format: ['tcp', 'rtu'], default: 'tcp' as 'tcp' | 'rtu', env: `${ENV}_MODBUS_TRANSPORT` },
    host: { doc: 'Modbus TCP device address.', format: String, default: '127.0.0.1', env: `${ENV}_MODBUS_HOST` },
    port: { doc: 'Modbus TCP port.', format: 'port', default: 502, env: `${ENV}_MODBUS_PORT` },
    serialPort: { doc: 'Modbus RTU: the serial device (a USB RS-485 adapter is usually /dev/ttyUSB0).', format: String, default: '', env: `${ENV}_MODBUS_SERIAL_PORT` },
    baudRate: { doc: 'Modbus RTU: line speed.', format: 'positive-int', default: 9600, env: `${ENV}_MODBUS_BAUD_RATE` },
    parity: { doc: 'Modbus RTU: parity (the Modbus standard says even; many devices ship with none).', format: ['none', 'even', 'odd'], default: 'none' as 'none' | 'even' | 'odd', env: `${ENV}_MODBUS_PARITY` },
    dataBits: { doc: 'Modbus RTU: data bits.', format: [7, 8], default: 8 as 7 | 8, env: `${ENV}_MODBUS_DATA_BITS` },
    stopBits: { doc: 'Modbus RTU: stop bits.', format: [1, 2], default: 1 as 1 | 2, env: `${ENV}_MODBUS_STOP_BITS` },
    unitId: { doc: 'Modbus unit (slave) id of registers that do not name their own "unit".', format: 'nat', default: 1, env: `${ENV}_MODBUS_UNIT_ID` },
    timeoutMs: { doc: 'Timeout of one read.', format: 'positive-int', default: 1000, env: `${ENV}_MODBUS_TIMEOUT_MS` },
    registers: {
      doc: 'Register map as JSON: [{"channel":"pressure","unit":1,"table":"input","address":0,"type":"uint16","scale":0.01,"offset":0}].',
      format: String,
      default: '',
      env: `${ENV}_MODBUS_REGISTERS`,
    },
    registersFile: { doc: 'The register map from a JSON or YAML file instead (same fields).', format: String, default: '', env: `${ENV}_MODBUS_REGISTERS_FILE` },
  },
  opcua: {
    endpoint: { doc: 'OPC UA server endpoint.', format: 'opcua-url', default: 'opc.tcp://127.0.0.1:4840', env: `${ENV}_OPCUA_ENDPOINT`, sensitive: true },
    securityMode: { doc: 'None, Sign or SignAndEncrypt.', format: ['None', 'Sign', 'SignAndEncrypt'], default: 'None' as OpcuaSecurityMode, env: `${ENV}_OPCUA_SECURITY_MODE` },
    securityPolicy: {
      doc: 'None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss (with Sign or SignAndEncrypt).',
      format: ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'],
      default: 'None' as OpcuaSecurityPolicy,
      env: `${ENV}_OPCUA_SECURITY_POLICY`,
    },
    username: { doc: 'User name (empty: anonymous, or the user certificate below).', format: String, default: '', env: `${ENV}_OPCUA_USERNAME` },
    password: { doc: 'Password of that user.', format: String, default: '', env: `${ENV}_OPCUA_PASSWORD`, sensitive: true },
    userCertificateFile: { doc: 'X.509 user certificate (PEM) to log in with, instead of a user name.', format: String, default: '', env: `${ENV}_OPCUA_USER_CERTIFICATE_FILE` },
    userPrivateKeyFile: { doc: 'Its private key (PEM).', format: String, default: '', env: `${ENV}_OPCUA_USER_PRIVATE_KEY_FILE` },
    pkiDir: {
      doc: "Folder for the client's application certificate and the server certificates it has seen (put it on a volume: a server that trusts this client's certificate keeps trusting it).",
      format: 'non-empty-string',
      default: 'data/opcua-pki',
      env: `${ENV}_OPCUA_PKI_DIR`,
    },
    nodes: {
      doc: 'Channels and their node ids as JSON: {"pressure": "ns=2;s=Pump1.Pressure", ...} or [{"channel": ..., "nodeId": ...}].',
      format: String,
      default: '',
      env: `${ENV}_OPCUA_NODES`,
    },
    nodesFile: { doc: 'The node map from a JSON or YAML file instead (same shapes).', format: String, default: '', env: `${ENV}_OPCUA_NODES_FILE` },
  },
};

export type SensorReaderConfig = ReturnType<typeof loadSensorReaderConfig>;

/**
 * The settings, validated, with the fault schedule, the CSV column map and the Modbus register map
 * parsed, and what only makes sense together checked: every problem in one start-up error.
 */
export function loadSensorReaderConfig(overrides: Record<string, unknown> = {}) {
  const config = loadConfig(schema, overrides);
  const checks = new ConfigChecks();
  const schedule = checks.parse(() => parseFaultSchedule(config.simulator.faults)) ?? [];
  const columnMap =
    (config.csv.columnsFile !== ''
      ? checks.parse(() => checkColumnMap(readSettingsFile(config.csv.columnsFile, 'VIGIL_SENSOR_READER_CSV_COLUMNS_FILE')))
      : checks.parse(() => parseColumnMap(config.csv.columns))) ?? {};
  checks.require(config.csv.columns.length === 0 || config.csv.columnsFile === '', 'set one of VIGIL_SENSOR_READER_CSV_COLUMNS and VIGIL_SENSOR_READER_CSV_COLUMNS_FILE, not both');
  const registerMap =
    config.modbus.registersFile !== ''
      ? (checks.parse(() => checkRegisterMap(readSettingsFile(config.modbus.registersFile, 'VIGIL_SENSOR_READER_MODBUS_REGISTERS_FILE'))) ?? [])
      : config.modbus.registers === ''
        ? []
        : (checks.parse(() => parseRegisterMap(config.modbus.registers)) ?? []);
  checks.require(config.source !== 'csv' || config.csv.path !== '', 'source csv needs a file: set VIGIL_SENSOR_READER_CSV_PATH');
  checks.require(
    config.source !== 'modbus' || config.modbus.registers !== '' || config.modbus.registersFile !== '',
    'source modbus needs a register map: set VIGIL_SENSOR_READER_MODBUS_REGISTERS or VIGIL_SENSOR_READER_MODBUS_REGISTERS_FILE',
  );
  checks.require(config.modbus.registers === '' || config.modbus.registersFile === '', 'set one of VIGIL_SENSOR_READER_MODBUS_REGISTERS and VIGIL_SENSOR_READER_MODBUS_REGISTERS_FILE, not both');
  const nodeMap =
    config.opcua.nodesFile !== ''
      ? (checks.parse(() => checkNodeMap(readSettingsFile(config.opcua.nodesFile, 'VIGIL_SENSOR_READER_OPCUA_NODES_FILE'))) ?? [])
      : config.opcua.nodes === ''
        ? []
        : (checks.parse(() => parseNodeMap(config.opcua.nodes)) ?? []);
  checks.require(
    config.source !== 'opcua' || config.opcua.nodes !== '' || config.opcua.nodesFile !== '',
    'source opcua needs a node map: set VIGIL_SENSOR_READER_OPCUA_NODES or VIGIL_SENSOR_READER_OPCUA_NODES_FILE',
  );
  checks.require(config.opcua.nodes === '' || config.opcua.nodesFile === '', 'set one of VIGIL_SENSOR_READER_OPCUA_NODES and VIGIL_SENSOR_READER_OPCUA_NODES_FILE, not both');
  checks.require(
    (config.opcua.securityMode === 'None') === (config.opcua.securityPolicy === 'None'),
    'OPC UA security: mode None goes with policy None, and Sign or SignAndEncrypt with a policy such as Basic256Sha256 (VIGIL_SENSOR_READER_OPCUA_SECURITY_MODE and _POLICY)',
  );
  checks.require(
    (config.opcua.userCertificateFile === '') === (config.opcua.userPrivateKeyFile === ''),
    'an OPC UA user certificate needs its private key: set both VIGIL_SENSOR_READER_OPCUA_USER_CERTIFICATE_FILE and VIGIL_SENSOR_READER_OPCUA_USER_PRIVATE_KEY_FILE',
  );
  checks.require(
    config.source !== 'modbus' || config.modbus.transport !== 'rtu' || config.modbus.serialPort !== '',
    'Modbus RTU needs a serial port: set VIGIL_SENSOR_READER_MODBUS_SERIAL_PORT (for example /dev/ttyUSB0)',
  );
  const assetSpecs = checks.parse(() => assetSpecsOf(config)) ?? new Map();
  const pinned = new Set([config.asset, ...config.assets, ...assetSpecs.keys()]);
  checks.require(pinned.size <= config.maxAssets, `${pinned.size} assets are configured (VIGIL_SENSOR_READER_ASSET, _ASSETS and the assets file), more than VIGIL_SENSOR_READER_MAX_ASSETS (${config.maxAssets}): raise it`);
  checks.done();
  return {
    ...config,
    assets: [...new Set([...config.assets, ...assetSpecs.keys()])],
    simulator: { ...config.simulator, schedule },
    csv: { ...config.csv, columnMap },
    modbus: { ...config.modbus, registerMap },
    opcua: { ...config.opcua, nodeMap },
  };
}
