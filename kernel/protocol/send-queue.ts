/**
 * zeromq v6 allows one pending send per socket (a second one rejects with EBUSY), while the
 * kernel sends from many async paths at once; this serialises them in order.
 */
export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly sock: { send(frames: any): Promise<void> }, private readonly onError: (e: unknown) => void) {}

  send(frames: (Buffer | Uint8Array | string)[]): Promise<void> {
    this.tail = this.tail.then(() => this.sock.send(frames)).catch(this.onError);
    return this.tail;
  }

  /** Resolves when everything queued so far was handed to ZeroMQ. */
  flush(): Promise<void> {
    return this.tail;
  }
}
