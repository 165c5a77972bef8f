// Pointer and AltGr on a real desktop VM (golden snapshot): AltGr combinations under a German
// layout type their characters, and dragging the terminal by its title bar moves the window.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DomainInfo } from '../src/api/index.ts';
import { FrameRecorder, sleep, startTestHypervisor, type TestHypervisor } from './harness.ts';
import { ScreenMirror } from './screen.ts';

// JWM title bar colours from hypervisor/guest/desktop/jwmrc (active and inactive).
const TITLE_COLOURS = [
  [0x2a, 0x6f, 0xdb],
  [0xd7, 0xdb, 0xe0],
] as const;
// The panel along the bottom edge also uses the active colour; windows sit above it.
const PANEL_TOP = 730;

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Bounding box of the topmost block of rows with long title-bar-coloured runs. */
function findTitleBar(screen: ScreenMirror): Box | null {
  for (const [tr, tg, tb] of TITLE_COLOURS) {
    let box: Box | null = null;
    for (let y = 0; y < PANEL_TOP; y++) {
      // The frame's bottom border has the same colour: stop after the title bar's rows.
      if (box && box.bottom < y - 1) break;
      let runStart = -1;
      for (let x = 0; x <= screen.width; x++) {
        const [r, g, b] = x < screen.width ? screen.pixel(x, y) : [-1, -1, -1];
        const isTitle = r === tr && g === tg && b === tb;
        if (isTitle && runStart < 0) runStart = x;
        if (!isTitle && runStart >= 0) {
          // A title bar is one long run of its colour; text and buttons break it only at its ends.
          if (x - runStart >= 200) {
            box = box ?? { left: runStart, top: y, right: x, bottom: y };
            box.left = Math.min(box.left, runStart);
            box.right = Math.max(box.right, x);
            box.bottom = y;
          }
          runStart = -1;
        }
      }
    }
    if (box) return box;
  }
  return null;
}

/** One line of terminal text: its rows and a dark/light bitmap of its first `width` columns. */
interface TextLine {
  top: number;
  bottom: number;
  bits: string;
}

/** Lines of dark text in the terminal below its title bar, top to bottom. */
function textLines(screen: ScreenMirror, title: Box, width = 300): TextLine[] {
  const left = title.left + 4;
  const isDark = (x: number, y: number) => {
    const [r, g, b] = screen.pixel(x, y);
    return r < 100 && g < 100 && b < 100;
  };
  const lines: TextLine[] = [];
  let current: TextLine | null = null;
  for (let y = title.bottom + 2; y < Math.min(PANEL_TOP, title.bottom + 480); y++) {
    let row = '';
    for (let x = left; x < Math.min(screen.width, left + width); x++)
      row += isDark(x, y) ? '1' : '0';
    if (row.includes('1')) {
      current ??= { top: y, bottom: y, bits: '' };
      current.bottom = y;
      current.bits += row;
    } else if (current) {
      lines.push(current);
      current = null;
    }
  }
  if (current) lines.push(current);
  return lines;
}

describe('pointer and keyboard layouts on the desktop appliance', () => {
  let hv: TestHypervisor;
  let desktop: DomainInfo;
  let recorder: FrameRecorder;
  const screen = new ScreenMirror();
  let applied = 0;
  const catchUp = () => {
    for (; applied < recorder.frames.length; applied++) screen.apply(recorder.frames[applied]!);
  };

  before(async () => {
    hv = await startTestHypervisor({ memoryBudgetMiB: 2048 });
    desktop = await hv.client.create({ appliance: 'desktop', name: 'pointer' });
    recorder = new FrameRecorder(hv.client, desktop.id);
    await hv.client.watch(desktop.id);
    await recorder.waitFor((f) => f.keyframe && f.width === 1024, 30_000);
  });
  after(async () => {
    recorder?.stop();
    await hv?.close();
  });

  const typeKeys = (codes: string[]) => {
    for (const code of codes) {
      hv.client.key(desktop.id, code, true);
      hv.client.key(desktop.id, code, false);
    }
  };
  const chord = (modifier: string, code: string) => {
    hv.client.key(desktop.id, modifier, true);
    hv.client.key(desktop.id, code, true);
    hv.client.key(desktop.id, code, false);
    hv.client.key(desktop.id, modifier, false);
  };
  const letters = (text: string) =>
    [...text].map((c) => (c === ' ' ? 'Space' : `Key${c.toUpperCase()}`));
  /** Waits until the terminal's lines of text satisfy `done`, then returns them. */
  const waitForLines = async (what: string, done: (lines: TextLine[]) => boolean) => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      await sleep(250);
      catchUp();
      const title = findTitleBar(screen);
      if (title && done(textLines(screen, title))) {
        // Let the last line finish painting.
        await sleep(500);
        catchUp();
        return textLines(screen, findTitleBar(screen)!);
      }
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    }
  };

  test('AltGr under a German layout types the level-3 character (AltRight+Q is @)', async () => {
    await sleep(1000);
    typeKeys([...letters('clear'), 'Enter']);
    await waitForLines('a cleared terminal', (lines) => lines.length === 1);
    // US layout: "echo @@@@@@@@" with Shift+2 prints the reference glyphs.
    typeKeys(letters('echo '));
    for (let i = 0; i < 8; i++) chord('ShiftLeft', 'Digit2');
    typeKeys(['Enter']);
    const reference = (await waitForLines('the reference line', (lines) => lines.length >= 3))[1]!;
    // setxkbmap compiles a keymap, which takes the emulated guest many seconds; the terminal
    // clears once it is done. Nothing is typed meanwhile, so no key sees a half-switched layout.
    typeKeys(letters('setxkbmap de '));
    chord('ShiftLeft', 'Digit7');
    chord('ShiftLeft', 'Digit7');
    typeKeys([...letters(' clear'), 'Enter']);
    await waitForLines('the German layout', (lines) => lines.length === 1);
    typeKeys(letters('echo '));
    for (let i = 0; i < 8; i++) chord('AltRight', 'KeyQ');
    typeKeys(['Enter']);
    const lines = await waitForLines('the AltGr line', (found) => found.length >= 3);
    // Back to the default layout for the rest of this VM's tests.
    typeKeys([...letters('setxkbmap us'), 'Enter']);
    assert.equal(lines[1]!.bits, reference.bits, 'AltGr+Q printed the glyphs of US Shift+2 (@)');
  });

  test('dragging the terminal by its title bar moves the window', async (t) => {
    await sleep(1000);
    catchUp();
    const start = findTitleBar(screen);
    assert.ok(start, 'the terminal title bar is on screen');
    t.diagnostic(`title bar before: ${JSON.stringify(start)}`);

    const grabX = start.left + 120;
    const grabY = Math.round((start.top + start.bottom) / 2);
    const [dx, dy] = [160, 110];
    const reached = (box: Box | null) =>
      box !== null &&
      Math.abs(box.left - start.left - dx) <= 12 &&
      Math.abs(box.top - start.top - dy) <= 12;
    hv.client.pointer(desktop.id, grabX, grabY, 0);
    await sleep(300);
    hv.client.pointer(desktop.id, grabX, grabY, 1);
    await sleep(300);
    // Moves with the button held, paced like a hand. A loaded guest may run JWM only after X
    // has already routed the first moves (JWM grabs the pointer on the press), and a hand
    // holding still keeps jittering by a pixel: do that too until the window has followed.
    const steps = 4;
    const pressed = performance.now();
    for (let i = 1; i <= steps; i++) {
      hv.client.pointer(
        desktop.id,
        grabX + Math.round((dx * i) / steps),
        grabY + Math.round((dy * i) / steps),
        1,
      );
      await sleep(100);
    }
    let moved: Box | null = null;
    const deadline = Date.now() + 90_000;
    for (let jitter = 1; Date.now() < deadline && !reached(moved); jitter = 1 - jitter) {
      hv.client.pointer(desktop.id, grabX + dx + jitter, grabY + dy, 1);
      await sleep(500);
      catchUp();
      moved = findTitleBar(screen);
    }
    t.diagnostic(
      `window followed the held pointer after ${Math.round(performance.now() - pressed)} ms`,
    );
    hv.client.pointer(desktop.id, grabX + dx, grabY + dy, 0);
    await sleep(1500);
    catchUp();
    moved = findTitleBar(screen);
    t.diagnostic(`title bar after release: ${JSON.stringify(moved)}`);
    assert.ok(moved, 'the title bar is still on screen');
    assert.ok(
      Math.abs(moved.left - start.left - dx) <= 12,
      `moved right by ~${dx}: ${moved.left - start.left}`,
    );
    assert.ok(
      Math.abs(moved.top - start.top - dy) <= 12,
      `moved down by ~${dy}: ${moved.top - start.top}`,
    );
  });
});
