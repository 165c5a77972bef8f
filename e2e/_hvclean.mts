import { HypervisorClient } from '@raydesk/hypervisor/api';
const hv = new HypervisorClient({ url: 'http://127.0.0.1:7520', secret: process.env.HYPERVISOR_SECRET ?? 'change-me-hypervisor-secret' });
await hv.connected();
for (const d of await hv.list()) if (d.state !== 'stopped') await hv.destroy(d.id);
console.log((await hv.list()).length);
hv.close();
