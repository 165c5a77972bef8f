// One build per cache entry at a time in this process: a second caller waits for the first's
// result instead of building the same thing beside it (images and the kernel they share).
export class BuildsUnderWay<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** `start`'s promise for `key`, or the one already under way for it. */
  run(key: string, start: () => Promise<T>): Promise<T> {
    let build = this.running.get(key);
    if (!build) {
      build = start().finally(() => this.running.delete(key));
      this.running.set(key, build);
    }
    return build;
  }
}
