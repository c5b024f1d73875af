import { FAKE_IMAGE_HASH } from '../attestation/quote-provider.ts';

/**
 * The development "image": every development quote (the reference's 64-byte fake quote) carries
 * no measurements, so all development nodes share one image hash — the reference hash of zero
 * measurements. The local network puts it on its root contract's proxy and worker allowlists,
 * where a real network's root lists the hashes of real, reproducibly built TD images.
 * Development only: nothing about it is confidential.
 */
export const DEV_IMAGE_HASH = FAKE_IMAGE_HASH;
