/** An append-only list of (time ms, value ms) pairs kept in one growing Float64Array. */
export class SampleBuffer {
  #data = new Float64Array(1 << 16);
  #length = 0;

  push(t: number, value: number): void {
    if (this.#length + 2 > this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = t;
    this.#data[this.#length++] = value;
  }

  get count(): number {
    return this.#length / 2;
  }

  /** The pairs as one interleaved array [t0, v0, t1, v1, ...]. */
  toArray(): Float64Array {
    return this.#data.slice(0, this.#length);
  }
}
