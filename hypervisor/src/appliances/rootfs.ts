// Host-side finishing of an unpacked Debian tree. The tree comes from `mmdebstrap
// --variant=extract`: packages are unpacked but no maintainer script ran, because the build
// host cannot execute i386 code. Whatever those scripts would have done that the appliance
// needs (accounts, applet links, the loader cache) is done here, without chroot.
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { execSync } from 'node:child_process';
import { busyboxApplets } from './busybox.ts';
import type { ApplianceRecipe } from './recipes.ts';

export const USER_UID = 1000;
export const USER_GID = 1000;

/** Expands `pattern` (absolute inside root, `*` and `?` within one segment) to existing paths. */
export function expandGlob(root: string, pattern: string): string[] {
  const segments = pattern.split('/').filter(Boolean);
  let current = [''];
  for (const seg of segments) {
    const next: string[] = [];
    const wild = /[*?]/.test(seg);
    const re = wild
      ? new RegExp(
          `^${seg
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
        )
      : null;
    for (const base of current) {
      const dir = join(root, base);
      if (!re) {
        if (existsOrLink(join(dir, seg))) next.push(join(base, seg));
        continue;
      }
      let names: string[] = [];
      try {
        if (!lstatSync(dir).isDirectory()) continue;
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names.sort()) if (re.test(n)) next.push(join(base, n));
    }
    current = next;
  }
  return current.filter((p) => p !== '');
}

function existsOrLink(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export function prune(root: string, patterns: string[]): number {
  let n = 0;
  for (const pattern of patterns) {
    for (const rel of expandGlob(root, pattern)) {
      rmSync(join(root, rel), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

/** Links every busybox applet that no package provides into /bin (busybox --install -s). */
export function installBusyboxLinks(root: string): string[] {
  const busybox = join(root, 'bin/busybox');
  const applets = busyboxApplets(readFileSync(busybox));
  const linked: string[] = [];
  for (const a of applets) {
    if (a === 'busybox' || a === 'linuxrc') continue;
    if (['bin', 'sbin', 'usr/bin', 'usr/sbin'].some((d) => existsOrLink(join(root, d, a))))
      continue;
    symlinkSync('busybox', join(root, 'bin', a));
    linked.push(a);
  }
  return linked;
}

function write(root: string, path: string, content: string, mode = 0o644) {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  rmSync(p, { force: true });
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
}

function mknodIfMissing(
  root: string,
  path: string,
  type: 'c',
  major: number,
  minor: number,
  mode: string,
) {
  const p = join(root, path);
  if (existsOrLink(p)) return;
  execFileSync('mknod', ['-m', mode, p, type, String(major), String(minor)]);
}

/** Accounts, host names, mount points, device nodes and the appliance's own files. */
export function configureRootfs(root: string, recipe: ApplianceRecipe, guestDir: string): void {
  for (const d of [
    'proc',
    'sys',
    'dev',
    'run',
    'tmp',
    'root',
    'home',
    'etc/raydesk',
    'var/log',
    'var/tmp',
    'mnt',
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'var/tmp'), 0o1777);
  chmodSync(join(root, 'root'), 0o700);
  mknodIfMissing(root, 'dev/console', 'c', 5, 1, '600');
  mknodIfMissing(root, 'dev/null', 'c', 1, 3, '666');
  mknodIfMissing(root, 'dev/tty', 'c', 5, 0, '666');

  const user = recipe.user;
  write(
    root,
    '/etc/passwd',
    [
      'root:x:0:0:root:/root:/bin/sh',
      'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
      ...(user ? [`user:x:${USER_UID}:${USER_GID}:Raydesk user:/home/user:/bin/sh`] : []),
      'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
      '',
    ].join('\n'),
  );
  // No passwords at all: nothing in an appliance logs in (no getty, no display manager).
  write(
    root,
    '/etc/shadow',
    [
      'root:*:19000:0:99999:7:::',
      'daemon:*:19000:0:99999:7:::',
      ...(user ? ['user:*:19000:0:99999:7:::'] : []),
      'nobody:*:19000:0:99999:7:::',
      '',
    ].join('\n'),
    0o640,
  );
  const u = user ? 'user' : '';
  write(
    root,
    '/etc/group',
    [
      'root:x:0:',
      'daemon:x:1:',
      'tty:x:5:',
      'disk:x:6:',
      `audio:x:29:${u}`,
      `video:x:44:${u}`,
      'shadow:x:42:',
      'utmp:x:43:',
      `input:x:101:${u}`,
      'users:x:100:',
      ...(user ? [`user:x:${USER_GID}:`] : []),
      'nogroup:x:65534:',
      '',
    ].join('\n'),
  );
  write(root, '/etc/shells', '/bin/sh\n');
  write(root, '/etc/hostname', `${recipe.hostname}\n`);
  write(
    root,
    '/etc/hosts',
    `127.0.0.1\tlocalhost\n127.0.1.1\t${recipe.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  );
  write(root, '/etc/machine-id', '');
  write(
    root,
    '/etc/nsswitch.conf',
    'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n',
  );
  write(root, '/etc/fstab', '/dev/sda / ext4 rw,noatime 0 1\n');
  write(root, '/etc/raydesk/appliance', `${recipe.name}\n`);
  rmSync(join(root, 'etc/resolv.conf'), { force: true });

  if (user) {
    mkdirSync(join(root, 'home/user'), { recursive: true });
    chmodSync(join(root, 'home/user'), 0o755);
  }
  for (const f of recipe.files) {
    const dest = join(root, f.dest);
    mkdirSync(dirname(dest), { recursive: true });
    rmSync(dest, { force: true });
    copyFileSync(join(guestDir, f.src), dest);
    chmodSync(dest, f.mode);
    if (f.user) chownSync(dest, USER_UID, USER_GID);
  }
  if (user) chownSync(join(root, 'home/user'), USER_UID, USER_GID);

  // apt/dpkg leftovers that an appliance never uses.
  for (const p of [
    'var/cache/apt',
    'var/lib/apt/lists',
    'var/cache/debconf',
    'var/log/apt',
    'var/log/dpkg.log',
  ]) {
    rmSync(join(root, p), { recursive: true, force: true });
  }

  installBusyboxLinks(root);

  // The dynamic loader cache (libc-bin's trigger would build it). The host's ldconfig reads
  // 32-bit libraries fine with -r; it is only an optimisation, so failure is not fatal.
  if (existsSync(join(root, 'etc/ld.so.conf.d'))) {
    write(root, '/etc/ld.so.conf', 'include /etc/ld.so.conf.d/*.conf\n');
    try {
      execSync(`ldconfig -r ${JSON.stringify(root)}`, { stdio: 'ignore' });
    } catch {
      rmSync(join(root, 'etc/ld.so.cache'), { force: true });
    }
  }
}

/** Bytes the tree needs on a 4 KiB-block file system, plus one block per inode-ish entry. */
export function treeSize(dir: string): { bytes: number; entries: number } {
  let bytes = 0;
  let entries = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      entries++;
      if (e.isDirectory()) {
        bytes += 4096;
        walk(p);
      } else if (e.isFile()) {
        bytes += Math.ceil(lstatSync(p).size / 4096) * 4096;
      }
    }
  };
  walk(dir);
  return { bytes, entries };
}
