// A small stand-in for the hypervisor daemon's control and display channel, speaking the same
// protocol (@raydesk/hypervisor/api). Its "VM" paints a desktop-like screen; each key press
// draws a glyph block at a text cursor, so typing changes pixels, and pointer input is recorded.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import OpusScript from 'opusscript';
import {
  AUDIO_FORMAT,
  type ControlClientToServer,
  type ControlServerToClient,
  type DisplayMode,
  type DomainInfo,
  type TileRect,
} from '@raydesk/hypervisor/api';

type Sock = Socket<ControlClientToServer, ControlServerToClient>;
const TILE = 64;

export interface FakeVm {
  id: string;
  width: number;
  height: number;
  mode: DisplayMode;
  data: Uint8Array;
  dirty: Set<number>;
  watchers: Map<Sock, { keyframe: boolean }>;
  /** Connections that asked for sound (`audio:listen`). */
  listeners: Set<Sock>;
  audioSeq: number;
  cursor: number;
  seq: number;
}

export class FakeHypervisor {
  readonly http: HttpServer;
  readonly io: Server<ControlClientToServer, ControlServerToClient>;
  readonly vms = new Map<string, FakeVm>();
  readonly keys: Array<{ id: string; code: string; down: boolean }> = [];
  readonly chars: Array<{ id: string; char: string }> = [];
  readonly pointers: Array<{ id: string; x: number; y: number; buttons: number }> = [];
  watchCalls = 0;
  listenCalls = 0;
  unlistenCalls = 0;
  unwatchCalls = 0;
  framesOut = 0;
  private clock: NodeJS.Timeout;

  constructor(
    readonly secret: string,
    fps = 30,
  ) {
    this.http = createServer((_req, res) => res.writeHead(404).end());
    this.io = new Server(this.http, { maxHttpBufferSize: 1e6 });
    this.io.use((socket, next) =>
      socket.handshake.auth?.secret === secret
        ? next()
        : next(new Error('invalid hypervisor credential')),
    );
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.clock = setInterval(() => this.tick(), 1000 / fps);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    clearInterval(this.clock);
    await new Promise<void>((resolve, reject) => {
      this.io.close(() => resolve()).catch(reject);
    });
  }

  addVm(id: string, width = 640, height = 480, mode: DisplayMode = 'graphical'): FakeVm {
    const vm: FakeVm = {
      id,
      width,
      height,
      mode,
      data: new Uint8Array(width * height * 4),
      dirty: new Set(),
      watchers: new Map(),
      listeners: new Set(),
      audioSeq: 0,
      cursor: 0,
      seq: 0,
    };
    this.vms.set(id, vm);
    this.paintDesktop(vm);
    return vm;
  }

  /** Background, a "window" and a title bar; every tile dirty. */
  paintDesktop(vm: FakeVm): void {
    this.fill(vm, 0, 0, vm.width, vm.height, [0x3a, 0x6e, 0xa5]);
    this.fill(
      vm,
      40,
      40,
      Math.min(400, vm.width - 60),
      Math.min(300, vm.height - 60),
      [0xf0, 0xf0, 0xf0],
    );
    this.fill(vm, 40, 40, Math.min(400, vm.width - 60), 20, [0x1c, 0x3f, 0x8c]);
  }

  fill(
    vm: FakeVm,
    x: number,
    y: number,
    w: number,
    h: number,
    rgb: [number, number, number],
  ): void {
    for (let row = y; row < Math.min(vm.height, y + h); row++) {
      for (let col = x; col < Math.min(vm.width, x + w); col++) {
        const o = (row * vm.width + col) * 4;
        vm.data[o] = rgb[0];
        vm.data[o + 1] = rgb[1];
        vm.data[o + 2] = rgb[2];
        vm.data[o + 3] = 255;
      }
    }
    this.markDirty(vm, x, y, w, h);
  }

  /** Draws an RGBA picture (`w` x `h`) at (x, y), clipped to the screen. */
  blit(vm: FakeVm, x: number, y: number, w: number, h: number, rgba: Uint8Array): void {
    for (let row = 0; row < h && y + row < vm.height; row++) {
      const width = Math.min(w, vm.width - x);
      const from = row * w * 4;
      vm.data.set(rgba.subarray(from, from + width * 4), ((y + row) * vm.width + x) * 4);
    }
    this.markDirty(vm, x, y, w, h);
  }

  /** Noise over a region: photo-like content that changes every call. */
  noise(vm: FakeVm, x: number, y: number, w: number, h: number): void {
    for (let row = y; row < Math.min(vm.height, y + h); row++) {
      for (let col = x; col < Math.min(vm.width, x + w); col++) {
        const o = (row * vm.width + col) * 4;
        vm.data[o] = (Math.random() * 256) | 0;
        vm.data[o + 1] = (Math.random() * 256) | 0;
        vm.data[o + 2] = (Math.random() * 256) | 0;
        vm.data[o + 3] = 255;
      }
    }
    this.markDirty(vm, x, y, w, h);
  }

  resize(vm: FakeVm, width: number, height: number, mode: DisplayMode = vm.mode): void {
    vm.width = width;
    vm.height = height;
    vm.mode = mode;
    vm.data = new Uint8Array(width * height * 4);
    vm.dirty.clear();
    vm.cursor = 0;
    this.paintDesktop(vm);
    for (const [socket, w] of vm.watchers) {
      socket.emit('display:resize', { domainId: vm.id, width, height, mode });
      w.keyframe = true;
    }
  }

  private markDirty(vm: FakeVm, x: number, y: number, w: number, h: number): void {
    for (let ty = Math.floor(y / TILE); ty < Math.ceil(Math.min(vm.height, y + h) / TILE); ty++)
      for (let tx = Math.floor(x / TILE); tx < Math.ceil(Math.min(vm.width, x + w) / TILE); tx++)
        vm.dirty.add(ty * Math.ceil(vm.width / TILE) + tx);
  }

  private tiles(vm: FakeVm, which: Iterable<number>): { rects: TileRect[]; pixels: Uint8Array } {
    const tilesX = Math.ceil(vm.width / TILE);
    const rects: TileRect[] = [];
    const chunks: Uint8Array[] = [];
    for (const t of which) {
      const x = (t % tilesX) * TILE;
      const y = Math.floor(t / tilesX) * TILE;
      const w = Math.min(TILE, vm.width - x);
      const h = Math.min(TILE, vm.height - y);
      rects.push({ x, y, w, h });
      const chunk = new Uint8Array(w * h * 4);
      for (let row = 0; row < h; row++) {
        const o = ((y + row) * vm.width + x) * 4;
        chunk.set(vm.data.subarray(o, o + w * 4), row * w * 4);
      }
      chunks.push(chunk);
    }
    const pixels = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      pixels.set(c, off);
      off += c.length;
    }
    return { rects, pixels };
  }

  private tick(): void {
    for (const vm of this.vms.values()) {
      if (vm.watchers.size === 0) continue;
      const all = Array.from(
        { length: Math.ceil(vm.width / TILE) * Math.ceil(vm.height / TILE) },
        (_, i) => i,
      );
      const changed = vm.dirty.size ? this.tiles(vm, vm.dirty) : null;
      vm.dirty.clear();
      for (const [socket, w] of vm.watchers) {
        const part = w.keyframe ? this.tiles(vm, all) : changed;
        if (!part) continue;
        socket.emit('display:frame', {
          domainId: vm.id,
          seq: ++vm.seq,
          width: vm.width,
          height: vm.height,
          mode: vm.mode,
          keyframe: w.keyframe,
          rects: part.rects,
          pixels: part.pixels,
        });
        this.framesOut++;
        w.keyframe = false;
      }
    }
  }

  /** A fake VM always runs, booted and ready. */
  info(vm: FakeVm): DomainInfo {
    return {
      id: vm.id,
      name: vm.id,
      appliance: 'desktop',
      kind: 'personal',
      owner: 'user-1',
      state: 'running',
      memoryMiB: 256,
      vgaMemoryMiB: 8,
      cpuPercent: 0,
      mips: 0,
      createdAt: new Date(0).toISOString(),
      startedAt: new Date(0).toISOString(),
      uptimeMs: 0,
      watchers: vm.watchers.size,
      guestReady: true,
      restartPending: false,
      error: null,
    };
  }

  /**
   * Plays a sine tone as the real host sends sound: Opus packets (libopus via opusscript) of
   * AUDIO_FORMAT, a pull tick's worth per `audio:chunk`, to the connections that listen, in real
   * time. Resolves when the tone is over.
   */
  async playTone(id: string, hz: number, ms: number): Promise<void> {
    const vm = this.vms.get(id);
    if (!vm) throw new Error(`no VM ${id}`);
    const { sampleRate, frameSamples } = AUDIO_FORMAT;
    const encoder = new OpusScript(sampleRate, 1, OpusScript.Application.AUDIO);
    encoder.setBitrate(32_000);
    const packetsPerChunk = 2;
    const pcm = Buffer.alloc(frameSamples * 2);
    let at = 0;
    try {
      for (let sent = 0; sent * frameSamples * 1000 < ms * sampleRate; sent += packetsPerChunk) {
        const capturedAt = Date.now();
        const packets: Buffer[] = [];
        for (let p = 0; p < packetsPerChunk; p++) {
          for (let i = 0; i < frameSamples; i++, at++)
            pcm.writeInt16LE(
              Math.round(12_000 * Math.sin((2 * Math.PI * hz * at) / sampleRate)),
              i * 2,
            );
          packets.push(Buffer.from(encoder.encode(pcm, frameSamples)));
        }
        const chunk = {
          domainId: vm.id,
          seq: ++vm.audioSeq,
          sampleRate,
          channels: AUDIO_FORMAT.channels,
          frameSamples,
          capturedAt,
          sizes: packets.map((p) => p.length),
          data: new Uint8Array(Buffer.concat(packets)),
        };
        for (const socket of vm.listeners) socket.emit('audio:chunk', chunk);
        await new Promise((r) =>
          setTimeout(r, (packetsPerChunk * frameSamples * 1000) / sampleRate),
        );
      }
    } finally {
      encoder.delete();
    }
  }

  private onConnection(socket: Sock): void {
    const get = (req: unknown) => this.vms.get((req as { id?: string })?.id ?? '');
    const notFound = {
      ok: false as const,
      error: { code: 'not_found' as const, message: 'no such domain' },
    };
    socket.on('domain:get', (req, ack) => {
      const vm = get(req);
      if (!vm) return ack(notFound);
      ack({ ok: true, value: this.info(vm) });
    });
    socket.on('display:watch', (req, ack) => {
      const vm = get(req);
      if (!vm) return ack(notFound);
      this.watchCalls++;
      vm.watchers.set(socket, { keyframe: true });
      ack({
        ok: true,
        value: { domainId: vm.id, width: vm.width, height: vm.height, mode: vm.mode },
      });
    });
    socket.on('display:unwatch', (req, ack) => {
      const vm = get(req);
      if (vm) vm.watchers.delete(socket);
      this.unwatchCalls++;
      ack({ ok: true, value: null });
    });
    socket.on('audio:listen', (req, ack) => {
      const vm = get(req);
      if (!vm) return ack(notFound);
      this.listenCalls++;
      vm.listeners.add(socket);
      ack({ ok: true, value: null });
    });
    socket.on('audio:unlisten', (req, ack) => {
      get(req)?.listeners.delete(socket);
      this.unlistenCalls++;
      ack({ ok: true, value: null });
    });
    socket.on('display:refresh', (req, ack) => {
      const w = get(req)?.watchers.get(socket);
      if (w) w.keyframe = true;
      ack({ ok: true, value: null });
    });
    socket.on('domain:thumbnail', (req, ack) => {
      const vm = get(req);
      if (!vm) return ack(notFound);
      ack({ ok: true, value: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) });
    });
    // "Types" a glyph: an 8x16 dark block at the text cursor inside the window.
    const typeGlyph = (vm: FakeVm | undefined) => {
      if (!vm) return;
      const cols = 40;
      const cx = 48 + (vm.cursor % cols) * 9;
      const cy = 68 + Math.floor(vm.cursor / cols) * 18;
      this.fill(vm, cx, cy, 8, 16, [0x20, 0x20, 0x20]);
      vm.cursor = (vm.cursor + 1) % (cols * 12);
    };
    socket.on('input:key', (req) => {
      const { id, code, down } = req as { id: string; code: string; down: boolean };
      this.keys.push({ id, code, down });
      if (down && !/Shift|Control|Alt|Meta/.test(code)) typeGlyph(this.vms.get(id));
    });
    socket.on('input:char', (req) => {
      const { id, char } = req as { id: string; char: string };
      this.chars.push({ id, char });
      typeGlyph(this.vms.get(id));
    });
    socket.on('input:pointer', (req) => this.pointers.push(req as never));
    socket.on('input:wheel', () => {});
    socket.on('disconnect', () => {
      for (const vm of this.vms.values()) {
        vm.watchers.delete(socket);
        vm.listeners.delete(socket);
      }
    });
  }
}
