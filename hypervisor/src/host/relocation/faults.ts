// Fault injection for the hand-over tests (hypervisor/test/relocation-handover.test.ts): with
// RAYDESK_RELOCATION_FAULT=<step>:<stop|kill> this process stops itself (SIGSTOP, until the test
// sends SIGCONT) or dies (SIGKILL) when a relocation reaches that step, once. The tests thus
// stall or kill a real host exactly between two steps of the two-phase commit. Never set in
// production; unset, `faultPoint` does nothing.
import { z } from 'zod';

const faultSchema = z.object({
  step: z.enum([
    /** Receiver: restored and paused, before its answer to `prepare` leaves (a lost ack). */
    'target:prepared',
    /** Receiver: `commit` arrived, before the guest runs. */
    'target:commit',
    /** Sender: the receiver is prepared, before the decision is recorded. */
    'source:prepared',
    /** Sender: the decision is recorded, before the receiver is told. */
    'source:committed',
  ]),
  action: z.enum(['stop', 'kill']),
});
export type FaultStep = z.infer<typeof faultSchema>['step'];

let armed: z.infer<typeof faultSchema> | null = parse(process.env.RAYDESK_RELOCATION_FAULT);

function parse(value: string | undefined): z.infer<typeof faultSchema> | null {
  if (!value) return null;
  const at = value.lastIndexOf(':');
  return faultSchema.parse({ step: value.slice(0, at), action: value.slice(at + 1) });
}

/** Stops or kills this process here if the tests asked for it (once). */
export function faultPoint(step: FaultStep): void {
  if (armed?.step !== step) return;
  const { action } = armed;
  armed = null;
  process.kill(process.pid, action === 'stop' ? 'SIGSTOP' : 'SIGKILL');
}
