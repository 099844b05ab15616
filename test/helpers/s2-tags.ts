// Counts the tag kinds of one S2 block, walked here by hand from the format (not with the
// decoder under test), so tests can show that data really carries S2's repeat-offset copies
// (tag 01 with offset 0, absent from plain Snappy) or 4-byte-offset copies.

export interface S2TagCounts {
  /** Repeat copies: tag 01 with a zero offset. */
  repeat: number;
  /** Copies with a 4-byte offset (tag 11). */
  copy4: number;
}

/** Tag kinds of a valid S2 block (uvarint decoded length, then tags). */
export function s2TagCounts(block: Uint8Array): S2TagCounts {
  const out = { repeat: 0, copy4: 0 };
  let i = 0;
  while (block[i]! & 0x80) i++;
  i++;
  while (i < block.length) {
    const t = block[i]!;
    switch (t & 3) {
      case 0: {
        // Literal: length - 1 in the tag, or in the 1 to 4 bytes after it (x - 59 of them).
        let x = t >>> 2;
        if (x < 60) i += 1;
        else {
          const e = x - 59;
          x = 0;
          for (let k = e; k >= 1; k--) x = x * 256 + block[i + k]!;
          i += 1 + e;
        }
        i += x + 1;
        break;
      }
      case 1: {
        const off = ((t & 0xe0) << 3) | block[i + 1]!;
        i += 2;
        if (off === 0) {
          // Repeat: length codes 5, 6, 7 take 1, 2, 3 more bytes.
          out.repeat++;
          const l = (t >>> 2) & 7;
          i += l === 5 ? 1 : l === 6 ? 2 : l === 7 ? 3 : 0;
        }
        break;
      }
      case 2:
        i += 3;
        break;
      default:
        out.copy4++;
        i += 5;
    }
  }
  return out;
}
