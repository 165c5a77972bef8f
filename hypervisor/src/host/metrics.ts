// The host's own Prometheus metrics: domains by state, guest memory, and each domain's CPU and
// time held back by the credit scheduler. Read when /metrics is scraped.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DomainState } from '../api/protocol.ts';
import type { DomainCpuStats } from './scheduler.ts';

export interface HostMetricsSource {
  domainStates(): Iterable<DomainState>;
  memoryInUse(): number;
  cpuStats(): Map<string, DomainCpuStats>;
}

export function registerHostMetrics(registry: Registry, source: HostMetricsSource): void {
  new Gauge({
    name: 'raydesk_domains',
    help: 'Domains by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const state of source.domainStates()) this.inc({ state });
    },
  });
  new Counter({
    name: 'raydesk_domain_cpu_throttled_seconds_total',
    help: 'Time a domain was ready to run but held back by the credit scheduler',
    labelNames: ['domain'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [domain, stats] of source.cpuStats())
        this.inc({ domain }, stats.throttledMs / 1000);
    },
  });
  new Counter({
    name: 'raydesk_domain_cpu_seconds_total',
    help: "CPU time used by a domain's emulated guest",
    labelNames: ['domain'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [domain, stats] of source.cpuStats()) this.inc({ domain }, stats.cpuMs / 1000);
    },
  });
  new Gauge({
    name: 'raydesk_memory_used_mib',
    help: 'Guest memory held by running domains',
    registers: [registry],
    collect() {
      this.set(source.memoryInUse());
    },
  });
}
