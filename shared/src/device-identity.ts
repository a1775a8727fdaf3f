/**
 * The device id when none is set: on balena, the name the device was given when provisioned (or
 * the short form of its UUID), so fifty devices of one fleet get fifty ids with no settings; on a
 * machine of its own, its host name; in a plain container, whose host name is a random container
 * id that changes with every `up`, the fixed `vigil-pi`. prometheus/entrypoint.sh applies the same
 * rule, so the metrics carry the same id as the MQTT topics.
 */
export const FALLBACK_DEVICE_ID = 'vigil-pi';

/** A name as a device id: every character outside A-Z a-z 0-9 _ . - becomes '-', at most 64. */
export function asDeviceId(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
}

export function defaultDeviceId(env: NodeJS.ProcessEnv, hostname: string, inContainer: boolean): string {
  const candidates = [env.BALENA_DEVICE_NAME_AT_INIT, env.BALENA_DEVICE_UUID?.slice(0, 7), inContainer ? undefined : hostname];
  for (const candidate of candidates) {
    const id = asDeviceId(candidate?.trim() ?? '');
    if (id !== '') return id;
  }
  return FALLBACK_DEVICE_ID;
}
