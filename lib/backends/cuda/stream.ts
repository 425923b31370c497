import { SparselabError } from "../../errors.js";
import { requireCuda, type CudaRuntime } from "./runtime.js";
import { streamId, type StreamLike } from "./device-tensor.js";

/**
 * User-visible CUDA streams and events. A stream is an ordered queue of GPU work; work on two
 * streams may overlap. Every op takes its stream from the scope it is called in: inside
 * `stream.run(...)` launches, allocations and copies go on that stream (across awaits); outside,
 * on the legacy default stream, which orders against all others (so code that never names a
 * stream keeps its old, fully ordered behaviour).
 */
export class Stream {
  /** The driver stream id (0 is the legacy default stream). */
  readonly id: number;
  readonly #rt: CudaRuntime;
  #disposed = false;

  /**
   * Creates a stream (blocking: it also orders against the legacy default stream).
   * @example
   * const s = new sl.cuda.Stream();
   * const out = await s.run(() => sl.attention(qd, kd, vd));
   * await s.synchronized();
   */
  constructor() {
    this.#rt = requireCuda("cuda.Stream");
    this.id = this.#rt.b.streamCreate();
  }

  /**
   * Runs `fn` with this stream current: ops called inside (also after awaits inside an async
   * `fn`) enqueue on it. Returns what `fn` returns.
   * @example
   * const s = new sl.cuda.Stream();
   * const y = s.run(() => sl.cuda.toDevice(sl.randn([1024])));
   */
  run<T>(fn: () => T): T {
    this.#live("run");
    return this.#rt.withStream(this.id, fn);
  }

  /** Blocks the JS thread until all work queued on the stream has finished. Prefer `await synchronized()`. */
  synchronize(): void {
    this.#live("synchronize");
    this.#rt.b.streamSynchronize(this.id);
  }

  /**
   * Resolves once all work queued so far has finished, waiting on a worker thread.
   * @example
   * const s = new sl.cuda.Stream();
   * await s.synchronized();
   */
  async synchronized(): Promise<void> {
    this.#live("synchronized");
    const e = this.#rt.acquireEvent();
    try {
      this.#rt.b.eventRecord(e, this.id);
      await this.#rt.b.eventWait(e);
    } finally {
      this.#rt.recycleEvent(e);
    }
  }

  /** Whether all work queued on the stream has finished (never blocks). */
  query(): boolean {
    this.#live("query");
    return this.#rt.b.streamQuery(this.id);
  }

  /** Makes later work on this stream wait for `event` (without blocking the host). */
  waitEvent(event: Event): void {
    this.#live("waitEvent");
    this.#rt.b.streamWaitEvent(this.id, event.id);
  }

  /** Records a new event (or `event`) at the stream's current end and returns it. */
  record(event: Event = new Event()): Event {
    this.#live("record");
    return event.record(this);
  }

  /** Waits for the stream's work, then destroys it. Memory used on it goes back to every stream. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      this.#rt.b.streamSynchronize(this.id);
    } finally {
      this.#rt.streamDestroyed(this.id);
      this.#rt.b.streamDestroy(this.id);
    }
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  #live(what: string): void {
    if (this.#disposed) throw new SparselabError(`cuda.Stream.${what}`, `stream ${this.id} was disposed`);
  }
}

/**
 * A CUDA event: a marker in a stream's work, for ordering streams (`stream.waitEvent`), waiting
 * without blocking (`await event.wait()`) and timing (`start.elapsed(end)`).
 */
export class Event {
  /** The shim's event id. */
  readonly id: number;
  readonly timing: boolean;
  readonly #rt: CudaRuntime;
  #recorded = false;
  #disposed = false;

  /**
   * @param opts.timing false makes a cheaper event that cannot time (default true)
   * @example
   * const start = new sl.cuda.Event(), end = new sl.cuda.Event();
   * start.record();
   * await sl.attention(qd, kd, vd);
   * end.record();
   * console.log(start.elapsed(end), "ms");
   */
  constructor(opts: { timing?: boolean } = {}) {
    this.#rt = requireCuda("cuda.Event");
    this.timing = opts.timing ?? true;
    this.id = this.#rt.b.eventCreate(this.timing);
  }

  /** Records the event on `stream` (default: the current stream) and returns it. */
  record(stream?: StreamLike): this {
    this.#live("record");
    this.#rt.b.eventRecord(this.id, streamId("cuda.Event.record", stream, this.#rt));
    this.#recorded = true;
    return this;
  }

  /** Whether the work before the record has finished (true for a never-recorded event). */
  query(): boolean {
    this.#live("query");
    return this.#rt.b.eventQuery(this.id);
  }

  /** Blocks the JS thread until the recorded work finishes. Prefer `await wait()`. */
  synchronize(): void {
    this.#live("synchronize");
    this.#rt.b.eventSynchronize(this.id);
  }

  /** Resolves when the recorded work finishes; the wait runs on a worker thread. */
  wait(): Promise<void> {
    this.#live("wait");
    return this.#rt.b.eventWait(this.id);
  }

  /** Milliseconds from this event to `end` (both recorded, with timing), after waiting for `end`. */
  elapsed(end: Event): number {
    this.#live("elapsed");
    const op = "cuda.Event.elapsed";
    if (!this.timing || !end.timing) throw new SparselabError(op, "both events need timing (created without { timing: false })");
    if (!this.#recorded || !end.#recorded) throw new SparselabError(op, "record both events before timing them");
    return this.#rt.b.eventElapsed(this.id, end.id);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#rt.b.eventDestroy(this.id);
  }

  #live(what: string): void {
    if (this.#disposed) throw new SparselabError(`cuda.Event.${what}`, "event was disposed");
  }
}

/**
 * The legacy default stream's id wrapped for APIs that take a stream: work on it waits for all
 * other streams and they wait for it.
 */
export const DEFAULT_STREAM = { id: 0 } as const;
