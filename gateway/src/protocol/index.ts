// Public protocol surface of the gateway, importable by the browser.
export * from './browser.ts';
export * from './transfer.ts';
export * from './policy.ts';
