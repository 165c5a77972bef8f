// Public API of the hypervisor package for its clients (gateway, portal, CLI).
export * from './protocol.ts';
export * from './contract.ts';
export * from './transfer.ts';
export { HypervisorClient, HypervisorError, type HypervisorClientOptions } from './client.ts';
