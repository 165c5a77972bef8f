// For tests and benchmarks (`@raydesk/hypervisor/testing`): a throwaway hypervisor, and the
// parts of a Host that production code never reaches (scheduler statistics and switches, the
// network switch, golden snapshots).
export { startEphemeralHypervisor, type RunningHypervisor } from './host/index.ts';
export { internalsOf, type HostInternals } from './host/internals.ts';
export { DAEMON_SECRET, HypervisorProcess, freePort } from './testing/hypervisor-process.ts';
