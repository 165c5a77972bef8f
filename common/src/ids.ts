import * as z from 'zod';

/**
 * A domain (VM) id as the hypervisor hands it out and every other part passes it on: it becomes
 * a file name under the hypervisor's data directory and a URL segment, so it is kept plain.
 */
export const DOMAIN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const domainIdSchema = z
  .string()
  .regex(DOMAIN_ID_PATTERN, 'domain ids are lowercase letters, digits and dashes');
