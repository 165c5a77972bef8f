// The three appliance recipes, as data. Everything that shapes an image is here (or in the
// guest files it lists), and all of it goes into the recipe hash that names the cache entry.
import type { ApplianceName } from '../api/protocol.ts';

export interface GuestFile {
  /** Path under hypervisor/guest/. */
  src: string;
  /** Absolute path inside the image. */
  dest: string;
  mode: number;
  /** Owned by the normal user instead of root. */
  user?: boolean;
}

/** The guest kernel: compiled from a Debian source package (see kernel.ts). */
export interface KernelRecipe {
  /** Debian package that ships the source as /usr/src/<package>.tar.xz. */
  sourcePackage: string;
  /** Kconfig fragment under hypervisor/guest/, applied on top of allnoconfig. */
  config: string;
}

export interface ApplianceRecipe {
  name: ApplianceName;
  description: string;
  suite: string;
  architecture: 'i386';
  kernel: KernelRecipe;
  /** Debian packages unpacked into the root file system (with their dependencies). */
  packages: string[];
  /** Extra dpkg path-exclude patterns (never unpacked). */
  dpkgExcludes: string[];
  /** Paths removed from the unpacked tree (`*` matches within one path segment). */
  prune: string[];
  cmdline: string;
  memoryMiB: number;
  vgaMemoryMiB: number;
  /** Free space left in rootfs.ext4 on top of the content. */
  freeSpaceMiB: number;
  /** Create the unprivileged `user` account (uid 1000, home /home/user). */
  user: boolean;
  hostname: string;
  files: GuestFile[];
}

/** Documentation, manuals and translations never go into an image. */
export const DPKG_PATH_EXCLUDES = [
  '/usr/share/doc/*',
  '/usr/share/man/*',
  '/usr/share/info/*',
  '/usr/share/locale/*',
  '/usr/share/lintian/*',
  '/usr/share/linda/*',
  '/usr/share/bug/*',
  '/usr/share/menu/*',
  '/usr/share/help/*',
];

// One tickless kernel for every appliance, all drivers built in.
const KERNEL: KernelRecipe = {
  sourcePackage: 'linux-source-6.1',
  config: 'kernel/raydesk-i386.config',
};
// quiet: the serial console is slow under emulation; init and agent still log to ttyS0.
// snd_sb16.*: the built-in SB16 driver does not probe ISA; these are v86's fixed resources.
const SB16_PARAMS =
  'snd_sb16.port=0x220 snd_sb16.irq=5 snd_sb16.dma8=1 snd_sb16.dma16=5 snd_sb16.mpu_port=0x330 snd_sb16.fm_port=0x388';
const CMDLINE_BASE = `console=ttyS0,115200 root=/dev/sda rw quiet loglevel=3 tsc=reliable mitigations=off ${SB16_PARAMS}`;

const COMMON_FILES: GuestFile[] = [
  { src: 'common/raydesk-init', dest: '/sbin/raydesk-init', mode: 0o755 },
  { src: 'common/raydesk-agent', dest: '/sbin/raydesk-agent', mode: 0o755 },
  { src: 'common/raydesk-transfer-stream', dest: '/sbin/raydesk-transfer-stream', mode: 0o755 },
  { src: 'common/raydesk-ready', dest: '/sbin/raydesk-ready', mode: 0o755 },
  { src: 'common/raydesk-net', dest: '/sbin/raydesk-net', mode: 0o755 },
  { src: 'common/raydesk-dhcp-event', dest: '/sbin/raydesk-dhcp-event', mode: 0o755 },
];

/** The initramfs /init (not part of the root file system). */
export const INITRAMFS_INIT = 'common/initramfs-init';

// X without GLX: the Mesa drivers and their LLVM are ~180 MB that nothing uses.
const X_DPKG_EXCLUDES = [
  '/usr/lib/i386-linux-gnu/dri/*',
  '/usr/lib/i386-linux-gnu/libLLVM-*',
  '/usr/lib/i386-linux-gnu/libz3.so*',
  '/usr/lib/xorg/modules/extensions/libglx.so',
];
const X_PRUNE = [
  '/usr/lib/i386-linux-gnu/dri',
  // Compose tables are large and parsed by every Xlib client at start; no input method here.
  '/usr/share/X11/locale/*/Compose',
];

const X_FILES: GuestFile[] = [
  { src: 'common/xorg-start', dest: '/sbin/raydesk-xorg-start', mode: 0o755 },
  { src: 'common/raydesk-keymaps', dest: '/sbin/raydesk-keymaps', mode: 0o755 },
  { src: 'common/xorg.conf', dest: '/etc/X11/raydesk-xorg.conf', mode: 0o644 },
  // Dead keys (German, French layouts) compose through this; the full table is pruned above.
  {
    src: 'common/x11-compose-dead-keys',
    dest: '/usr/share/X11/locale/en_US.UTF-8/Compose',
    mode: 0o644,
  },
];

const X_PACKAGES = [
  'busybox-static',
  'libc-bin', // C.UTF-8 locale
  'xserver-xorg-core', // its modesetting driver draws on the bochs DRM device
  'xserver-xorg-input-evdev',
  'x11-utils', // xwininfo, for the readiness check
  'xkb-data',
  'fonts-dejavu-core',
  'alsa-utils', // speaker-test, aplay: the agent's `sound tone` plays through the SB16
];

export const RECIPES: Record<ApplianceName, ApplianceRecipe> = {
  console: {
    name: 'console',
    description: 'busybox only, root shell on the serial console (ttyS0); boots in seconds',
    suite: 'bookworm',
    architecture: 'i386',
    kernel: KERNEL,
    // e2fsprogs: the disk durability test checks the file system from inside the guest.
    packages: ['busybox-static', 'e2fsprogs'],
    dpkgExcludes: [],
    prune: [],
    // nomodeset keeps the bochs DRM driver off: this appliance stays in VGA text mode.
    cmdline: `${CMDLINE_BASE} nomodeset`,
    // v86 loads the initrd at 64 MiB physical, so a guest needs more than that.
    memoryMiB: 96,
    vgaMemoryMiB: 2,
    freeSpaceMiB: 32,
    user: false,
    hostname: 'raydesk-console',
    files: [
      ...COMMON_FILES,
      { src: 'console/services', dest: '/etc/raydesk/services', mode: 0o644 },
      { src: 'console/ready-check', dest: '/etc/raydesk/ready-check', mode: 0o755 },
      { src: 'console/raydesk-shell', dest: '/sbin/raydesk-shell', mode: 0o755 },
      { src: 'console/profile', dest: '/etc/profile', mode: 0o644 },
    ],
  },
  desktop: {
    name: 'desktop',
    description:
      'Xorg + JWM desktop with panel, xterm, Xfe file manager, Xfwrite editor and Dillo web browser',
    suite: 'bookworm',
    architecture: 'i386',
    kernel: KERNEL,
    // x11vnc runs only when the host asks the guest agent (`vnc start`), for port forwards.
    // x11-xserver-utils: xrandr, with which the agent sets the screen size (`screen set`).
    // Dillo: a small web browser (FLTK, no JavaScript) that starts in a second or two here.
    // xclip: the session's clipboard watcher and the agent's clip-set/clip-get.
    packages: [
      ...X_PACKAGES,
      'jwm',
      'xterm',
      'xfe',
      'x11vnc',
      'x11-xserver-utils',
      'dillo',
      'ca-certificates',
      'xclip',
    ],
    dpkgExcludes: X_DPKG_EXCLUDES,
    // xrdb's C preprocessor (pulled in by x11-xserver-utils) is never run here.
    prune: [...X_PRUNE, '/usr/lib/gcc/*/*/cc1'],
    cmdline: CMDLINE_BASE,
    memoryMiB: 256,
    // Two framebuffers of the largest screen (1920x1080x4 each) must fit: the bochs DRM driver
    // refuses modes that need more than half of video memory.
    vgaMemoryMiB: 16,
    freeSpaceMiB: 384,
    user: true,
    hostname: 'raydesk-desktop',
    files: [
      ...COMMON_FILES,
      ...X_FILES,
      { src: 'desktop/services', dest: '/etc/raydesk/services', mode: 0o644 },
      { src: 'desktop/ready-check', dest: '/etc/raydesk/ready-check', mode: 0o755 },
      { src: 'desktop/session', dest: '/etc/raydesk/session', mode: 0o755 },
      { src: 'desktop/user-session', dest: '/etc/raydesk/user-session', mode: 0o755 },
      { src: 'desktop/session-events', dest: '/etc/raydesk/session-events', mode: 0o755 },
      { src: 'desktop/transfer-session', dest: '/etc/raydesk/transfer-session', mode: 0o755 },
      { src: 'desktop/launch', dest: '/usr/local/bin/raydesk-launch', mode: 0o755 },
      { src: 'desktop/jwmrc', dest: '/home/user/.jwmrc', mode: 0o644, user: true },
      { src: 'desktop/Xdefaults', dest: '/home/user/.Xdefaults', mode: 0o644, user: true },
    ],
  },
  browser: {
    name: 'browser',
    description: 'disposable kiosk browser (NetSurf on X, no shell reachable)',
    suite: 'bookworm',
    architecture: 'i386',
    kernel: KERNEL,
    packages: [...X_PACKAGES, 'netsurf-fb'],
    dpkgExcludes: X_DPKG_EXCLUDES,
    prune: X_PRUNE,
    cmdline: `${CMDLINE_BASE} sysrq_always_enabled=0`,
    memoryMiB: 192,
    vgaMemoryMiB: 8,
    freeSpaceMiB: 32,
    user: true,
    hostname: 'raydesk-browser',
    files: [
      ...COMMON_FILES,
      ...X_FILES,
      { src: 'browser/services', dest: '/etc/raydesk/services', mode: 0o644 },
      { src: 'browser/setup', dest: '/etc/raydesk/setup', mode: 0o755 },
      { src: 'browser/ready-check', dest: '/etc/raydesk/ready-check', mode: 0o755 },
      { src: 'browser/session', dest: '/etc/raydesk/session', mode: 0o755 },
      { src: 'browser/user-session', dest: '/etc/raydesk/user-session', mode: 0o755 },
      { src: 'browser/netsurf-choices', dest: '/etc/raydesk/netsurf-choices', mode: 0o644 },
      { src: 'browser/welcome.html', dest: '/usr/share/raydesk/welcome.html', mode: 0o644 },
    ],
  },
};

export function getRecipe(name: ApplianceName): ApplianceRecipe {
  const r = RECIPES[name];
  if (!r) throw new Error(`unknown appliance "${name}"`);
  return r;
}
