// Damage to a server's meta group files (`<store>/jetstream/<system account>/_js_/_meta_/`), for
// bench/attack/meta-corrupt.ts and test/cluster/js-meta-truncated-wal.test.ts. The server must be
// stopped while its files are changed.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsNode } from '../../test/cluster/js-cluster-harness.js';

/** `<store>/jetstream/<system account>/_js_/_meta_` (the harness names its system account). */
function metaDir(n: JsNode): string {
  const root = join(n.storeDir, 'jetstream');
  for (const acc of readdirSync(root)) if (existsSync(join(root, acc, '_js_', '_meta_'))) return join(root, acc, '_js_', '_meta_');
  throw new Error(`${n.name}: no meta dir under ${root}`);
}

/** Every file of the meta dir (recursively), with its size. */
export function listing(n: JsNode): string {
  const out: string[] = [];
  const walk = (d: string, pre: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p, `${pre}${f}/`);
      else out.push(`${pre}${f}:${statSync(p).size}`);
    }
  };
  walk(metaDir(n), '');
  return out.join(' ');
}

function walFiles(n: JsNode): string[] {
  const d = join(metaDir(n), 'wal');
  return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.wal')).sort().map((f) => join(d, f)) : [];
}

/** Bytes in the newest meta WAL segment (0 when there is none: e.g. the log was just replaced by a leader's snapshot). */
export function lastWalBytes(n: JsNode): number {
  const last = walFiles(n).pop();
  return last ? statSync(last).size : 0;
}

export function damage(n: JsNode, how: string): string {
  const wals = walFiles(n);
  const last = wals[wals.length - 1];
  if (how === 'truncate') {
    if (!last) return 'no WAL';
    const size = statSync(last).size;
    truncateSync(last, Math.floor(size / 2));
    return `${last} truncated ${size} -> ${Math.floor(size / 2)}`;
  }
  if (how === 'flip') {
    if (!last) return 'no WAL';
    const b = readFileSync(last);
    const at = Math.floor(b.length / 3);
    b[at] = b[at]! ^ 0x10;
    writeFileSync(last, b);
    return `${last} bit flipped at ${at} of ${b.length}`;
  }
  if (how === 'snapflip') {
    const sd = join(metaDir(n), 'snapshots');
    const snaps = existsSync(sd) ? readdirSync(sd).filter((f) => f.startsWith('snap.')).sort() : [];
    if (snaps.length === 0) return 'no snapshot';
    const p = join(sd, snaps[snaps.length - 1]!);
    const b = readFileSync(p);
    const at = Math.floor(b.length / 2);
    b[at] = b[at]! ^ 0x01;
    writeFileSync(p, b);
    return `${p} bit flipped at ${at} of ${b.length}`;
  }
  if (how === 'rmwal') {
    rmSync(join(metaDir(n), 'wal'), { recursive: true, force: true });
    return 'meta wal/ dir removed';
  }
  if (how === 'wipe') {
    rmSync(metaDir(n), { recursive: true, force: true });
    return 'meta dir removed';
  }
  throw new Error(`unknown damage ${how}`);
}
