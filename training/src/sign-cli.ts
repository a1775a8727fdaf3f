/**
 * Signs model bundles for a fleet whose devices check them (VIGIL_MODEL_PUBLIC_KEY).
 *   npm run sign -- --new-key fleet-model.key      makes an Ed25519 key pair: the private key to
 *                                                  that file (keep it off the devices), the public
 *                                                  key printed for VIGIL_MODEL_PUBLIC_KEY
 *   npm run sign -- --key fleet-model.key --bundle models/pump [--archive pump.vba]
 *                                                  writes models/pump/bundle.sig, and with --archive
 *                                                  the signed bundle as one file to deliver to the
 *                                                  fleet (a retained MQTT message or an HTTPS URL)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKeys, MANIFEST_FILE, packBundle, signBundle } from '@vigil/shared/model';

function fail(message: string): never {
  console.error(`npm run sign: ${message}`);
  process.exit(2);
}

let args: { key?: string; bundle?: string; 'new-key'?: string; archive?: string };
try {
  ({ values: args } = parseArgs({ options: { key: { type: 'string' }, bundle: { type: 'string' }, 'new-key': { type: 'string' }, archive: { type: 'string' } } }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}; use --new-key <file>, or --key <file> --bundle <folder>`);
}

if (args['new-key']) {
  if (existsSync(args['new-key'])) fail(`${args['new-key']} exists; choose another file (a key is never overwritten)`);
  const keys = generateSigningKeys();
  writeFileSync(args['new-key'], keys.privateKeyPem, { mode: 0o600 });
  console.log(`VIGIL_MODEL_PUBLIC_KEY=${keys.publicKeyBase64}`);
  console.error(`(private key in ${args['new-key']}: keep it off the devices and out of repositories)`);
} else {
  if (!args.key || !args.bundle) fail('needs --key <private key file> and --bundle <bundle folder> (or --new-key <file> to make a key)');
  if (!existsSync(join(args.bundle, MANIFEST_FILE))) fail(`${args.bundle} is not a model bundle (no ${MANIFEST_FILE}); make one with npm run train`);
  let pem: string;
  try {
    pem = readFileSync(args.key, 'utf8');
  } catch {
    fail(`cannot read the key ${args.key}`);
  }
  try {
    const id = await signBundle(args.bundle, pem);
    console.log(`signed ${args.bundle} (key ${id})`);
    if (args.archive) {
      const archive = await packBundle(args.bundle);
      writeFileSync(args.archive, archive);
      console.log(`archive ${args.archive}: ${archive.length} bytes${archive.length > 60_000 ? ' (too large for a retained MQTT message on the stack broker: deliver it by URL)' : ''}`);
    }
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}
