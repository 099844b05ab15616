// Unsigned decimal numbers written as ASCII digits straight into a buffer (control lines, ack
// replies): no intermediate string per number.

/** Writes `n` (a non-negative safe integer) at `off`; returns the offset after the last digit. */
export function writeUint(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = 48 + n;
    return off + 1;
  }
  let digits = 0;
  for (let v = n; v > 0; v = Math.floor(v / 10)) digits++;
  let p = off + digits;
  for (let v = n; v > 0; v = Math.floor(v / 10)) buf[--p] = 48 + (v % 10);
  return off + digits;
}
