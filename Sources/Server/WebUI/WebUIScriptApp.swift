/// The page's controller: holds the state (settings, conversations, the one running generation), wires the
/// buttons and keys, runs chat and completion generations and keeps `localStorage` in step.
enum WebUIScriptApp {
    static let source = #"""
        const App = (() => {
          const byId = (id) => document.getElementById(id);
          const narrowScreen = window.matchMedia("(max-width: 760px)");
          const state = {
            settings: Store.loadSettings(),
            conversations: Store.loadConversations(),
            currentId: Store.loadCurrentId(),
            mode: Store.loadMode(),
            theme: Store.loadTheme(),
            modelName: "",
            generation: null, // { kind, controller, conversationId, index, startedAt, firstTextAt, timer }
            editingIndex: null,
            frameRequested: false,
          };

          function current() {
            return state.conversations.find((conversation) => conversation.id === state.currentId) || null;
          }

          function persist() {
            Store.saveConversations(state.conversations);
            Store.saveCurrentId(state.currentId);
          }

          function newId() {
            return Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
          }

          function showNotice(text, isError) {
            const notice = byId("notice");
            notice.textContent = text || "";
            notice.hidden = !text;
            notice.classList.toggle("error", Boolean(isError));
          }

          // MARK: drawing

          function nearBottom(container) {
            return container.scrollHeight - container.scrollTop - container.clientHeight < 80;
          }

          function render() {
            const generation = state.generation;
            const busy = generation !== null;
            Views.conversationList(byId("conversation-list"), state.conversations, state.currentId);
            const container = byId("messages");
            const follow = nearBottom(container);
            const live = generation && generation.kind === "chat" && generation.conversationId === state.currentId ? generation : null;
            Views.messages(container, current(), { live, editingIndex: state.editingIndex, busy, modelName: state.modelName });
            if (follow || live) container.scrollTop = container.scrollHeight;
            byId("send-button").hidden = busy && generation.kind === "chat";
            byId("send-button").disabled = busy;
            byId("stop-button").hidden = !(busy && generation.kind === "chat");
            byId("completion-run").hidden = busy && generation.kind === "completion";
            byId("completion-run").disabled = busy;
            byId("completion-stop").hidden = !(busy && generation.kind === "completion");
            byId("chat-view").hidden = state.mode !== "chat";
            byId("completion-view").hidden = state.mode !== "completion";
            byId("mode-chat").setAttribute("aria-pressed", String(state.mode === "chat"));
            byId("mode-completion").setAttribute("aria-pressed", String(state.mode === "completion"));
            const edit = byId("edit-input");
            if (edit && document.activeElement !== edit) edit.focus();
          }

          // Streaming redraws at most once per frame, and only the message being written.
          function scheduleLiveUpdate() {
            if (state.frameRequested) return;
            state.frameRequested = true;
            requestAnimationFrame(() => {
              state.frameRequested = false;
              const generation = state.generation;
              if (!generation) return;
              if (generation.kind === "completion") {
                const status = byId("completion-status");
                status.replaceChildren(generation.firstTextAt === null
                  ? Views.progress(`Processing prompt\u2026 ${Views.elapsed(generation.startedAt)}`)
                  : Views.progress(`Generating\u2026 ${Views.elapsed(generation.startedAt)}`));
                return;
              }
              if (generation.conversationId !== state.currentId) return;
              const conversation = current();
              const container = byId("messages");
              const follow = nearBottom(container);
              if (conversation && conversation.messages[generation.index]) {
                Views.updateLive(container, conversation.messages[generation.index], generation);
              }
              if (follow) container.scrollTop = container.scrollHeight;
            });
          }

          function applyTheme() {
            if (state.theme === "auto") document.documentElement.removeAttribute("data-theme");
            else document.documentElement.setAttribute("data-theme", state.theme);
            const toggle = byId("theme-toggle");
            toggle.title = `Theme: ${state.theme === "auto" ? "automatic" : state.theme} (click to change)`;
            toggle.textContent = state.theme === "dark" ? "\u263E" : state.theme === "light" ? "\u2600" : "\u25D0";
          }

          // MARK: generation

          function begin(kind, conversationId, index) {
            const generation = { kind, controller: new AbortController(), conversationId, index,
                                 startedAt: performance.now(), firstTextAt: null, timer: 0 };
            // The elapsed time under "Processing prompt…" ticks even while no text arrives.
            generation.timer = setInterval(scheduleLiveUpdate, 100);
            state.generation = generation;
            return generation;
          }

          function finish(generation) {
            clearInterval(generation.timer);
            if (state.generation === generation) state.generation = null;
          }

          function seconds(generation) {
            return (performance.now() - generation.startedAt) / 1000;
          }

          function chatMessages(conversation, upTo) {
            const messages = [];
            const systemPrompt = state.settings.systemPrompt.trim();
            if (systemPrompt) messages.push({ role: "system", content: systemPrompt });
            for (const message of conversation.messages.slice(0, upTo)) {
              if (message.role === "assistant" && !message.content) continue; // a failed or stopped-empty answer
              messages.push({ role: message.role, content: message.content });
            }
            return messages;
          }

          async function generateAnswer(conversation) {
            const answer = { role: "assistant", content: "" };
            if (state.settings.jsonOutput) answer.json = true;
            conversation.messages.push(answer);
            conversation.updatedAt = Date.now();
            const generation = begin("chat", conversation.id, conversation.messages.length - 1);
            persist();
            render();
            try {
              const result = await API.chat(chatMessages(conversation, generation.index), state.settings, {
                signal: generation.controller.signal,
                onText(piece) {
                  if (generation.firstTextAt === null) generation.firstTextAt = performance.now();
                  answer.content += piece;
                  scheduleLiveUpdate();
                },
              });
              answer.stats = API.statistics(result, seconds(generation));
            } catch (error) {
              if (generation.controller.signal.aborted) answer.stats = { stopped: true, seconds: seconds(generation) };
              else answer.error = error && error.message ? error.message : String(error);
            } finally {
              finish(generation);
              conversation.updatedAt = Date.now();
              persist();
              render();
            }
          }

          function titleFor(text) {
            const line = text.replace(/\s+/g, " ").trim();
            return line.length > 48 ? line.slice(0, 47) + "\u2026" : line || "New chat";
          }

          function send() {
            const input = byId("prompt-input");
            const text = input.value.trim();
            if (!text || state.generation) return;
            let conversation = current();
            if (!conversation) {
              conversation = { id: newId(), title: titleFor(text), updatedAt: Date.now(), messages: [] };
              state.conversations.push(conversation);
              state.currentId = conversation.id;
            }
            if (conversation.messages.length === 0) conversation.title = titleFor(text);
            conversation.messages.push({ role: "user", content: text });
            input.value = "";
            resizeInput();
            state.editingIndex = null;
            generateAnswer(conversation);
          }

          function regenerate() {
            const conversation = current();
            if (!conversation || state.generation) return;
            const last = conversation.messages[conversation.messages.length - 1];
            if (!last || last.role !== "assistant") return;
            conversation.messages.pop();
            generateAnswer(conversation);
          }

          function sendEdit() {
            const conversation = current();
            const box = byId("edit-input");
            if (!conversation || !box || state.generation || state.editingIndex === null) return;
            const text = box.value.trim();
            if (!text) return;
            const index = state.editingIndex;
            conversation.messages = conversation.messages.slice(0, index);
            conversation.messages.push({ role: "user", content: text });
            if (index === 0) conversation.title = titleFor(text);
            state.editingIndex = null;
            generateAnswer(conversation);
          }

          async function runCompletion() {
            if (state.generation) return;
            const textArea = byId("completion-text");
            const prompt = textArea.value;
            const status = byId("completion-status");
            if (!prompt) {
              status.textContent = "Write the beginning of a text first.";
              return;
            }
            const generation = begin("completion", null, 0);
            textArea.readOnly = true;
            render();
            scheduleLiveUpdate();
            try {
              const result = await API.complete(prompt, state.settings, {
                signal: generation.controller.signal,
                onText(piece) {
                  if (generation.firstTextAt === null) generation.firstTextAt = performance.now();
                  textArea.value += piece;
                  textArea.scrollTop = textArea.scrollHeight;
                  scheduleLiveUpdate();
                },
              });
              status.textContent = Views.statisticsText(API.statistics(result, seconds(generation)));
            } catch (error) {
              if (generation.controller.signal.aborted) status.textContent = Views.statisticsText({ stopped: true, seconds: seconds(generation) });
              else status.textContent = error && error.message ? error.message : String(error);
            } finally {
              finish(generation);
              textArea.readOnly = false;
              Store.saveCompletionText(textArea.value);
              render();
            }
          }

          function stop() {
            if (state.generation) state.generation.controller.abort();
          }

          // MARK: conversations

          function openConversation(id) {
            state.currentId = id;
            state.editingIndex = null;
            persist();
            closeSidebarOnPhone();
            render();
          }

          function newChat() {
            state.currentId = null;
            state.editingIndex = null;
            persist();
            closeSidebarOnPhone();
            render();
            byId("prompt-input").focus();
          }

          function deleteConversation(id) {
            if (state.generation && state.generation.conversationId === id) stop();
            state.conversations = state.conversations.filter((conversation) => conversation.id !== id);
            if (state.currentId === id) state.currentId = null;
            persist();
            render();
          }

          function deleteAll() {
            if (!state.conversations.length || !window.confirm("Delete all chats kept in this browser?")) return;
            stop();
            state.conversations = [];
            state.currentId = null;
            persist();
            render();
          }

          // MARK: copying

          function copyText(text, button) {
            const done = () => {
              if (!button) return;
              const label = button.textContent;
              button.textContent = "Copied";
              setTimeout(() => { button.textContent = label; }, 1200);
            };
            const fallback = () => {
              const scratch = document.createElement("textarea");
              scratch.value = text;
              scratch.style.position = "fixed";
              scratch.style.opacity = "0";
              document.body.appendChild(scratch);
              scratch.select();
              try { document.execCommand("copy"); done(); } catch (error) { /* nothing else to try */ }
              scratch.remove();
            };
            if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
            else fallback();
          }

          function onMessagesClick(event) {
            const target = event.target.closest("button[data-action]");
            if (!target) return;
            const conversation = current();
            const messageNode = target.closest(".message");
            const index = messageNode ? Number(messageNode.dataset.index) : -1;
            switch (target.dataset.action) {
              case "copy-code": {
                const code = target.closest(".code-block").querySelector("code");
                copyText(code ? code.textContent : "", target);
                break;
              }
              case "copy-message":
                if (conversation && conversation.messages[index]) copyText(conversation.messages[index].content, target);
                break;
              case "regenerate": regenerate(); break;
              case "edit": state.editingIndex = index; render(); break;
              case "cancel-edit": state.editingIndex = null; render(); break;
              case "send-edit": sendEdit(); break;
            }
          }

          // MARK: settings

          function openSettings() {
            const settings = state.settings;
            byId("setting-system-prompt").value = settings.systemPrompt;
            byId("setting-temperature").value = String(settings.temperature);
            byId("setting-top-p").value = String(settings.topP);
            byId("setting-max-tokens").value = String(settings.maxTokens);
            byId("setting-api-key").value = settings.apiKey;
            byId("setting-json-output").checked = settings.jsonOutput;
            byId("settings-error").hidden = true;
            byId("settings-dialog").showModal();
          }

          function saveSettings(event) {
            event.preventDefault();
            const read = (id) => byId(id).value.trim();
            const fields = [
              ["temperature", "setting-temperature", 0, 5, "Temperature must be a number from 0 to 5."],
              ["topP", "setting-top-p", 0, 1, "Top-p must be a number from 0 to 1."],
              ["maxTokens", "setting-max-tokens", -1, 1048576, "Max tokens must be a whole number from -1 to 1048576."],
            ];
            const next = { systemPrompt: byId("setting-system-prompt").value, apiKey: read("setting-api-key"),
                           jsonOutput: byId("setting-json-output").checked };
            for (const [name, id, low, high, message] of fields) {
              const value = Number(read(id));
              const valid = read(id) !== "" && Number.isFinite(value) && value >= low && value <= high
                && (name !== "maxTokens" || Number.isInteger(value));
              if (!valid) {
                const error = byId("settings-error");
                error.textContent = message;
                error.hidden = false;
                return;
              }
              next[name] = value;
            }
            const keyChanged = next.apiKey !== state.settings.apiKey;
            state.settings = Store.cleanSettings(next);
            Store.saveSettings(state.settings);
            byId("settings-dialog").close();
            if (keyChanged) loadProps();
          }

          // MARK: model information

          async function loadProps() {
            try {
              const props = await API.props(state.settings.apiKey);
              const path = typeof props.model_path === "string" ? props.model_path.split("/").pop() : "";
              state.modelName = typeof props.model_name === "string" && props.model_name ? props.model_name : path;
              const settings = props.default_generation_settings || {};
              const context = Number.isFinite(settings.n_ctx) ? settings.n_ctx : null;
              byId("model-name").textContent = state.modelName || "model";
              byId("model-name").title = state.modelName;
              byId("context-size").textContent = context ? `context ${context.toLocaleString("en-US")} tokens` : "";
              document.title = state.modelName ? `${state.modelName} \u2013 swiftfile` : "swiftfile";
              showNotice("");
              if (!state.generation) render();
            } catch (error) {
              const status = error instanceof API.RequestError ? error.status : 0;
              if (status === 503) {
                byId("model-name").textContent = "loading model\u2026";
                setTimeout(loadProps, 1000);
              } else if (status === 401) {
                byId("model-name").textContent = "locked";
                showNotice("This server needs an API key: open Settings (\u2699) and enter it.", true);
              } else {
                byId("model-name").textContent = "not connected";
                showNotice(`Cannot reach the server (${error && error.message ? error.message : error}); retrying\u2026`, true);
                setTimeout(loadProps, 3000);
              }
            }
          }

          // MARK: layout

          function toggleSidebar() {
            const app = byId("app");
            if (narrowScreen.matches) app.classList.toggle("sidebar-open");
            else app.classList.toggle("sidebar-collapsed");
            byId("sidebar-backdrop").hidden = !app.classList.contains("sidebar-open");
          }

          function closeSidebarOnPhone() {
            byId("app").classList.remove("sidebar-open");
            byId("sidebar-backdrop").hidden = true;
          }

          function resizeInput() {
            const input = byId("prompt-input");
            input.style.height = "auto";
            input.style.height = Math.min(input.scrollHeight + 2, window.innerHeight * 0.4) + "px";
          }

          function setMode(mode) {
            state.mode = mode;
            Store.saveMode(mode);
            render();
          }

          function start() {
            applyTheme();
            if (state.currentId && !current()) state.currentId = null;
            byId("completion-text").value = Store.loadCompletionText();
            byId("composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
            byId("prompt-input").addEventListener("keydown", (event) => {
              if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
              else if (event.key === "Escape") stop();
            });
            byId("prompt-input").addEventListener("input", resizeInput);
            byId("stop-button").addEventListener("click", stop);
            byId("completion-stop").addEventListener("click", stop);
            byId("completion-run").addEventListener("click", runCompletion);
            byId("completion-text").addEventListener("keydown", (event) => {
              if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); runCompletion(); }
              else if (event.key === "Escape") stop();
            });
            byId("completion-text").addEventListener("input", () => Store.saveCompletionText(byId("completion-text").value));
            byId("messages").addEventListener("click", onMessagesClick);
            byId("messages").addEventListener("keydown", (event) => {
              if (event.target.id === "edit-input" && event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendEdit(); }
            });
            byId("conversation-list").addEventListener("click", (event) => {
              const target = event.target.closest("button[data-action]");
              const item = event.target.closest(".conversation-item");
              if (!target || !item) return;
              if (target.dataset.action === "delete") deleteConversation(item.dataset.id);
              else openConversation(item.dataset.id);
            });
            byId("new-chat").addEventListener("click", newChat);
            byId("clear-conversations").addEventListener("click", deleteAll);
            byId("sidebar-toggle").addEventListener("click", toggleSidebar);
            byId("sidebar-backdrop").addEventListener("click", closeSidebarOnPhone);
            byId("mode-chat").addEventListener("click", () => setMode("chat"));
            byId("mode-completion").addEventListener("click", () => setMode("completion"));
            byId("theme-toggle").addEventListener("click", () => {
              state.theme = { auto: "light", light: "dark", dark: "auto" }[state.theme];
              Store.saveTheme(state.theme);
              applyTheme();
            });
            byId("settings-button").addEventListener("click", openSettings);
            byId("settings-form").addEventListener("submit", saveSettings);
            byId("settings-cancel").addEventListener("click", () => byId("settings-dialog").close());
            // Another tab changed the stored chats or settings: take them over unless this tab is generating.
            window.addEventListener("storage", () => {
              if (state.generation) return;
              state.settings = Store.loadSettings();
              state.conversations = Store.loadConversations();
              if (state.currentId && !current()) state.currentId = null;
              render();
            });
            render();
            loadProps();
            byId("prompt-input").focus();
          }

          return { start, state };
        })();

        App.start();
        """#
}
