/// The page's style: system fonts only (no downloads), light and dark palettes as custom properties
/// (automatic from `prefers-color-scheme`, or forced by the theme toggle through `data-theme`), and a
/// sidebar that becomes an overlay on narrow screens.
enum WebUIStyle {
    static let css = #"""
        :root {
          --background: #ffffff; --surface: #f6f7f9; --surface-strong: #eceef2; --border: #d9dce3;
          --text: #1d2129; --text-muted: #646b78; --accent: #d9480f; --accent-text: #ffffff;
          --user-bubble: #fff1e8; --code-background: #f1f3f6; --danger: #c92a2a; --link: #1c64c8;
          --shadow: 0 2px 12px rgba(0, 0, 0, 0.12);
          color-scheme: light;
        }
        :root[data-theme="dark"] {
          --background: #16181d; --surface: #1e2128; --surface-strong: #2a2e37; --border: #353a45;
          --text: #e4e6eb; --text-muted: #9aa1ad; --accent: #ff7a3d; --accent-text: #16181d;
          --user-bubble: #2d241f; --code-background: #0f1115; --danger: #ff6b6b; --link: #7fb2ff;
          --shadow: 0 2px 12px rgba(0, 0, 0, 0.5);
          color-scheme: dark;
        }
        @media (prefers-color-scheme: dark) {
          :root:not([data-theme="light"]) {
            --background: #16181d; --surface: #1e2128; --surface-strong: #2a2e37; --border: #353a45;
            --text: #e4e6eb; --text-muted: #9aa1ad; --accent: #ff7a3d; --accent-text: #16181d;
            --user-bubble: #2d241f; --code-background: #0f1115; --danger: #ff6b6b; --link: #7fb2ff;
            --shadow: 0 2px 12px rgba(0, 0, 0, 0.5);
            color-scheme: dark;
          }
        }
        * { box-sizing: border-box; }
        html, body { height: 100%; margin: 0; }
        body {
          background: var(--background); color: var(--text);
          font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
        }
        button, input, textarea { font: inherit; color: inherit; }
        [hidden] { display: none !important; }

        .app { display: flex; height: 100vh; height: 100dvh; overflow: hidden; }
        .sidebar {
          width: 260px; flex: none; display: flex; flex-direction: column; gap: 8px; padding: 12px;
          background: var(--surface); border-right: 1px solid var(--border);
        }
        .app.sidebar-collapsed .sidebar { display: none; }
        .conversation-list { flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 2px; }
        .conversation-item { display: flex; align-items: center; border-radius: 8px; }
        .conversation-item:hover, .conversation-item.active { background: var(--surface-strong); }
        .conversation-title {
          flex: 1; min-width: 0; text-align: left; background: none; border: 0; padding: 8px 10px; cursor: pointer;
          white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
        }
        .conversation-delete { background: none; border: 0; color: var(--text-muted); cursor: pointer; padding: 4px 8px; visibility: hidden; }
        .conversation-item:hover .conversation-delete, .conversation-item.active .conversation-delete { visibility: visible; }
        .sidebar-backdrop { display: none; }

        .main { flex: 1; min-width: 0; display: flex; flex-direction: column; }
        .topbar {
          display: flex; align-items: center; gap: 10px; padding: 8px 14px; border-bottom: 1px solid var(--border);
          background: var(--background);
        }
        .model-info { flex: 1; min-width: 0; display: flex; align-items: baseline; gap: 10px; white-space: nowrap; overflow: hidden; }
        .brand { font-weight: 700; color: var(--accent); }
        .model-name { overflow: hidden; text-overflow: ellipsis; color: var(--text); }
        .context-size { color: var(--text-muted); font-size: 13px; }
        .mode-switch { display: flex; border: 1px solid var(--border); border-radius: 8px; overflow: hidden; flex: none; }
        .mode-button { background: none; border: 0; padding: 4px 10px; cursor: pointer; color: var(--text-muted); }
        .mode-button[aria-pressed="true"] { background: var(--accent); color: var(--accent-text); }
        .icon-button {
          background: none; border: 1px solid transparent; border-radius: 8px; width: 34px; height: 34px; flex: none;
          cursor: pointer; font-size: 18px; line-height: 1; color: var(--text-muted);
        }
        .icon-button:hover { border-color: var(--border); color: var(--text); }
        .button {
          border: 1px solid var(--border); background: var(--surface); border-radius: 8px; padding: 7px 14px;
          cursor: pointer; white-space: nowrap;
        }
        .button:hover { background: var(--surface-strong); }
        .button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); font-weight: 600; }
        .button.primary:disabled { opacity: 0.5; cursor: default; }
        .button.danger { background: var(--danger); border-color: var(--danger); color: #fff; font-weight: 600; }
        .button.subtle { background: none; color: var(--text-muted); }
        .button.wide { width: 100%; }
        .button.small { padding: 2px 8px; font-size: 12px; }
        .notice { padding: 8px 16px; background: var(--user-bubble); border-bottom: 1px solid var(--border); font-size: 14px; }
        .notice.error { color: var(--danger); }

        .view { flex: 1; min-height: 0; display: flex; flex-direction: column; }
        .messages { flex: 1; overflow-y: auto; padding: 20px max(16px, calc((100% - 820px) / 2)); }
        .empty-state { color: var(--text-muted); text-align: center; margin-top: 18vh; }
        .empty-state h1 { color: var(--text); font-size: 22px; margin: 0 0 6px; }
        .message { margin: 0 0 18px; display: flex; flex-direction: column; }
        .message.user { align-items: flex-end; }
        .message-body { max-width: 100%; overflow-wrap: anywhere; }
        .message.user .message-body {
          background: var(--user-bubble); border-radius: 14px; padding: 8px 14px; white-space: pre-wrap; max-width: 85%;
        }
        .message.assistant .message-body > :first-child { margin-top: 0; }
        .message.assistant .message-body > :last-child { margin-bottom: 0; }
        .message-error { color: var(--danger); white-space: pre-wrap; }
        .message-footer { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; margin-top: 4px; font-size: 12px; color: var(--text-muted); }
        .message-actions { display: flex; gap: 6px; }
        .edit-box { width: min(100%, 640px); display: flex; flex-direction: column; gap: 6px; }
        .edit-box textarea { width: 100%; min-height: 80px; padding: 8px; border-radius: 10px; border: 1px solid var(--border); background: var(--background); }
        .edit-box div { display: flex; gap: 6px; justify-content: flex-end; }

        .progress { display: flex; align-items: center; gap: 8px; color: var(--text-muted); font-size: 14px; }
        .spinner {
          width: 14px; height: 14px; border-radius: 50%; border: 2px solid var(--border); border-top-color: var(--accent);
          animation: spin 0.8s linear infinite; flex: none;
        }
        @keyframes spin { to { transform: rotate(360deg); } }
        .cursor::after { content: "\258D"; color: var(--accent); animation: blink 1s steps(2) infinite; }
        @keyframes blink { 50% { opacity: 0; } }

        .markdown p { margin: 0 0 10px; }
        .markdown h1, .markdown h2, .markdown h3, .markdown h4, .markdown h5, .markdown h6 { margin: 14px 0 8px; line-height: 1.3; }
        .markdown h1 { font-size: 1.4em; } .markdown h2 { font-size: 1.25em; } .markdown h3 { font-size: 1.1em; }
        .markdown h4, .markdown h5, .markdown h6 { font-size: 1em; }
        .markdown ul, .markdown ol { margin: 0 0 10px; padding-left: 24px; }
        .markdown li > ul, .markdown li > ol { margin-bottom: 0; }
        .markdown blockquote { margin: 0 0 10px; padding-left: 12px; border-left: 3px solid var(--border); color: var(--text-muted); }
        .markdown hr { border: 0; border-top: 1px solid var(--border); margin: 12px 0; }
        .markdown a { color: var(--link); }
        .markdown code {
          font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 0.9em;
          background: var(--code-background); border-radius: 4px; padding: 1px 4px;
        }
        .code-block { margin: 0 0 10px; border: 1px solid var(--border); border-radius: 8px; overflow: hidden; background: var(--code-background); }
        .code-header {
          display: flex; justify-content: space-between; align-items: center; padding: 3px 8px 3px 12px;
          font-size: 12px; color: var(--text-muted); border-bottom: 1px solid var(--border);
        }
        .code-block pre { margin: 0; padding: 10px 12px; overflow-x: auto; line-height: 1.4; }
        .code-block pre code { background: none; padding: 0; font-size: 13px; white-space: pre; }
        .copy-button { background: none; border: 1px solid var(--border); border-radius: 6px; padding: 1px 8px; font-size: 12px; cursor: pointer; color: var(--text-muted); }

        .composer {
          display: flex; gap: 8px; align-items: flex-end; padding: 10px max(16px, calc((100% - 820px) / 2)) 16px;
          border-top: 1px solid var(--border);
        }
        .composer textarea, .completion-text {
          flex: 1; resize: none; border: 1px solid var(--border); border-radius: 12px; padding: 9px 12px;
          background: var(--surface); max-height: 40vh; outline: none;
        }
        .composer textarea:focus, .completion-text:focus { border-color: var(--accent); }
        .hint { margin: 12px 16px 0; color: var(--text-muted); font-size: 13px; }
        .completion-text {
          margin: 10px 16px; max-height: none; flex: 1; white-space: pre-wrap; resize: none;
          font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 14px;
        }
        .completion-bar { display: flex; align-items: center; gap: 8px; padding: 0 16px 16px; }
        .status-line { flex: 1; font-size: 13px; color: var(--text-muted); }

        .dialog {
          border: 1px solid var(--border); border-radius: 14px; padding: 0; width: min(520px, calc(100vw - 24px));
          background: var(--background); color: var(--text); box-shadow: var(--shadow);
        }
        .dialog::backdrop { background: rgba(0, 0, 0, 0.4); }
        .dialog form { display: flex; flex-direction: column; gap: 12px; padding: 18px 20px; }
        .dialog h2 { margin: 0; font-size: 18px; }
        .dialog label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; color: var(--text-muted); flex: 1; }
        .dialog input, .dialog textarea {
          border: 1px solid var(--border); border-radius: 8px; padding: 6px 8px; background: var(--surface); color: var(--text); min-width: 0;
        }
        .setting-row { display: flex; gap: 10px; }
        .dialog .setting-check { flex-direction: row; align-items: baseline; gap: 6px; flex-wrap: wrap; flex: none; }
        .setting-check input { width: auto; }
        .setting-hint { color: var(--text-muted); font-size: 12px; flex-basis: 100%; }
        .json-answer { white-space: pre-wrap; overflow-x: auto; margin: 0; }
        .tool-call { border: 1px solid var(--border); border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
        .tool-call-name { font-size: 12px; color: var(--text-muted); font-family: monospace; }
        .tool-call pre { margin: 4px 0 0; white-space: pre-wrap; }
        .dialog-buttons { display: flex; justify-content: flex-end; gap: 8px; }
        .form-error { color: var(--danger); margin: 0; font-size: 13px; }

        @media (max-width: 760px) {
          .sidebar {
            position: fixed; z-index: 20; top: 0; bottom: 0; left: 0; width: min(82vw, 300px);
            transform: translateX(-105%); transition: transform 0.2s ease; box-shadow: var(--shadow);
          }
          .app.sidebar-collapsed .sidebar { display: flex; }
          .app.sidebar-open .sidebar { transform: none; }
          .app.sidebar-open .sidebar-backdrop { display: block; position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, 0.35); }
          .topbar { padding: 6px 8px; gap: 6px; }
          .brand, .context-size { display: none; }
          .mode-button { padding: 4px 7px; font-size: 13px; }
          .message.user .message-body { max-width: 92%; }
          .setting-row { flex-direction: column; }
          .composer { padding: 8px; }
        }
        """#
}
