/// The page's storage module: settings, theme, mode and conversations in `localStorage`, each value checked
/// when read back (storage may hold anything: an older page's shape, or a hand edit).
enum WebUIScriptStore {
    static let source = #"""
        const Store = (() => {
          const keys = {
            settings: "swiftfile.settings", conversations: "swiftfile.conversations", current: "swiftfile.currentConversation",
            theme: "swiftfile.theme", mode: "swiftfile.mode", completion: "swiftfile.completionText",
          };
          const defaultSettings = Object.freeze({ systemPrompt: "", temperature: 0.7, topP: 0.95, maxTokens: 1024, apiKey: "", jsonOutput: false });

          function read(key, fallback) {
            try {
              const raw = localStorage.getItem(key);
              return raw === null ? fallback : JSON.parse(raw);
            } catch (error) {
              return fallback;
            }
          }

          function write(key, value) {
            try {
              localStorage.setItem(key, JSON.stringify(value));
              return true;
            } catch (error) {
              return false; // quota exceeded or storage disabled: the page still works for this visit
            }
          }

          function numberIn(value, low, high, fallback) {
            const number = Number(value);
            return Number.isFinite(number) && number >= low && number <= high ? number : fallback;
          }

          function cleanSettings(value) {
            const source = value && typeof value === "object" ? value : {};
            return {
              systemPrompt: typeof source.systemPrompt === "string" ? source.systemPrompt : defaultSettings.systemPrompt,
              temperature: numberIn(source.temperature, 0, 5, defaultSettings.temperature),
              topP: numberIn(source.topP, 0, 1, defaultSettings.topP),
              maxTokens: Math.trunc(numberIn(source.maxTokens, -1, 1048576, defaultSettings.maxTokens)),
              apiKey: typeof source.apiKey === "string" ? source.apiKey : "",
              jsonOutput: source.jsonOutput === true,
            };
          }

          function cleanMessage(value) {
            if (!value || typeof value !== "object") return null;
            if (value.role !== "user" && value.role !== "assistant") return null;
            const message = { role: value.role, content: typeof value.content === "string" ? value.content : "" };
            if (value.stats && typeof value.stats === "object") message.stats = value.stats;
            if (typeof value.error === "string") message.error = value.error;
            if (value.json === true) message.json = true;
            return message;
          }

          function cleanConversation(value) {
            if (!value || typeof value !== "object" || typeof value.id !== "string") return null;
            const messages = Array.isArray(value.messages) ? value.messages.map(cleanMessage).filter(Boolean) : [];
            return {
              id: value.id,
              title: typeof value.title === "string" ? value.title : "New chat",
              updatedAt: Number.isFinite(value.updatedAt) ? value.updatedAt : 0,
              messages,
            };
          }

          return {
            defaultSettings,
            cleanSettings,
            loadSettings: () => cleanSettings(read(keys.settings, {})),
            saveSettings: (settings) => write(keys.settings, cleanSettings(settings)),
            loadConversations() {
              const list = read(keys.conversations, []);
              return Array.isArray(list) ? list.map(cleanConversation).filter(Boolean) : [];
            },
            saveConversations: (conversations) => write(keys.conversations, conversations),
            loadCurrentId: () => { const id = read(keys.current, null); return typeof id === "string" ? id : null; },
            saveCurrentId: (id) => write(keys.current, id),
            loadTheme: () => { const theme = read(keys.theme, "auto"); return ["auto", "light", "dark"].includes(theme) ? theme : "auto"; },
            saveTheme: (theme) => write(keys.theme, theme),
            loadMode: () => (read(keys.mode, "chat") === "completion" ? "completion" : "chat"),
            saveMode: (mode) => write(keys.mode, mode),
            loadCompletionText: () => { const text = read(keys.completion, ""); return typeof text === "string" ? text : ""; },
            saveCompletionText: (text) => write(keys.completion, text),
          };
        })();
        """#
}
