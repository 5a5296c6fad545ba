/**
 * HyperLogLog registers for approximate distinct counts that merge across windows and tasks:
 * 2^12 registers (about 1.6% standard error), filled by DuckDB from the low 64 bits of each
 * value's MD5 (stable across versions, so sketches written years apart still merge). Registers
 * travel as text: sparse (index and rank of the set registers) while few are set, dense after.
 */
export const HLL_BITS = 12;
export const HLL_REGISTERS = 1 << HLL_BITS;

/** Register index and rank (1 + leading zeros of the remaining 52 bits) of a value, in DuckDB SQL. */
export function hllRegisterSql(value: string): string {
  const h = `md5_number_lower(${value})`;
  const w = `(${h} >> ${HLL_BITS})`;
  // floor(log2) of a double can round up just below a power of two: step back when it did.
  const k = `floor(log2(${w}::DOUBLE))::INTEGER`;
  const bits = `(CASE WHEN (1::UBIGINT << ${k}) > ${w} THEN ${k} - 1 ELSE ${k} END)`;
  return `(${h} & ${HLL_REGISTERS - 1})::INTEGER AS reg, (CASE WHEN ${w} = 0 THEN ${64 - HLL_BITS + 1} ELSE ${64 - HLL_BITS} - ${bits} END)::INTEGER AS rank`;
}

export class Registers {
  constructor(readonly r: Uint8Array = new Uint8Array(HLL_REGISTERS)) {}

  set(index: number, rank: number): void {
    if (rank > this.r[index]!) this.r[index] = rank;
  }

  merge(other: Registers): this {
    for (let i = 0; i < HLL_REGISTERS; i++) if (other.r[i]! > this.r[i]!) this.r[i] = other.r[i]!;
    return this;
  }

  estimate(): number {
    const m = HLL_REGISTERS;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      sum += 2 ** -this.r[i]!;
      if (this.r[i] === 0) zeros++;
    }
    const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
    // Small cardinalities: linear counting is far more accurate.
    return Math.round(raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw);
  }

  encode(): string {
    const set: number[] = [];
    for (let i = 0; i < HLL_REGISTERS; i++) if (this.r[i]) set.push(i);
    if (set.length * 3 < HLL_REGISTERS) {
      const b = Buffer.alloc(set.length * 3);
      set.forEach((i, k) => {
        b.writeUInt16BE(i, k * 3);
        b[k * 3 + 2] = this.r[i]!;
      });
      return `s:${b.toString('base64')}`;
    }
    return `d:${Buffer.from(this.r).toString('base64')}`;
  }

  static decode(text: string): Registers {
    const b = Buffer.from(text.slice(2), 'base64');
    if (text.startsWith('d:')) return new Registers(new Uint8Array(b));
    const out = new Registers();
    for (let k = 0; k + 2 < b.length; k += 3) out.set(b.readUInt16BE(k), b[k + 2]!);
    return out;
  }
}
