/// The page's static markup. Everything the model or the user writes is added later by the script as text
/// nodes, never as markup.
enum WebUIMarkup {
    static let body = #"""
        <div id="app" class="app">
          <aside id="sidebar" class="sidebar" aria-label="Conversations">
            <div class="sidebar-head">
              <button id="new-chat" class="button primary wide" type="button">+ New chat</button>
            </div>
            <nav id="conversation-list" class="conversation-list"></nav>
            <div class="sidebar-foot">
              <button id="clear-conversations" class="button subtle wide" type="button">Delete all chats</button>
            </div>
          </aside>
          <div id="sidebar-backdrop" class="sidebar-backdrop" hidden></div>
          <main class="main">
            <header class="topbar">
              <button id="sidebar-toggle" class="icon-button" type="button" aria-label="Show or hide conversations" title="Conversations">&#9776;</button>
              <div class="model-info">
                <span class="brand">swiftfile</span>
                <span id="model-name" class="model-name">connecting&hellip;</span>
                <span id="context-size" class="context-size"></span>
              </div>
              <div class="mode-switch" role="group" aria-label="Mode">
                <button id="mode-chat" class="mode-button" type="button" aria-pressed="true">Chat</button>
                <button id="mode-completion" class="mode-button" type="button" aria-pressed="false">Completion</button>
              </div>
              <button id="theme-toggle" class="icon-button" type="button" aria-label="Theme" title="Theme: automatic">&#9680;</button>
              <button id="settings-button" class="icon-button" type="button" aria-label="Settings" title="Settings">&#9881;</button>
            </header>
            <div id="notice" class="notice" role="status" hidden></div>

            <section id="chat-view" class="view">
              <div id="messages" class="messages" aria-live="polite"></div>
              <form id="composer" class="composer">
                <textarea id="prompt-input" rows="1" placeholder="Send a message" title="Enter sends; Shift+Enter starts a new line" aria-label="Message"></textarea>
                <button id="send-button" class="button primary" type="submit">Send</button>
                <button id="stop-button" class="button danger" type="button" hidden>Stop</button>
              </form>
            </section>

            <section id="completion-view" class="view" hidden>
              <p class="hint">Completion mode: the model continues your text as is, with no chat template (for base models).</p>
              <textarea id="completion-text" class="completion-text" spellcheck="false" aria-label="Text to complete" placeholder="Once upon a time"></textarea>
              <div class="completion-bar">
                <span id="completion-status" class="status-line"></span>
                <button id="completion-stop" class="button danger" type="button" hidden>Stop</button>
                <button id="completion-run" class="button primary" type="button">Generate</button>
              </div>
            </section>
          </main>
        </div>

        <dialog id="settings-dialog" class="dialog">
          <form id="settings-form" method="dialog" novalidate>
            <h2>Settings</h2>
            <label>System prompt
              <textarea id="setting-system-prompt" rows="3" placeholder="You are a helpful assistant."></textarea>
            </label>
            <div class="setting-row">
              <label>Temperature <input id="setting-temperature" type="number" min="0" max="5" step="0.05"></label>
              <label>Top-p <input id="setting-top-p" type="number" min="0" max="1" step="0.01"></label>
              <label>Max tokens <input id="setting-max-tokens" type="number" min="-1" max="1048576" step="1" title="-1: until the model stops"></label>
            </div>
            <label class="setting-check"><input id="setting-json-output" type="checkbox"> JSON output
              <span class="setting-hint">answers are one JSON object (response_format json_object), shown formatted</span></label>
            <label>API key <input id="setting-api-key" type="password" autocomplete="off" placeholder="only if the server was started with --api-key"></label>
            <p id="settings-error" class="form-error" hidden></p>
            <div class="dialog-buttons">
              <button id="settings-cancel" class="button subtle" type="button">Cancel</button>
              <button id="settings-save" class="button primary" type="submit">Save</button>
            </div>
          </form>
        </dialog>
        """#
}
