import type { Logger } from 'pino';

export declare function watchEventLoopStalls(options: {
  thresholdMs: number;
  log: Logger;
  now?: () => number;
}): () => void;
