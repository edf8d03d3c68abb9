/// The page's views: the conversation list and the messages of one conversation, with the progress
/// indicator, the numbers under each answer and the per-message actions. They draw from the state they are
/// given and report clicks through `actions`; all text goes in as text nodes.
enum WebUIScriptChat {
    static let source = #"""
        const Views = (() => {
          const element = Markdown.element;

          function button(label, action, extra) {
            const node = element("button", "button small subtle", [label]);
            node.type = "button";
            node.dataset.action = action;
            Object.assign(node.dataset, extra || {});
            return node;
          }

          function statisticsText(stats) {
            if (!stats) return "";
            const parts = [];
            if (stats.stopped) parts.push("stopped");
            if (Number.isFinite(stats.completionTokens)) parts.push(`${stats.completionTokens} tokens`);
            if (stats.tokensPerSecond > 0) parts.push(`${stats.tokensPerSecond.toFixed(1)} tokens/s`);
            if (Number.isFinite(stats.promptTokens)) {
              let prompt = `prompt ${stats.promptTokens} tokens`;
              if (stats.promptPerSecond > 0 && stats.promptProcessed > 0) prompt += ` at ${Math.round(stats.promptPerSecond)} tokens/s`;
              if (stats.cachedTokens > 0) prompt += ` (${stats.cachedTokens} cached)`;
              parts.push(prompt);
            }
            if (stats.finishReason === "length") parts.push("reached the token limit");
            if (Number.isFinite(stats.seconds)) parts.push(`${stats.seconds.toFixed(1)} s`);
            return parts.join(" \u00b7 ");
          }

          function progress(label) {
            return element("div", "progress", [element("span", "spinner"), element("span", "progress-text", [label])]);
          }

          function elapsed(since) {
            return ((performance.now() - since) / 1000).toFixed(1) + " s";
          }

          function conversationList(container, conversations, currentId) {
            const items = [...conversations].sort((a, b) => b.updatedAt - a.updatedAt).map((conversation) => {
              const title = element("button", "conversation-title", [conversation.title || "New chat"]);
              title.type = "button";
              title.title = conversation.title || "New chat";
              title.dataset.action = "open";
              const remove = element("button", "conversation-delete", ["\u2715"]);
              remove.type = "button";
              remove.title = "Delete this chat";
              remove.setAttribute("aria-label", "Delete this chat");
              remove.dataset.action = "delete";
              const item = element("div", "conversation-item" + (conversation.id === currentId ? " active" : ""), [title, remove]);
              item.dataset.id = conversation.id;
              return item;
            });
            container.replaceChildren(...items);
          }

          // Where the streaming cursor goes: the innermost element that ends the text (not one followed by text).
          function lastTextBlock(node) {
            let target = node;
            while (target.lastChild && target.lastChild === target.lastElementChild && !["BR", "HR"].includes(target.lastChild.nodeName)) target = target.lastChild;
            return target;
          }

          // A JSON answer (JSON output setting), indented once it parses; while it streams, the text as it comes.
          function jsonBlock(text) {
            let shown = text;
            try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (error) { /* not complete yet */ }
            const pre = element("pre", "json-answer");
            pre.appendChild(element("code", null, [shown]));
            return pre;
          }

          // A model that writes tool calls as text (<tool_call>{…}</tool_call>, Hermes/Qwen style): the calls drawn
          // as blocks naming the function, with its arguments indented; the text around them as markdown. The
          // page runs no tools itself.
          function toolCallParts(text) {
            const parts = [];
            const pattern = /<tool_call>\s*([\s\S]*?)\s*(<\/tool_call>|$)/g;
            let last = 0, match;
            while ((match = pattern.exec(text)) !== null) {
              if (match.index > last) parts.push(Markdown.render(text.slice(last, match.index)));
              parts.push(toolCallBlock(match[1], match[2] !== ""));
              last = pattern.lastIndex;
              if (match[0].length === 0) break;
            }
            if (last < text.length) parts.push(Markdown.render(text.slice(last)));
            return parts.length ? parts : [Markdown.render(text)];
          }

          function toolCallBlock(json, complete) {
            let name = "tool call", shown = json;
            try {
              const call = JSON.parse(json);
              name = `tool call: ${call.name}`;
              shown = JSON.stringify(call.arguments ?? call.parameters ?? {}, null, 2);
            } catch (error) { /* still streaming, or not JSON: shown as it is */ }
            const block = element("div", "tool-call");
            block.appendChild(element("div", "tool-call-name", [complete ? name : `${name}\u2026`]));
            const pre = element("pre");
            pre.appendChild(element("code", null, [shown]));
            block.appendChild(pre);
            return block;
          }

          // The body of an assistant message: markdown, the progress indicator before the first text, a cursor
          // while streaming, or the error.
          function assistantBody(message, live) {
            const body = element("div", "message-body");
            if (message.content) {
              if (message.json) body.appendChild(jsonBlock(message.content));
              else for (const part of toolCallParts(message.content)) body.appendChild(part);
            }
            if (live && !message.content) body.appendChild(progress(`Processing prompt\u2026 ${elapsed(live.startedAt)}`));
            else if (live) lastTextBlock(body).appendChild(element("span", "cursor"));
            if (message.error) body.appendChild(element("div", "message-error", [message.error]));
            return body;
          }

          function messageNode(message, index, context) {
            const { live, editingIndex, isLast, isLastUser, busy } = context;
            const node = element("div", `message ${message.role}`);
            node.dataset.index = String(index);
            if (message.role === "user" && editingIndex === index) {
              const box = element("textarea");
              box.value = message.content;
              box.id = "edit-input";
              box.setAttribute("aria-label", "Edit your message");
              node.appendChild(element("div", "edit-box", [box, element("div", null, [button("Cancel", "cancel-edit"), button("Send", "send-edit")])]));
              return node;
            }
            const body = message.role === "user" ? element("div", "message-body", [message.content]) : assistantBody(message, live);
            node.appendChild(body);
            const footer = element("div", "message-footer");
            if (message.role === "assistant") footer.appendChild(element("span", "message-stats", [statisticsText(message.stats)]));
            const actions = element("div", "message-actions");
            if (!busy && message.role === "assistant" && message.content) actions.appendChild(button("Copy", "copy-message"));
            if (!busy && message.role === "assistant" && isLast) actions.appendChild(button("Regenerate", "regenerate"));
            if (!busy && message.role === "user" && isLastUser) actions.appendChild(button("Edit", "edit"));
            if (actions.childNodes.length) footer.appendChild(actions);
            if (footer.childNodes.length) node.appendChild(footer);
            return node;
          }

          function messages(container, conversation, context) {
            const list = conversation ? conversation.messages : [];
            if (list.length === 0) {
              const heading = element("h1", null, ["What can I help with?"]);
              const detail = element("p", null, [context.modelName ? `Chatting with ${context.modelName}, running on this computer.` : "The model runs on this computer."]);
              container.replaceChildren(element("div", "empty-state", [heading, detail]));
              return;
            }
            let lastUser = -1;
            list.forEach((message, index) => { if (message.role === "user") lastUser = index; });
            container.replaceChildren(...list.map((message, index) => messageNode(message, index, {
              live: context.live && context.live.index === index ? context.live : null,
              editingIndex: context.editingIndex,
              isLast: index === list.length - 1,
              isLastUser: index === lastUser,
              busy: context.busy,
            })));
          }

          // Redraws only the message being generated (called once per animation frame while streaming).
          function updateLive(container, message, live) {
            const node = container.querySelector(`.message[data-index="${live.index}"]`);
            if (!node) return;
            const old = node.querySelector(".message-body");
            if (old) old.replaceWith(assistantBody(message, live));
          }

          return { conversationList, messages, updateLive, statisticsText, progress, elapsed };
        })();
        """#
}
