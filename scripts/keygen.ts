/**
 * Prints a new pipeline key for VIGIL_PIPE_SECRET_KEY (a balena fleet or device variable, or the
 * environment of each stage run by hand): every stage of one device must get the same key.
 *   npm run keygen
 */
import { generatePipeKeys } from '@vigil/shared/runtime';

const keys = generatePipeKeys();
console.log(`VIGIL_PIPE_SECRET_KEY=${keys.secretKey}`);
console.error(`(public key ${keys.publicKey}; keep the secret one out of logs and repositories)`);
