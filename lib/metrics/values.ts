import type { Aggregation } from './definition.js';
import { Registers } from './hll.js';

/** A partial value: a number (count, sum, min, max), or encoded HLL registers (distinct). */
export type Partial = number | string;

/** Groups beyond the cap in one window are summed under this group (bounded documents). */
export const OTHER_GROUP = '["(other)"]';

type GroupMap = Record<string, Partial>;

/** The number a partial value stands for. */
export function numberOf(p: Partial): number {
  return typeof p === 'number' ? p : Registers.decode(p).estimate();
}

/** Sums partial values per group: numbers directly, distinct registers register by register. */
export class Accumulator {
  private readonly numbers = new Map<string, number>();
  private readonly sketches = new Map<string, Registers>();
  constructor(private readonly agg: Aggregation) {}

  add(group: string, value: Partial): void {
    if (typeof value === 'string') {
      const r = this.sketches.get(group);
      if (r) r.merge(Registers.decode(value));
      else this.sketches.set(group, Registers.decode(value));
      return;
    }
    const prev = this.numbers.get(group);
    this.numbers.set(
      group,
      prev === undefined
        ? value
        : this.agg.fn === 'min'
          ? Math.min(prev, value)
          : this.agg.fn === 'max'
            ? Math.max(prev, value)
            : prev + value,
    );
  }

  addRegisters(group: string, registers: Registers): void {
    const r = this.sketches.get(group);
    if (r) r.merge(registers);
    else this.sketches.set(group, registers);
  }

  get size(): number {
    return this.numbers.size + this.sketches.size;
  }

  /** group → partial (registers encoded), with groups beyond `maxGroups` summed under OTHER_GROUP. */
  partials(maxGroups: number, keep?: ReadonlySet<string>): GroupMap {
    const out: GroupMap = {};
    const kept = keep ?? this.topGroups(maxGroups);
    const other = new Accumulator(this.agg);
    for (const [g, v] of this.numbers) {
      if (kept.has(g)) out[g] = v;
      else other.add(OTHER_GROUP, v);
    }
    for (const [g, r] of this.sketches) {
      if (kept.has(g)) out[g] = r.encode();
      else other.addRegisters(OTHER_GROUP, r);
    }
    if (other.size) Object.assign(out, other.partials(Number.POSITIVE_INFINITY, new Set([OTHER_GROUP])));
    return out;
  }

  /** group → number (distinct: estimated). */
  values(keep: ReadonlySet<string>): Record<string, number> {
    const p = this.partials(Number.POSITIVE_INFINITY, undefined);
    const out: Record<string, number> = {};
    const other = new Accumulator(this.agg);
    for (const [g, v] of Object.entries(p)) {
      if (keep.has(g)) out[g] = numberOf(v);
      else other.add(OTHER_GROUP, v);
    }
    for (const [g, v] of Object.entries(other.partials(Number.POSITIVE_INFINITY))) out[g] = numberOf(v);
    return out;
  }

  /** The `max` largest groups by value (ties by key), so capping is the same wherever it runs. */
  topGroups(max: number): Set<string> {
    const all = [
      ...[...this.numbers].map(([g, v]) => [g, this.agg.fn === 'min' ? -v : v] as const),
      ...[...this.sketches].map(([g, r]) => [g, r.estimate()] as const),
    ];
    if (all.length <= max) return new Set(all.map(([g]) => g));
    all.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return new Set(all.slice(0, max).map(([g]) => g));
  }
}
