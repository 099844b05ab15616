// A consumer's subject filters compiled for the delivery path: literal filters
// in a Set (one lookup), wildcard filters matched token by token.

import { isLiteralSubject, subjectMatchesFilter } from '../subjects.js';

export class FilterSet {
  readonly filters: readonly string[];
  private readonly literals = new Set<string>();
  private readonly wild: string[] = [];

  constructor(filters: readonly string[]) {
    this.filters = filters;
    for (const f of filters) {
      if (isLiteralSubject(f)) this.literals.add(f);
      else this.wild.push(f);
    }
  }

  get isEmpty(): boolean {
    return this.filters.length === 0;
  }

  /** Does a literal subject match one of the filters? No filters match everything. */
  matches(subject: string): boolean {
    if (this.filters.length === 0) return true;
    if (this.literals.has(subject)) return true;
    for (const w of this.wild) if (subjectMatchesFilter(subject, w)) return true;
    return false;
  }
}
