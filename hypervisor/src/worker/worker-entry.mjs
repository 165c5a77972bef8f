// Worker threads do not inherit tsx's loader, so the worker starts here in plain JavaScript,
// registers tsx for this thread, then loads the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
