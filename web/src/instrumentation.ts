// Runs once when the portal's server starts: the settings are checked (a wrong one stops the
// start with a message naming it, rather than failing the first request that needs it), then
// the housekeeping loop (VM state sync, host heartbeat, disposable-VM reaper, old login-failure
// pruning).
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { config } = await import('./server/config.ts');
  config();
  const { startHousekeeping } = await import('./server/housekeeping.ts');
  startHousekeeping();
}
