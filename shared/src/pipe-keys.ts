/**
 * The pipeline's CURVE key: one X25519 key pair that every stage of one device holds. Each input
 * is a CURVE server with it, each output a CURVE client with it, and an input accepts only a
 * client that proves it holds the same secret (pipe-auth.ts). Whoever reaches a stage's port
 * without the key gets no handshake, so cannot push a reading or a decision into the pipeline.
 *
 * The secret comes from VIGIL_PIPE_SECRET_KEY (a balena fleet or device variable), or from a file
 * (VIGIL_PIPE_KEY_FILE) that the first stage to start creates and the others read: in compose, a
 * volume shared by the five services and nothing else.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface PipeKeys {
  /** Z85, 40 characters. */
  publicKey: string;
  /** Z85, 40 characters. */
  secretKey: string;
}

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUE = new Map([...Z85_ALPHABET].map((char, index) => [char, index]));

/** ZeroMQ's Z85 (RFC 32): 4 bytes to 5 characters. */
export function z85Encode(bytes: Buffer): string {
  if (bytes.length % 4 !== 0) throw new Error('Z85 encodes whole 4-byte groups');
  let text = '';
  for (let offset = 0; offset < bytes.length; offset += 4) {
    let value = bytes.readUInt32BE(offset);
    const group: string[] = [];
    for (let i = 0; i < 5; i++) {
      group.unshift(Z85_ALPHABET[value % 85] ?? '');
      value = Math.floor(value / 85);
    }
    text += group.join('');
  }
  return text;
}

/** The bytes of a Z85 text, or undefined if it is not Z85. */
export function z85Decode(text: string): Buffer | undefined {
  if (text.length % 5 !== 0) return undefined;
  const bytes = Buffer.alloc((text.length / 5) * 4);
  for (let offset = 0; offset < text.length; offset += 5) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const digit = Z85_VALUE.get(text[offset + i] ?? '');
      if (digit === undefined) return undefined;
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) return undefined;
    bytes.writeUInt32BE(value, (offset / 5) * 4);
  }
  return bytes;
}

export function isCurveKey(text: unknown): text is string {
  return typeof text === 'string' && text.length === 40 && z85Decode(text)?.length === 32;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** The key pair of a Z85 secret key: the public key is X25519 of the secret and the base point. */
export function pipeKeysFromSecret(secretKey: string): PipeKeys {
  const secret = isCurveKey(secretKey) ? z85Decode(secretKey) : undefined;
  if (!secret) throw new Error('a pipeline key is 40 characters of Z85 (make one with: npm run keygen)');
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(secret), x: '' }, format: 'jwk' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { publicKey: z85Encode(Buffer.from(String(jwk.x), 'base64url')), secretKey };
}

export function generatePipeKeys(): PipeKeys {
  return pipeKeysFromSecret(z85Encode(randomBytes(32)));
}

/**
 * Reads the key file, or creates it if there is none. Two stages starting together may both
 * create one: each writes its own temporary file and links it into place, which only the first
 * can do; the other then reads the winner's. A reader never sees a half-written key.
 */
export function loadOrCreateKeyFile(path: string): PipeKeys {
  const existing = readKeyFile(path);
  if (existing) return existing;
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, `${generatePipeKeys().secretKey}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  const created = readKeyFile(path);
  if (!created) throw new Error(`pipeline key file ${path} does not hold a key (40 characters of Z85)`);
  return created;
}

function readKeyFile(path: string): PipeKeys | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (!isCurveKey(text)) throw new Error(`pipeline key file ${path} does not hold a key (40 characters of Z85); delete it and a new one is made`);
  return pipeKeysFromSecret(text);
}

export interface PipeKeySettings {
  pipeSecretKey: string;
  pipeKeyFile: string;
}

/** The pipeline key these settings name (the variable before the file), or undefined for none. */
export function pipeKeysOf(settings: PipeKeySettings): PipeKeys | undefined {
  if (settings.pipeSecretKey !== '') return pipeKeysFromSecret(settings.pipeSecretKey);
  if (settings.pipeKeyFile !== '') return loadOrCreateKeyFile(settings.pipeKeyFile);
  return undefined;
}

/**
 * Whether a bind endpoint is reachable only from this machine: loopback TCP, ipc (a file, guarded
 * by its permissions) or inproc. Anything else needs the pipeline key.
 */
export function isLocalEndpoint(endpoint: string): boolean {
  if (endpoint.startsWith('ipc://') || endpoint.startsWith('inproc://')) return true;
  const host = /^tcp:\/\/(\[[^\]]+\]|[^:]+):/.exec(endpoint)?.[1];
  return host !== undefined && (host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host));
}
