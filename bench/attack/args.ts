// `--name value` command-line options of the attack scripts.
const argv = process.argv.slice(2);

/** The value after `--name`, or `fallback`. */
export function argOf(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}
