// The rules several workspaces must agree on. Types, constants and zod schemas only: no DOM and
// no Node-only APIs, because the browser imports this too. Node-only helpers (the .env loader,
// the repository root) are in `@raydesk/common/node`.
export * from './ids.ts';
export * from './input.ts';
export * from './display.ts';
export * from './domain.ts';
export * from './secrets.ts';
