// Query-string decoding for the monitoring endpoints, with nats-server's error
// texts (which quote Go's strconv errors). A bad value answers HTTP 400 with
// that text.

/** A request nats-server answers with 400 and a plain-text message. */
export class BadRequest extends Error {}

export class Query {
  constructor(private readonly params: URLSearchParams) {}

  /** The first value of a parameter, '' when absent (Go's URL.Query().Get). */
  get(name: string): string {
    return this.params.get(name) ?? '';
  }

  /** Go strconv.ParseBool; empty means false. */
  bool(name: string): boolean {
    const s = this.get(name);
    if (s === '') return false;
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
    throw new BadRequest(`Error decoding boolean for '${name}': strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
  }

  /** Go strconv.Atoi; empty means 0. */
  int(name: string): number {
    const s = this.get(name);
    if (s === '') return 0;
    if (!/^[+-]?[0-9]+$/.test(s)) {
      throw new BadRequest(`Error decoding int for '${name}': strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`);
    }
    const n = Number(s);
    if (!Number.isSafeInteger(n)) {
      throw new BadRequest(`Error decoding int for '${name}': strconv.Atoi: parsing ${goQuote(s)}: value out of range`);
    }
    return n;
  }

  /** Go strconv.ParseUint(s, 10, 64); empty means 0. */
  uint(name: string): number {
    const s = this.get(name);
    if (s === '') return 0;
    if (!/^[0-9]+$/.test(s)) {
      throw new BadRequest(`Error decoding uint64 for '${name}': strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
    }
    const n = Number(s);
    if (!Number.isSafeInteger(n)) {
      throw new BadRequest(`Error decoding uint64 for '${name}': strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
    }
    return n;
  }

  /** connz `state`: open (default), closed, any/all. */
  state(): ConnState {
    const s = this.get('state');
    if (s === '') return 'open';
    switch (s.toLowerCase()) {
      case 'open':
        return 'open';
      case 'closed':
        return 'closed';
      case 'any':
      case 'all':
        return 'all';
    }
    throw new BadRequest(`Error decoding state for ${s}`);
  }

  /** `subs`: "detail" for details, else a boolean. */
  subs(): { subs: boolean; detail: boolean } {
    if (this.get('subs').toLowerCase() === 'detail') return { subs: false, detail: true };
    return { subs: this.bool('subs'), detail: false };
  }
}

export type ConnState = 'open' | 'closed' | 'all';

function goQuote(s: string): string {
  return JSON.stringify(s);
}
