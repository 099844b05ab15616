// Pid file (left in place at exit, like nats-server) and ports file (`<basename of argv0>_<pid>.ports` in ports_file_dir).
import { writeFileSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

export function writePidFile(path: string): void {
  writeFileSync(path, String(process.pid));
}

export class PortsFile {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, `${basename(process.argv0)}_${process.pid}.ports`);
  }

  write(json: string): void {
    writeFileSync(this.path, json);
  }

  remove(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
