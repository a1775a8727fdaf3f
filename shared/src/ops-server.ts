/**
 * The operations endpoint every service serves: GET /metrics for Prometheus, GET /healthz built
 * from a list of named checks (what Docker's HEALTHCHECK calls), and optional extra routes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthCheck {
  name: string;
  healthy(): boolean;
}

export type RouteHandler = (body: string, request: IncomingMessage) => Promise<{ status: number; body: unknown }>;

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  healthChecks: HealthCheck[];
  /** Extra routes keyed by "METHOD /path". */
  routes?: Record<string, RouteHandler>;
}

const MAX_BODY_BYTES = 16 * 1024;

export class OpsServer {
  private constructor(private readonly server: Server) {}

  static async start(options: OpsServerOptions): Promise<OpsServer> {
    const server = createServer((request, response) => {
      handle(options, request, response).catch((error: unknown) => {
        respond(response, 500, { error: error instanceof Error ? error.message : String(error) });
      });
    });
    // Keep-alive sockets from Prometheus would otherwise hold close() open for seconds.
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new OpsServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function handle(options: OpsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method === 'GET' && path === '/metrics') {
    const text = await options.registry.metrics();
    response.writeHead(200, { 'content-type': options.registry.contentType });
    response.end(text);
    return;
  }
  if (request.method === 'GET' && path === '/healthz') {
    const checks = Object.fromEntries(options.healthChecks.map((check) => [check.name, check.healthy()]));
    const healthy = Object.values(checks).every(Boolean);
    respond(response, healthy ? 200 : 503, { status: healthy ? 'ok' : 'unhealthy', checks });
    return;
  }
  const route = options.routes?.[`${request.method ?? 'GET'} ${path}`];
  if (!route) {
    respond(response, 404, { error: 'not found' });
    return;
  }
  const body = await readBody(request);
  if (body === undefined) {
    respond(response, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes` });
    return;
  }
  const result = await route(body, request);
  respond(response, result.status, result.body);
}

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function respond(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
