/**
 * Signed model bundles for a fleet: a bundle made once (npm run train, a central relearn) is signed
 * with the fleet's Ed25519 private key and carries `bundle.sig`; a device that has the public key
 * (VIGIL_MODEL_PUBLIC_KEY) puts a delivered bundle into service only if the signature holds over
 * every file of it. node:crypto does the work: no dependency.
 *
 * What is signed: one line per file of the bundle folder but the signature, sorted by name,
 * `<name> <sha256 hex>\n`, so a file added, removed, renamed or changed breaks it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SIGNATURE_FILE = 'bundle.sig';

interface SignatureFile {
  algorithm: 'ed25519';
  /** Base64 of the signature over the digest lines. */
  signature: string;
  /** The public key's fingerprint (SHA-256 of its DER, hex, first 16): which key signed it. */
  keyId: string;
}

async function digestLines(dir: string): Promise<Buffer> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name !== SIGNATURE_FILE)
    .map((entry) => entry.name)
    .sort();
  const lines: string[] = [];
  for (const name of names) lines.push(`${name} ${createHash('sha256').update(await readFile(join(dir, name))).digest('hex')}\n`);
  return Buffer.from(lines.join(''));
}

export function keyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** A public key from PEM, or from the base64 of its DER (what fits in one environment variable). */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN') ? createPublicKey(trimmed) : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the model public key must be an Ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

export function generateSigningKeys(): { privateKeyPem: string; publicKeyBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

export async function signBundle(dir: string, privateKeyPem: string): Promise<string> {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the signing key must be an Ed25519 key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  const id = keyId(createPublicKey(privateKey));
  const file: SignatureFile = { algorithm: 'ed25519', signature: sign(null, await digestLines(dir), privateKey).toString('base64'), keyId: id };
  await writeFile(join(dir, SIGNATURE_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return id;
}

/** Why the bundle's signature does not hold under `publicKey`, or undefined when it does. */
export async function signatureProblem(dir: string, publicKey: KeyObject): Promise<string | undefined> {
  let file: SignatureFile;
  try {
    file = JSON.parse(await readFile(join(dir, SIGNATURE_FILE), 'utf8')) as SignatureFile;
  } catch {
    return 'unsigned: no readable bundle.sig';
  }
  if (file.algorithm !== 'ed25519' || typeof file.signature !== 'string') return 'bundle.sig is not an Ed25519 signature';
  if (file.keyId !== keyId(publicKey)) return `signed by another key (${String(file.keyId)}, this device trusts ${keyId(publicKey)})`;
  return verify(null, await digestLines(dir), publicKey, Buffer.from(file.signature, 'base64')) ? undefined : 'the signature does not match the files: the bundle was changed after it was signed';
}
