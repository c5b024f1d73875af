/**
 * Runtime measurement registers: each starts at 48 zero bytes and is extended as
 * RTMR := SHA-384(RTMR ‖ digest). A register's value is the replay of its event digests.
 */
import { createHash } from 'node:crypto';

export interface MeasuredEvent {
  /** What was measured, for people reading the log. */
  description: string;
  /** SHA-384 digest extended into the register, hex. */
  digest: string;
}

export function sha384(data: Buffer | string): Buffer {
  return createHash('sha384').update(data).digest();
}

export function event(description: string, digest: Buffer): MeasuredEvent {
  return { description, digest: digest.toString('hex') };
}

/** Replays a log of digests into a register value. */
export function replay(events: readonly MeasuredEvent[]): Buffer {
  let rtmr = Buffer.alloc(48);
  for (const e of events) rtmr = createHash('sha384').update(rtmr).update(Buffer.from(e.digest, 'hex')).digest();
  return rtmr;
}

/**
 * The events our guest init extends RTMR3 with (td-image/init/cocoon-init does the same in
 * shell): each is the SHA-384 of an ASCII line, written to the kernel's
 * `/sys/class/misc/tdx_guest/measurements/rtmr3:sha384`. The worker configuration is identified
 * by the SHA-256 of its exact bytes; the final line marks that initialisation finished, so a TD
 * that stopped half-way cannot present the same RTMR3.
 */
export function rtmr3Events(workerConfig: Buffer): MeasuredEvent[] {
  const configHash = createHash('sha256').update(workerConfig).digest('hex');
  const lines = [`cocoon:worker-config.sha256=${configHash}`, 'cocoon:tdx_inited'];
  return lines.map((line) => event(line, sha384(line)));
}
