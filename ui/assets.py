"""The app's look: theme, stylesheet and the small script behind citation links."""

from __future__ import annotations

from typing import Any

FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
MONO = ["Noto Sans Mono CJK SC", "ui-monospace", "monospace"]


def theme() -> Any:
    import gradio as gr

    # Local font names only: the default theme would fetch Google Fonts, which an offline server cannot reach.
    return gr.themes.Soft(primary_hue="blue", secondary_hue="sky", neutral_hue="slate", font=FONTS, font_mono=MONO)


# Delegated listeners on the document survive Gradio re-rendering the chat and the panel.
HEAD = """
<script>
(() => {
  function focusCitation(id) {
    const card = document.getElementById(id);
    if (!card) return false;
    const turn = card.closest('details.yiju-turn');
    if (turn) turn.open = true;
    document.querySelectorAll('.yiju-card.yiju-active').forEach((c) => c.classList.remove('yiju-active'));
    card.classList.add('yiju-active');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
    return true;
  }
  document.addEventListener('click', (event) => {
    const link = event.target && event.target.closest ? event.target.closest('a.yiju-cite') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    focusCitation((link.getAttribute('href') || '').replace(/^#/, ''));
  }, true);
  document.addEventListener('toggle', (event) => {
    const box = event.target;
    if (!box.classList || !box.classList.contains('yiju-source') || !box.open) return;
    const doc = box.querySelector('.yiju-doc');
    const here = doc && doc.querySelector('.yiju-ctx');
    if (here) doc.scrollTop = Math.max(0, here.offsetTop - 48);
  }, true);
})();
</script>
"""

CSS = """
/* The page is as wide as the window (up to 1400px) from the start: otherwise it grows with its content, and the
   columns jumped wider after the first answer or when a file was chosen. */
.gradio-container { width: 100% !important; max-width: 1400px !important; margin: 0 auto !important; }
.gradio-container > .main, .gradio-container .wrap:has(> main.contain), .gradio-container main.contain { width: 100%; }
.yiju-header { padding: 6px 4px 2px; }
.yiju-header h1 { font-size: 24px; font-weight: 700; margin: 0; letter-spacing: 0.04em; }
.yiju-header h1 .yiju-en { font-size: 15px; font-weight: 500; color: var(--body-text-color-subdued); margin-left: 8px; letter-spacing: 0; }
.yiju-header p { margin: 4px 0 0; color: var(--body-text-color-subdued); font-size: 14px; }

.yiju-q { white-space: normal; word-break: break-word; }
.yiju-answer .yiju-text { line-height: 1.85; font-size: 15.5px; word-break: break-word; }
.yiju-meta { margin-top: 8px; font-size: 12.5px; color: var(--body-text-color-subdued); }
.yiju-note { margin-top: 6px; font-size: 13px; color: #92400e; }
details.yiju-removed { margin-top: 6px; font-size: 13px; }
details.yiju-removed > summary { cursor: pointer; color: #92400e; width: fit-content; }
details.yiju-removed ol { margin: 4px 0 0 18px; color: var(--body-text-color-subdued); text-decoration: line-through; }
.yiju-pending .yiju-meta { margin-top: 0; font-style: italic; }
.yiju-caret { animation: yiju-blink 1s steps(1) infinite; color: var(--color-accent); }
@keyframes yiju-blink { 50% { opacity: 0; } }

a.yiju-cite { display: inline-block; margin: 0 1px; padding: 0 4px; border-radius: 5px; font-size: 12.5px;
  line-height: 1.5; font-weight: 600; color: #1d4ed8 !important; background: #dbeafe; text-decoration: none !important;
  vertical-align: 2px; cursor: pointer; }
a.yiju-cite:hover, a.yiju-cite:focus { background: #1d4ed8; color: #fff !important; }

.yiju-refused { border-left: 4px solid #d97706; padding: 4px 0 4px 12px; }
.yiju-refused .yiju-text { color: #78350f; font-weight: 600; }
.yiju-badge { display: inline-block; margin-bottom: 6px; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; color: #92400e; background: #fef3c7; border: 1px solid #fcd34d; }
.yiju-error { padding: 8px 12px; border-radius: 8px; background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; line-height: 1.7; }
.yiju-error-tag { display: inline-block; margin-right: 8px; padding: 0 7px; border-radius: 999px; font-size: 12px;
  font-weight: 600; color: #fff; background: #dc2626; }

.yiju-panel { font-size: 14px; }
.yiju-panel-head { font-size: 17px; font-weight: 700; padding: 2px 2px 8px; border-bottom: 1px solid var(--border-color-primary); }
.yiju-panel-head span { font-size: 12.5px; font-weight: 500; color: var(--body-text-color-subdued); margin-left: 6px; }
.yiju-empty { padding: 18px 8px; color: var(--body-text-color-subdued); line-height: 1.9; }
details.yiju-turn { margin-top: 10px; }
details.yiju-turn > summary { cursor: pointer; padding: 6px 4px; font-weight: 600; color: var(--body-text-color); }
.yiju-turn-no { display: inline-block; margin-right: 8px; padding: 0 7px; border-radius: 6px; font-size: 12px;
  color: #1e40af; background: #e0e7ff; }
.yiju-turn-refused .yiju-turn-no { color: #92400e; background: #fef3c7; }
.yiju-related-head { margin: 6px 2px; font-size: 13px; font-weight: 600; color: #92400e; }
.yiju-card { margin: 10px 0; padding: 12px 14px; border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--block-background-fill); transition: box-shadow .25s, border-color .25s; scroll-margin: 80px; }
.yiju-card-weak { border-style: dashed; }
.yiju-card.yiju-active { border-color: #2563eb; box-shadow: 0 0 0 3px rgba(37, 99, 235, .25); }
.yiju-card-head { display: flex; align-items: baseline; gap: 8px; }
.yiju-num { flex: none; font-weight: 700; color: #1d4ed8; }
.yiju-card-weak .yiju-num { color: #92400e; font-size: 12.5px; }
.yiju-title { font-weight: 600; }
.yiju-loc { margin: 2px 0 8px; font-size: 12.5px; color: var(--body-text-color-subdued); }
.yiju-passage { line-height: 1.85; padding: 8px 10px; border-radius: 6px; background: var(--background-fill-secondary); }
mark.yiju-quote { background: #fde68a; color: #1f2937; padding: 1px 0; border-radius: 2px; }
details.yiju-source { margin-top: 8px; }
details.yiju-source > summary { cursor: pointer; font-size: 13px; color: #1d4ed8; width: fit-content; }
.yiju-doc-head { margin: 8px 0 4px; font-size: 12.5px; color: var(--body-text-color-subdued); }
.yiju-doc { position: relative; max-height: 340px; overflow-y: auto; white-space: pre-wrap; line-height: 1.85;
  padding: 10px 12px; border: 1px solid var(--border-color-primary); border-radius: 6px; font-size: 13.5px; }
.yiju-ctx { background: #e0f2fe; color: #0f172a; outline: 1px solid #7dd3fc; border-radius: 2px; }
.yiju-doc-missing { margin-top: 6px; color: #991b1b; font-size: 13px; }

.yiju-docs-summary { margin: 4px 0 8px; color: var(--body-text-color-subdued); }
table.yiju-docs { width: 100%; border-collapse: collapse; font-size: 14px; border: none !important; }
table.yiju-docs tr, table.yiju-docs thead, table.yiju-docs tbody { border: none !important; }
table.yiju-docs th, table.yiju-docs td { text-align: left; padding: 7px 10px; border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; }
table.yiju-docs th { font-weight: 600; background: var(--background-fill-secondary); }
.yiju-num-cell { text-align: right !important; }
.yiju-id-cell { font-family: var(--font-mono); font-size: 12px; color: var(--body-text-color-subdued); }
table.yiju-files { width: 100%; border-collapse: collapse; margin: 4px 0; font-size: 14px; }
table.yiju-files th, table.yiju-files td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; }
table.yiju-files td:first-child { width: 40%; word-break: break-all; }
table.yiju-files progress { display: block; width: 100%; height: 8px; margin-top: 3px; }
tr.yiju-file-failed td:last-child { color: #b91c1c; }
tr.yiju-file-done td:last-child { color: #166534; }
ul.yiju-status { list-style: none; padding: 0; margin: 4px 0; }
ul.yiju-status li { margin: 4px 0; padding: 5px 10px; border-left: 3px solid; border-radius: 4px; line-height: 1.6; }
li.yiju-status-ok { color: #166534; border-color: #16a34a; background: #f0fdf4; }
li.yiju-status-warn { color: #92400e; border-color: #d97706; background: #fffbeb; }
li.yiju-status-error { color: #991b1b; border-color: #dc2626; background: #fef2f2; }
.yiju-feedback-row { align-items: center !important; }
.yiju-hint { font-size: 13px; color: var(--body-text-color-subdued); }
.yiju-convs .wrap { flex-direction: column; flex-wrap: nowrap !important; gap: 4px !important; max-height: 520px;
  overflow-y: auto; }
.yiju-convs label { width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
ul.yiju-fb-list { list-style: none; padding: 0; margin: 0; }
li.yiju-fb-item { margin: 10px 0; padding: 10px 14px; border: 1px solid var(--border-color-primary); border-radius: 10px;
  border-left: 4px solid #16a34a; }
li.yiju-fb-item-down { border-left-color: #dc2626; }
.yiju-fb-head { display: flex; gap: 10px; align-items: baseline; }
.yiju-fb-head .yiju-meta { margin-top: 0; }
.yiju-fb-up, .yiju-fb-down { font-weight: 600; font-size: 13px; }
.yiju-fb-down { color: #b91c1c; }
.yiju-fb-up { color: #15803d; }
.yiju-fb-q { margin-top: 6px; font-weight: 600; }
.yiju-fb-a { margin-top: 4px; line-height: 1.75; }
.yiju-fb-comment { margin-top: 6px; padding: 4px 8px; border-radius: 6px; background: #fffbeb; color: #92400e; }
details.yiju-fb-sources > summary { cursor: pointer; margin-top: 6px; font-size: 13px; color: #1d4ed8; width: fit-content; }

/* Gradio follows the system's dark mode: keep the warm/cool accents readable there too. */
.dark .yiju-note, .dark .yiju-related-head { color: #fbbf24; }
.dark .yiju-refused .yiju-text { color: #fcd34d; }
.dark a.yiju-cite { color: #bfdbfe !important; background: #1e3a8a; }
.dark .yiju-num, .dark details.yiju-source > summary { color: #93c5fd; }
.dark .yiju-turn-no { color: #c7d2fe; background: #312e81; }
.dark .yiju-error { background: #450a0a; color: #fecaca; border-color: #7f1d1d; }
.dark li.yiju-status-ok { background: #052e16; color: #bbf7d0; }
.dark li.yiju-status-warn { background: #451a03; color: #fde68a; }
.dark li.yiju-status-error { background: #450a0a; color: #fecaca; }

/* Paged documents: the OCR mark and the page image with the cited lines' boxes. */
.yiju-ocr { font-size: 11px; padding: 0 5px; margin-left: 4px; border-radius: 3px; color: #1e40af; background: #dbeafe; }
.yiju-ocr-low { color: #92400e; background: #fef3c7; }
details.yiju-page > summary { cursor: pointer; font-size: 13px; color: #2563eb; margin: 4px 0; }
.yiju-page-view { position: relative; display: inline-block; max-width: 100%; border: 1px solid #d1d5db; }
.yiju-page-view img { display: block; max-width: 100%; height: auto; }
.yiju-page-box { position: absolute; background: rgba(250, 204, 21, 0.35); outline: 2px solid #eab308; }
.dark .yiju-ocr { background: #1e3a8a; color: #bfdbfe; }
"""
