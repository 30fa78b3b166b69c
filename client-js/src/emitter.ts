/** A tiny typed event emitter: `on` returns the function that unsubscribes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class Emitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  private listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Calls `listener` on every `event` until the returned function is called. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        // One failing listener must not stop the others, nor the connection.
        console.error('collab client: listener failed', error);
      }
    }
  }

  /** Forgets every listener. */
  protected clear(): void {
    this.listeners.clear();
  }
}
