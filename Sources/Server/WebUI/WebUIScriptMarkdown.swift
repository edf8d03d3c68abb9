/// The page's markdown renderer. Safety comes from how it writes, not from filtering: every piece of model
/// text becomes a DOM text node (`createTextNode`), the renderer only ever creates the elements of its small
/// subset (fences, inline code, bold/italic/strike, lists, headings, quotes, rules, links), and a link gets an
/// `href` only when it parses as an absolute http(s) URL. No HTML string is ever parsed, so `<script>` or
/// `<img onerror>` in an answer shows up as those characters.
enum WebUIScriptMarkdown {
    static let source = #"""
        const Markdown = (() => {
          function element(tag, className, children) {
            const node = document.createElement(tag);
            if (className) node.className = className;
            for (const child of children || []) {
              node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
            }
            return node;
          }

          const fencePattern = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/;
          const headingPattern = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
          const listPattern = /^([ \t]*)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
          const rulePattern = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
          const quotePattern = /^ {0,3}>[ ]?(.*)$/;
          const blankPattern = /^\s*$/;

          function indentOf(line) {
            return line.match(/^[ \t]*/)[0].replace(/\t/g, "    ").length;
          }

          function isClosingFence(line, fence) {
            const match = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line);
            return match !== null && match[1][0] === fence[0] && match[1].length >= fence.length;
          }

          function startsBlock(line) {
            return fencePattern.test(line) || headingPattern.test(line) || quotePattern.test(line)
              || listPattern.test(line) || rulePattern.test(line);
          }

          function codeBlock(code, language) {
            const copy = element("button", "copy-button", ["Copy"]);
            copy.type = "button";
            copy.dataset.action = "copy-code";
            const header = element("div", "code-header", [element("span", "code-language", [language || "text"]), copy]);
            const codeNode = element("code", null, [code]);
            return element("div", "code-block", [header, element("pre", null, [codeNode])]);
          }

          // Block structure, line by line; list items and quotes recurse on their own lines.
          function renderBlocks(lines, parent, depth) {
            let index = 0;
            while (index < lines.length) {
              const line = lines[index];
              let match;
              if (blankPattern.test(line)) {
                index += 1;
              } else if ((match = fencePattern.exec(line))) {
                const code = [];
                index += 1;
                while (index < lines.length && !isClosingFence(lines[index], match[1])) {
                  code.push(lines[index]);
                  index += 1;
                }
                index += 1; // the closing fence; an unclosed fence (still streaming) runs to the end
                parent.appendChild(codeBlock(code.join("\n"), match[2]));
              } else if (rulePattern.test(line)) {
                parent.appendChild(element("hr"));
                index += 1;
              } else if ((match = headingPattern.exec(line))) {
                const heading = element("h" + match[1].length);
                renderInline(match[2], heading, depth);
                parent.appendChild(heading);
                index += 1;
              } else if (quotePattern.test(line) && depth < 16) {
                const inner = [];
                while (index < lines.length && (match = quotePattern.exec(lines[index]))) {
                  inner.push(match[1]);
                  index += 1;
                }
                const quote = element("blockquote");
                renderBlocks(inner, quote, depth + 1);
                parent.appendChild(quote);
              } else if (listPattern.test(line) && depth < 16) {
                index = renderList(lines, index, parent, depth);
              } else {
                const paragraph = element("p");
                let first = true;
                while (index < lines.length && !blankPattern.test(lines[index]) && (first || !startsBlock(lines[index]))) {
                  if (!first) paragraph.appendChild(element("br"));
                  renderInline(lines[index].trim(), paragraph, depth);
                  first = false;
                  index += 1;
                }
                parent.appendChild(paragraph);
              }
            }
          }

          function renderList(lines, start, parent, depth) {
            const first = listPattern.exec(lines[start]);
            const baseIndent = indentOf(first[1]);
            const ordered = /\d/.test(first[2]);
            const list = element(ordered ? "ol" : "ul");
            const startNumber = parseInt(first[2], 10);
            if (ordered && startNumber !== 1) list.start = startNumber;
            const sibling = (match) => match && indentOf(match[1]) <= baseIndent + 1 && /\d/.test(match[2]) === ordered;
            let index = start, itemLines = null, contentIndent = 0;
            const finishItem = () => {
              if (itemLines === null) return;
              const item = element("li");
              renderBlocks(itemLines, item, depth + 1);
              // A tight item holds one paragraph: show its text without the paragraph's margin.
              if (item.childNodes.length === 1 && item.firstChild.nodeName === "P") item.replaceChildren(...item.firstChild.childNodes);
              list.appendChild(item);
            };
            while (index < lines.length) {
              const line = lines[index];
              const match = listPattern.exec(line);
              if (sibling(match)) {
                finishItem();
                itemLines = [match[3]];
                contentIndent = indentOf(match[1]) + match[2].length + 1;
              } else if (match && indentOf(match[1]) <= baseIndent + 1) {
                break; // another kind of list starts here
              } else if (blankPattern.test(line)) {
                let next = index + 1;
                while (next < lines.length && blankPattern.test(lines[next])) next += 1;
                if (next >= lines.length) break;
                if (indentOf(lines[next]) <= baseIndent && !sibling(listPattern.exec(lines[next]))) break;
                itemLines.push("");
              } else if (indentOf(line) > baseIndent) {
                const strip = Math.min(line.match(/^[ \t]*/)[0].length, contentIndent);
                itemLines.push(line.slice(strip));
              } else if (!startsBlock(line)) {
                itemLines.push(line); // a lazy continuation of the item's text
              } else {
                break;
              }
              index += 1;
            }
            finishItem();
            parent.appendChild(list);
            return index;
          }

          function safeLink(address) {
            try {
              const url = new URL(address);
              return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
            } catch (error) {
              return null; // relative or malformed: shown as text
            }
          }

          function link(label, address, depth) {
            const href = safeLink(address);
            if (href === null) {
              const span = element("span");
              renderInline(label, span, depth + 1);
              return span;
            }
            const anchor = element("a");
            anchor.setAttribute("href", href);
            anchor.setAttribute("target", "_blank");
            anchor.setAttribute("rel", "noopener noreferrer nofollow");
            renderInline(label, anchor, depth + 1);
            return anchor;
          }

          function wrap(tag) {
            return (match, depth) => {
              const node = element(tag);
              renderInline(match[1], node, depth + 1);
              return node;
            };
          }

          // Each rule is tried where its first character appears; `wordStart` rules only after a non-word character.
          const inlineRules = [
            { first: "`", pattern: /(`+)([^`][\s\S]*?)\1(?!`)/y,
              build: (match) => element("code", null, [/^ .*[^ ].* $/.test(match[2]) ? match[2].slice(1, -1) : match[2]]) },
            { first: "\\", pattern: /\\([!-\/:-@\[-`{-~])/y, build: (match) => document.createTextNode(match[1]) },
            { first: "*", pattern: /\*\*(?=\S)([\s\S]*?\S)\*\*/y, build: wrap("strong") },
            { first: "_", pattern: /__(?=\S)([\s\S]*?\S)__(?!\w)/y, wordStart: true, build: wrap("strong") },
            { first: "*", pattern: /\*([^\s*](?:[\s\S]*?[^\s*])?)\*(?!\*)/y, build: wrap("em") },
            { first: "_", pattern: /_([^\s_](?:[\s\S]*?[^\s_])?)_(?!\w)/y, wordStart: true, build: wrap("em") },
            { first: "~", pattern: /~~(?=\S)([\s\S]*?\S)~~/y, build: wrap("del") },
            { first: "[", pattern: /\[([^\]\n]+)\]\(\s*<?([^\s<>()]+(?:\([^\s<>()]*\)[^\s<>()]*)*)>?(?:\s+"[^"\n]*")?\s*\)/y,
              build: (match, depth) => link(match[1], match[2], depth) },
            { first: "h", pattern: /https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}*_]/y, wordStart: true,
              build: (match, depth) => link(match[0], match[0], depth) },
          ];

          function renderInline(text, parent, depth) {
            if (depth > 8) { // nesting this deep is not formatting any more; keep the text
              parent.appendChild(document.createTextNode(text));
              return;
            }
            let plain = "";
            let index = 0;
            while (index < text.length) {
              const character = text[index];
              let matched = false;
              for (const rule of inlineRules) {
                if (rule.first !== character) continue;
                if (rule.wordStart && index > 0 && /\w/.test(text[index - 1])) continue;
                rule.pattern.lastIndex = index;
                const match = rule.pattern.exec(text);
                if (!match) continue;
                if (plain) parent.appendChild(document.createTextNode(plain));
                plain = "";
                parent.appendChild(rule.build(match, depth));
                index += match[0].length;
                matched = true;
                break;
              }
              if (!matched) {
                plain += character;
                index += 1;
              }
            }
            if (plain) parent.appendChild(document.createTextNode(plain));
          }

          /// Renders `text` into a new `div.markdown`.
          function render(text) {
            const container = element("div", "markdown");
            renderBlocks(String(text).replace(/\r\n?/g, "\n").split("\n"), container, 0);
            return container;
          }

          return { render, element };
        })();
        """#
}
