// Runs once when the portal's server starts: the housekeeping loop (VM state sync, host
// heartbeat, disposable-VM reaper, old login-failure pruning).
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { startHousekeeping } = await import('./server/housekeeping.ts');
  startHousekeeping();
}
