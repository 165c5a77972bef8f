import * as z from 'zod';

/** A domain's lifecycle states, as the hypervisor reports them. */
export const DOMAIN_STATES = [
  'starting', // worker booting or restoring state
  'running',
  'paused',
  'saving', // state being written to disk
  'saved', // suspended to disk, holds no RAM
  'crashed', // worker died; restartable
  'stopped', // destroyed; kept briefly for `list`
] as const;
export type DomainState = (typeof DOMAIN_STATES)[number];
export const domainStateSchema = z.enum(DOMAIN_STATES);
