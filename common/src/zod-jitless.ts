// Import this before any module that builds zod schemas in the browser. zod probes `new Function`
// for its compiled fast path when it builds its first object schema; the portal's CSP blocks
// that (no 'unsafe-eval'), and the browser reports the probe as a violation even though zod
// falls back. Without the fast path zod still validates the same way.
import * as z from 'zod';

z.config({ jitless: true });
