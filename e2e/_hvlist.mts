import { HypervisorClient } from '@raydesk/hypervisor/api';
const hv = new HypervisorClient({ url: 'http://127.0.0.1:7520', secret: process.env.HYPERVISOR_SECRET ?? 'change-me-hypervisor-secret' });
await hv.connected();
console.log(JSON.stringify(await hv.list(), null, 1).slice(0, 3000));
hv.close();
