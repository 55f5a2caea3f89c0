import { randomBytes } from 'node:crypto';

/** Source ids are public (they travel in every record); write keys are bearer secrets. */
export function newSourceId(): string {
  return `src_${randomBytes(9).toString('base64url')}`;
}

export function newWriteKey(): string {
  return `wk_${randomBytes(24).toString('base64url')}`;
}
