// Clipboard and files between this computer and the desktop (the gateway's
// protocol/transfer.ts). The clipboard follows the desktop both ways through the async
// Clipboard API when the browser allows it (permission granted, page focused); the clipboard
// panel is the fallback. Files dropped on the screen or picked in the Files panel go to
// ~/Uploads with a progress bar; files the desktop offers in ~/Send to browser are listed there
// and download into the browser. Directions the session may not use (the gateway's permissions:
// the user's group policy, or a view-only session) are hidden with a short reason, and sizes
// follow the policy's limits; the gateway refuses them anyway.
import type { Socket } from 'socket.io-client';
import {
  GUEST_FOLDERS,
  TRANSFER_LIMITS,
  type ClientToServerEvents,
  type OutboxFile,
  type ServerToClientEvents,
  type SessionMode,
  type SessionPolicy,
  type TransferEventName,
  type TransferPermissions,
  type TransferReplies,
  type TransferRequests,
  type TransferResult,
} from '@raydesk/gateway/protocol';

type ViewerSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const NO_PERMISSIONS: TransferPermissions = {
  clipboardToGuest: false,
  clipboardFromGuest: false,
  filesToGuest: false,
  filesFromGuest: false,
};
const REQUEST_TIMEOUT_MS = 90_000;

export class TransferRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransferRefused';
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export interface TransferEvents {
  /** The desktop's clipboard text arrived (after the local clipboard was written, or not). */
  onDesktopClipboard?: (text: string, copiedLocally: boolean) => void;
  /** The files panel opened (the host closes its other panels). */
  onFilesPanelOpen?: () => void;
  /** What the session may transfer is known (after each connect). */
  onPermissions?: (permissions: TransferPermissions) => void;
}

export type TransferDirectionName = keyof TransferPermissions;

const DIRECTION_WORDS: Record<TransferDirectionName, string> = {
  clipboardToGuest: 'Pasting into the desktop',
  clipboardFromGuest: 'Copying from the desktop',
  filesToGuest: 'Uploading files',
  filesFromGuest: 'Downloading files',
};
const POLICY_FIELD: Record<TransferDirectionName, keyof SessionPolicy> = {
  clipboardToGuest: 'clipboardToVm',
  clipboardFromGuest: 'clipboardFromVm',
  filesToGuest: 'uploadEnabled',
  filesFromGuest: 'downloadEnabled',
};

export class ViewerTransfer {
  readonly filesPanel: HTMLDivElement;
  readonly filesButton: HTMLButtonElement;
  permissions: TransferPermissions = NO_PERMISSIONS;
  /** The session's policy and mode (session:ready), for limits and reasons. */
  policy: SessionPolicy | null = null;
  mode: SessionMode | null = null;
  /** The desktop's clipboard text as last seen. */
  desktopClipboard = '';
  private socket: ViewerSocket | null = null;
  /** The local text last sent to the desktop, so focus does not send it again. */
  private lastSent: string | null = null;
  private outbox: OutboxFile[] = [];
  private readonly uploadList: HTMLDivElement;
  private readonly downloadList: HTMLDivElement;
  private readonly filesHint: HTMLSpanElement;
  private readonly uploadSection: HTMLDivElement;
  private readonly downloadSection: HTMLDivElement;
  private readonly uploadNote: HTMLParagraphElement;
  private readonly downloadNote: HTMLParagraphElement;
  private readonly pickButton: HTMLButtonElement;
  private readonly picker: HTMLInputElement;

  constructor(private readonly events: TransferEvents = {}) {
    this.filesButton = el('button', {
      className: 'rd-btn',
      type: 'button',
      title: `Upload files to ${GUEST_FOLDERS.uploads}, download from ${GUEST_FOLDERS.outbox}`,
      textContent: 'Files',
    });
    this.filesButton.addEventListener('click', () => this.toggleFilesPanel());
    this.picker = el('input', { type: 'file', multiple: true, hidden: true });
    this.picker.setAttribute('aria-label', 'Files to upload');
    this.picker.addEventListener('change', () => {
      void this.uploadAll([...(this.picker.files ?? [])]);
      this.picker.value = '';
    });
    const pick = el('button', {
      className: 'rd-btn',
      type: 'button',
      textContent: 'Upload files…',
      title: `Upload files to ${GUEST_FOLDERS.uploads} (or drop them on the desktop)`,
    });
    pick.addEventListener('click', () => this.picker.click());
    const refresh = el('button', {
      className: 'rd-btn',
      type: 'button',
      textContent: 'Refresh',
      title: `List ${GUEST_FOLDERS.outbox} again`,
    });
    refresh.addEventListener('click', () => void this.refreshOutbox());
    const close = el('button', { className: 'rd-btn', type: 'button', textContent: 'Close' });
    close.addEventListener('click', () => this.toggleFilesPanel(false));
    this.uploadList = el('div', { className: 'rd-files' });
    this.downloadList = el('div', { className: 'rd-files' });
    this.filesHint = el('span', { className: 'rd-hint' });
    this.pickButton = pick;
    this.uploadNote = el('p', { className: 'rd-hint rd-policy-note', hidden: true });
    this.downloadNote = el('p', { className: 'rd-hint rd-policy-note', hidden: true });
    this.uploadSection = el(
      'div',
      {},
      el('h3', { textContent: `To the desktop (${GUEST_FOLDERS.uploads})` }),
      this.uploadList,
    );
    this.downloadSection = el(
      'div',
      {},
      el('h3', { textContent: `From the desktop (${GUEST_FOLDERS.outbox})` }),
      this.downloadList,
    );
    this.filesPanel = el(
      'div',
      { className: 'rd-panel rd-files-panel', hidden: true },
      this.uploadSection,
      this.uploadNote,
      this.downloadSection,
      this.downloadNote,
      el('div', { className: 'rd-row' }, this.filesHint, refresh, close, pick),
      this.picker,
    );
    this.filesPanel.setAttribute('role', 'dialog');
    this.filesPanel.setAttribute('aria-label', 'Files');
    this.renderOutbox();
  }

  /** A new session's socket: transfer events now go through it. */
  attach(socket: ViewerSocket): void {
    this.socket = socket;
    this.permissions = NO_PERMISSIONS;
    socket.on('transfer:ready', ({ permissions }) => {
      this.permissions = permissions;
      this.reflectPermissions();
      this.events.onPermissions?.(permissions);
      if (permissions.filesFromGuest) void this.refreshOutbox();
      void this.syncToDesktop();
    });
    socket.on('clipboard:changed', ({ text }) => void this.onDesktopClipboard(text));
    socket.on('files:outbox', ({ files }) => {
      this.outbox = files;
      this.renderOutbox();
    });
  }

  /** Why a direction is off, in a short sentence; null when it is allowed. */
  denialReason(direction: TransferDirectionName): string | null {
    if (this.permissions[direction]) return null;
    if (this.mode === 'view') return 'This session is view-only.';
    if (this.policy && !this.policy[POLICY_FIELD[direction]]) {
      return `${DIRECTION_WORDS[direction]} is turned off by your group policy.`;
    }
    return `${DIRECTION_WORDS[direction]} is not allowed for you.`;
  }

  /** Largest upload and download for this session: the protocol's cap or the policy's. */
  get uploadLimit(): number {
    return Math.min(TRANSFER_LIMITS.uploadBytes, this.policy?.uploadMaxBytes ?? Infinity);
  }
  get downloadLimit(): number {
    return Math.min(TRANSFER_LIMITS.downloadBytes, this.policy?.downloadMaxBytes ?? Infinity);
  }

  private reflectPermissions(): void {
    const { filesToGuest, filesFromGuest } = this.permissions;
    const uploadReason = this.denialReason('filesToGuest');
    const downloadReason = this.denialReason('filesFromGuest');
    this.uploadSection.hidden = !filesToGuest;
    this.pickButton.hidden = !filesToGuest;
    this.uploadNote.hidden = filesToGuest;
    this.uploadNote.textContent = uploadReason ?? '';
    this.downloadSection.hidden = !filesFromGuest;
    this.downloadNote.hidden = filesFromGuest;
    this.downloadNote.textContent = downloadReason ?? '';
    this.filesButton.disabled = !filesToGuest && !filesFromGuest;
    this.filesButton.title = this.filesButton.disabled
      ? (uploadReason ?? 'Files are not available.')
      : `Upload files to ${GUEST_FOLDERS.uploads}, download from ${GUEST_FOLDERS.outbox}`;
  }

  detach(): void {
    this.socket = null;
    this.permissions = NO_PERMISSIONS;
  }

  /** One request with its acknowledgement; rejects with TransferRefused with the gateway's words. */
  request<E extends TransferEventName>(
    event: E,
    payload: TransferRequests[E],
  ): Promise<TransferReplies[E]> {
    const socket = this.socket;
    if (!socket?.connected) {
      return Promise.reject(new TransferRefused('unavailable', 'Not connected to the desktop.'));
    }
    // Called on the socket, not detached from it: emitWithAck uses `this`, and a detached
    // call failed at once, which read as "did not answer in time" for every request.
    const timed = socket.timeout(REQUEST_TIMEOUT_MS) as unknown as {
      emitWithAck(
        event: E,
        payload: TransferRequests[E],
      ): Promise<TransferResult<TransferReplies[E]>>;
    };
    return timed.emitWithAck(event, payload).then(
      (result) => {
        if (result.ok) return result.value;
        throw new TransferRefused(result.error.code, result.error.message);
      },
      (error: unknown) => {
        // socket.io rejects on its timeout and when the connection drops before the answer.
        const lost = error instanceof Error && /disconnected/.test(error.message);
        throw new TransferRefused(
          'unavailable',
          lost ? 'The connection to the desktop was lost.' : 'The desktop did not answer in time.',
        );
      },
    );
  }

  // ---- Clipboard -----------------------------------------------------------------------

  /** Puts text into the desktop's clipboard. */
  async sendClipboard(text: string): Promise<number> {
    const { bytes } = await this.request('clipboard:set', { text });
    this.lastSent = text;
    this.desktopClipboard = text;
    return bytes;
  }

  /**
   * Sends this computer's clipboard to the desktop if the browser lets the page read it
   * without asking (permission granted) and it changed. Called when the viewer gets focus.
   */
  async syncToDesktop(): Promise<void> {
    if (!this.permissions.clipboardToGuest || !navigator.clipboard?.readText) return;
    if (!(await this.clipboardPermission('clipboard-read'))) return;
    let text: string;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      return;
    }
    if (!text || text === this.lastSent || text === this.desktopClipboard) return;
    await this.sendClipboard(text).catch(() => undefined);
  }

  private async onDesktopClipboard(text: string): Promise<void> {
    this.desktopClipboard = text;
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      this.lastSent = text;
      copied = true;
    } catch {
      // Not focused or not allowed: the clipboard panel shows the text instead.
    }
    this.events.onDesktopClipboard?.(text, copied);
  }

  private async clipboardPermission(name: 'clipboard-read' | 'clipboard-write'): Promise<boolean> {
    try {
      const status = await navigator.permissions.query({ name: name as PermissionName });
      return status.state === 'granted';
    } catch {
      return false;
    }
  }

  // ---- Files ---------------------------------------------------------------------------

  toggleFilesPanel(open = this.filesPanel.hidden): void {
    this.filesPanel.hidden = !open;
    if (open) this.events.onFilesPanelOpen?.();
    if (open && this.permissions.filesFromGuest) void this.refreshOutbox();
  }

  async refreshOutbox(): Promise<void> {
    try {
      this.outbox = (await this.request('files:list', {})).files;
      this.filesHint.textContent = '';
    } catch (error) {
      this.filesHint.textContent = (error as Error).message;
    }
    this.renderOutbox();
  }

  /** Uploads files one after another, each with its own progress row. */
  async uploadAll(files: File[]): Promise<void> {
    if (files.length > 0) this.toggleFilesPanel(true);
    for (const file of files) await this.upload(file);
  }

  /** Uploads one file; resolves with its name in ~/Uploads, or null when refused. */
  async upload(file: File): Promise<string | null> {
    const bar = el('progress', { max: Math.max(1, file.size), value: 0 });
    const status = el('span', { className: 'rd-hint', textContent: 'Starting…' });
    const row = el(
      'div',
      { className: 'rd-file' },
      el('span', { className: 'rd-file-name', textContent: file.name }),
      bar,
      status,
    );
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', `Upload ${file.name}`);
    this.uploadList.prepend(row);
    const fail = (message: string) => {
      row.dataset.state = 'error';
      status.textContent = message;
      return null;
    };
    if (file.size > this.uploadLimit) {
      return fail(
        `Too big: ${formatBytes(file.size)}; files up to ${formatBytes(this.uploadLimit)} can be uploaded.`,
      );
    }
    let uploadId: number;
    try {
      ({ uploadId } = await this.request('files:upload-begin', {
        name: file.name,
        bytes: file.size,
      }));
    } catch (error) {
      return fail((error as Error).message);
    }
    try {
      for (let offset = 0; offset < file.size; offset += TRANSFER_LIMITS.chunkBytes) {
        const data = new Uint8Array(
          await file.slice(offset, offset + TRANSFER_LIMITS.chunkBytes).arrayBuffer(),
        );
        const { received } = await this.request('files:upload-chunk', { uploadId, data });
        bar.value = received;
        status.textContent = `${formatBytes(received)} of ${formatBytes(file.size)}`;
      }
      const done = await this.request('files:upload-end', { uploadId });
      bar.value = file.size;
      row.dataset.state = 'done';
      status.textContent = `Saved as ${GUEST_FOLDERS.uploads}/${done.name}`;
      row.dataset.sha256 = done.sha256;
      return done.name;
    } catch (error) {
      this.request('files:upload-abort', { uploadId }).catch(() => undefined);
      return fail((error as Error).message);
    }
  }

  /** Reads an offered file whole and hands it to the browser as a download. */
  async download(file: OutboxFile, onProgress?: (bytes: number) => void): Promise<Blob> {
    if (file.bytes > this.downloadLimit) {
      throw new TransferRefused(
        'too_large',
        `Too big: files up to ${formatBytes(this.downloadLimit)} can be downloaded.`,
      );
    }
    const parts: Uint8Array[] = [];
    let received = 0;
    for (;;) {
      const { data } = await this.request('files:read', { name: file.name, offset: received });
      const bytes = data instanceof Uint8Array ? data : new Uint8Array(data as ArrayBuffer);
      parts.push(bytes);
      received += bytes.byteLength;
      onProgress?.(received);
      if (bytes.byteLength < TRANSFER_LIMITS.chunkBytes) break;
      if (received > this.downloadLimit) {
        throw new TransferRefused('too_large', 'The file grew past the download limit.');
      }
    }
    const blob = new Blob(parts as BlobPart[]);
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: file.name });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    return blob;
  }

  private renderOutbox(): void {
    const files = this.outbox;
    this.filesButton.textContent = files.length > 0 ? `Files (${files.length})` : 'Files';
    if (files.length === 0) {
      this.downloadList.replaceChildren(
        el('p', {
          className: 'rd-hint',
          textContent: `Put files in ${GUEST_FOLDERS.outbox} on the desktop to download them here.`,
        }),
      );
      return;
    }
    this.downloadList.replaceChildren(
      ...files.map((file) => {
        const status = el('span', { className: 'rd-hint', textContent: formatBytes(file.bytes) });
        const bar = el('progress', { max: Math.max(1, file.bytes), value: 0, hidden: true });
        const get = el('button', {
          className: 'rd-btn',
          type: 'button',
          textContent: 'Download',
          title: `Download ${file.name}`,
        });
        // Every row's button says "Download": the label tells them apart for assistive tech.
        get.setAttribute('aria-label', `Download ${file.name}`);
        get.addEventListener('click', () => {
          get.disabled = true;
          bar.hidden = false;
          this.download(file, (bytes) => (bar.value = bytes)).then(
            () => (status.textContent = `${formatBytes(file.bytes)}, downloaded`),
            (error: Error) => (status.textContent = error.message),
          );
          setTimeout(() => (get.disabled = false), 500);
        });
        return el(
          'div',
          { className: 'rd-file' },
          el('span', { className: 'rd-file-name', textContent: file.name }),
          bar,
          status,
          get,
        );
      }),
    );
  }

  /** Files dropped on `screen` are uploaded. */
  bindDrop(screen: HTMLElement): void {
    const accepts = (event: DragEvent) =>
      this.permissions.filesToGuest && !!event.dataTransfer?.types.includes('Files');
    screen.addEventListener('dragover', (event) => {
      if (!accepts(event)) return;
      event.preventDefault();
      screen.dataset.dropping = '';
    });
    screen.addEventListener('dragleave', () => delete screen.dataset.dropping);
    screen.addEventListener('drop', (event) => {
      delete screen.dataset.dropping;
      if (!accepts(event)) return;
      event.preventDefault();
      void this.uploadAll([...(event.dataTransfer?.files ?? [])]);
    });
  }
}
