// `npm run vm`: the hypervisor's CLI (hypervisor/src/cli/main.ts), except `clone <id> --group`,
// which hands copies to the members of a portal group: users, groups and their desktops are the
// portal's, so the portal's side does it (web/scripts/clone-to-group.ts).
const args = process.argv.slice(2);
const toGroup =
  args[0] === 'clone' && args.some((arg) => arg === '--group' || arg.startsWith('--group='));
await import(toGroup ? '@raydesk/web/clone-to-group' : '@raydesk/hypervisor/cli');
