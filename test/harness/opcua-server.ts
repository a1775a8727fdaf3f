/**
 * A PLC-like OPC UA server (node-opcua) on a port of the caller's choosing: Pump1.Pressure and
 * Pump1.Temperature under Objects (ns=1), values and status codes set by the caller, user name
 * and password required, security None or SignAndEncrypt with Basic256Sha256.
 */
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { DataType, MessageSecurityMode, SecurityPolicy, StatusCodes, type StatusCode } from 'node-opcua-client';
import { OPCUAServer } from 'node-opcua-server';

type UAVariable = ReturnType<ReturnType<NonNullable<OPCUAServer['engine']['addressSpace']>['getOwnNamespace']>['addVariable']>;

export const OPCUA_USER = { name: 'vigil-reader', password: 'not-in-the-logs' };

export class PlcServer {
  private server: OPCUAServer | undefined;
  pressure: UAVariable | undefined;
  temperature: UAVariable | undefined;

  constructor(
    readonly port: number,
    private readonly pkiDir: string,
  ) {}

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new OPCUAServer({
      port: this.port,
      hostname: '127.0.0.1',
      allowAnonymous: false,
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      userManager: { isValidUser: (name: string, password: string) => name === OPCUA_USER.name && password === OPCUA_USER.password },
      serverCertificateManager: new OPCUACertificateManager({ rootFolder: this.pkiDir, automaticallyAcceptUnknownCertificate: true }),
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('the OPC UA server has no address space');
    const namespace = addressSpace.getOwnNamespace();
    const pump = namespace.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'Pump1' });
    const variable = (name: string, value: number) =>
      namespace.addVariable({ componentOf: pump, browseName: name, nodeId: `s=Pump1.${name}`, dataType: 'Double', value: { dataType: DataType.Double, value } });
    this.pressure = variable('Pressure', 2.5);
    this.temperature = variable('Temperature', 61.5);
    await server.start();
    this.server = server;
  }

  set(variable: UAVariable | undefined, value: number, status: StatusCode = StatusCodes.Good): void {
    variable?.setValueFromSource({ dataType: DataType.Double, value }, status);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.shutdown(0);
  }
}
