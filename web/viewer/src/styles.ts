// The viewer's CSS, injected once per document (no CSS pipeline needed by the host page).
export const VIEWER_CSS = `
.rd-root{position:relative;display:flex;flex-direction:column;width:100%;height:100%;min-height:240px;background:#0b0d12;color:#e6e8ee;font:13px/1.3 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow:hidden}
.rd-root:fullscreen{width:100vw;height:100vh}
.rd-toolbar{display:flex;align-items:center;gap:6px;padding:5px 8px;background:#161a22;border-bottom:1px solid #262c38;flex:none}
.rd-pill{display:inline-flex;align-items:center;gap:6px;padding:2px 10px 2px 8px;border-radius:999px;background:#222836;color:#cfd5e2;font-weight:600;font-size:12px;white-space:nowrap}
.rd-pill::before{content:"";width:8px;height:8px;border-radius:50%;background:#8a93a6}
.rd-pill[data-state=connected]::before{background:#3ecf72;box-shadow:0 0 6px #3ecf72}
.rd-pill[data-state=connecting]::before,.rd-pill[data-state=reconnecting]::before,.rd-pill[data-state=waiting]::before{background:#f2b84b;animation:rd-blink 1s infinite}
.rd-pill[data-state=moved-elsewhere]::before{background:#5aa2ff}
.rd-pill[data-state=error]::before,.rd-pill[data-state=disconnected]::before{background:#ef5b5b}
@keyframes rd-blink{50%{opacity:.3}}
.rd-badge{padding:2px 8px;border-radius:6px;background:#3a2f12;color:#ffd27a;font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:40%}
.rd-badge[hidden]{display:none}
.rd-rec{padding:2px 8px;border-radius:6px;background:#4a1616;color:#ffb4b4;font-size:12px;font-weight:600;white-space:nowrap}
.rd-rec[hidden]{display:none}
.rd-spacer{flex:1}
.rd-btn{appearance:none;border:1px solid #2f3646;background:#1f2430;color:#e6e8ee;border-radius:6px;padding:4px 10px;font:inherit;cursor:pointer;white-space:nowrap}
.rd-btn:hover{background:#2a3140}.rd-btn:focus-visible{outline:2px solid #5aa2ff;outline-offset:1px}
.rd-btn:disabled{opacity:.45;cursor:default}
.rd-btn.rd-danger{border-color:#5a2a2a;background:#3a1d1d}.rd-btn.rd-danger:hover{background:#4a2424}
.rd-screen{position:relative;flex:1;display:flex;align-items:center;justify-content:center;overflow:hidden;background:#000}
.rd-canvas{display:block;image-rendering:auto;outline:none;cursor:default;touch-action:none}
.rd-canvas:focus-visible{box-shadow:0 0 0 2px #5aa2ff}
.rd-textfield{position:absolute;left:0;top:0;width:1px;height:1px;margin:0;padding:0;border:0;opacity:0;resize:none;font-size:16px;pointer-events:none;z-index:0}
.rd-btn[hidden]{display:none}
.rd-root[data-view-only] .rd-canvas{cursor:not-allowed}
.rd-overlay{position:absolute;inset:0;display:flex;flex-direction:column;gap:12px;align-items:center;justify-content:center;background:rgba(8,10,14,.78);text-align:center;padding:24px}
.rd-overlay[hidden]{display:none}
.rd-overlay h2{margin:0;font-size:18px;color:#fff}.rd-overlay p{margin:0;color:#b8c0d0;max-width:42ch}
.rd-panel{position:absolute;right:8px;top:44px;z-index:2;width:min(420px,90%);background:#161a22;border:1px solid #2f3646;border-radius:8px;padding:10px;box-shadow:0 8px 30px rgba(0,0,0,.5);display:flex;flex-direction:column;gap:8px}
.rd-panel[hidden]{display:none}
.rd-policy-note{margin:0;color:#f0c36a;font-size:12px}.rd-policy-note[hidden]{display:none}
.rd-panel textarea{width:100%;box-sizing:border-box;min-height:90px;background:#0e1117;color:#e6e8ee;border:1px solid #2f3646;border-radius:6px;padding:6px;font:12px ui-monospace,monospace}
.rd-panel .rd-row{display:flex;gap:6px;justify-content:flex-end;align-items:center}
.rd-hint{color:#8a93a6;font-size:12px;margin-right:auto}
.rd-panel h3{margin:2px 0 0;font-size:12px;font-weight:600;color:#b8c0d0}
.rd-files{display:flex;flex-direction:column;gap:4px;max-height:200px;overflow:auto}
.rd-files p{margin:0}
.rd-file{display:grid;grid-template-columns:1fr auto auto;gap:3px 8px;align-items:center;padding:5px 7px;background:#0e1117;border:1px solid #232938;border-radius:6px}
.rd-file .rd-hint{margin:0}
.rd-file-name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.rd-file progress{grid-column:1/-1;grid-row:2;width:100%;height:6px;accent-color:#5aa2ff}
.rd-file progress[hidden]{display:none}
.rd-file[data-state=error]{border-color:#5a2a2a}.rd-file[data-state=error] .rd-hint{color:#ff9b9b}
.rd-file[data-state=done] .rd-hint{color:#7fd99f}
.rd-screen[data-dropping]{outline:3px dashed #5aa2ff;outline-offset:-8px}
`;

const adopted = new WeakSet<Document>();

/**
 * Adds the viewer's stylesheet to `doc` once. It is adopted through the CSSOM rather than put in
 * a <style> element: a page whose Content-Security-Policy allows only its own stylesheets and
 * nonces (the portal's) accepts an adopted sheet, and the viewer needs no nonce from its host.
 */
export function injectStyles(doc: Document = document): void {
  const Sheet = doc.defaultView?.CSSStyleSheet;
  if (Sheet && 'adoptedStyleSheets' in doc) {
    if (adopted.has(doc)) return;
    const sheet = new Sheet();
    sheet.replaceSync(VIEWER_CSS);
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    adopted.add(doc);
    return;
  }
  // Browsers without constructable stylesheets (before 2023).
  if (doc.getElementById('raydesk-viewer-css')) return;
  const style = doc.createElement('style');
  style.id = 'raydesk-viewer-css';
  style.textContent = VIEWER_CSS;
  doc.head.appendChild(style);
}
