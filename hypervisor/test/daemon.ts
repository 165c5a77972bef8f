// Helpers for tests against a hypervisor daemon process (HypervisorProcess, also exported as
// @raydesk/hypervisor/testing) and for the guest's serial shell.
import type { HypervisorClient } from '../src/api/index.ts';
import { sleep } from './harness.ts';

export {
  DAEMON_SECRET,
  HypervisorProcess as Daemon,
  freePort,
} from '../src/testing/hypervisor-process.ts';

/** Types a line on the guest console and waits for `until` in the output that follows. */
export async function run(
  client: HypervisorClient,
  id: string,
  line: string,
  until: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  const before = (await client.console(id)).length;
  await client.consoleInput(id, `${line}\n`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = until.exec((await client.console(id)).slice(before));
    if (match) return match;
    await sleep(200);
  }
  throw new Error(`no ${until} on the console within ${timeoutMs} ms after "${line}"`);
}

/**
 * The value of a shell expression in the guest. The console echoes the typed line, so the label
 * is typed split by quotes and only the output matches `LABEL=`.
 */
export async function ask(
  client: HypervisorClient,
  id: string,
  label: string,
  expr: string,
): Promise<string> {
  const [, value] = await run(
    client,
    id,
    `echo "${label}""=${expr}"`,
    new RegExp(`${label}=(\\S*)`),
  );
  return value!;
}

/** Waits until the guest's shell answers (after a cold boot). */
export async function waitForShell(client: HypervisorClient, id: string): Promise<void> {
  const deadline = Date.now() + 240_000;
  for (let n = 0; Date.now() < deadline; n++) {
    try {
      await run(client, id, `echo SHELL-$((${n}+1000))`, new RegExp(`SHELL-${n + 1000}`), 3_000);
      return;
    } catch {
      // not up yet
    }
  }
  throw new Error(`guest ${id} never answered on its console`);
}
