// A small tmpfs of the drill's own (root only), so "the disk is full" is a real ENOSPC from the
// kernel and not an imitation; unmounted after the drill.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DrillContext } from './drill.ts';

export function mountTmpfs(ctx: DrillContext, sizeBytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-chaos-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir]);
  ctx.defer(() => {
    // Lazy: a process that still has a file open there (a server being killed) does not block it.
    execFileSync('umount', ['-l', dir]);
    rmdirSync(dir);
  });
  return dir;
}

/** Bytes still free for an unprivileged writer on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}
