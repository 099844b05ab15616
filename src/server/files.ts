// Pid file (left in place at exit, like nats-server) and ports file (`<basename of argv0>_<pid>.ports` in ports_file_dir).
import { writeFileSync, unlinkSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * Tools poll for these files and read them as soon as they appear: write a temp file and rename it
 * into place, so a reader never sees an empty or half-written file.
 */
function writeWhole(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writePidFile(path: string): void {
  writeWhole(path, String(process.pid));
}

export class PortsFile {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, `${basename(process.argv0)}_${process.pid}.ports`);
  }

  write(json: string): void {
    writeWhole(this.path, json);
  }

  remove(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
