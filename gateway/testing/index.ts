// Harnesses for tests outside the gateway (the viewer's browser tests): a gateway in-process
// against a fake hypervisor, viewer sockets with attach tokens, and waiting helpers.
export * from './helpers.ts';
export * from './fake-hypervisor.ts';
