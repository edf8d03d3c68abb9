/// The page's server client: `GET /props`, and streamed generation read with `fetch` + `ReadableStream` as
/// server-sent events (chat: `/v1/chat/completions` with `stream_options.include_usage`; completion mode:
/// the llama.cpp `/completion` route, no chat template). Stopping is the caller's `AbortController`: the
/// server sees the connection close and frees the slot.
enum WebUIScriptAPI {
    static let source = #"""
        const API = (() => {
          class RequestError extends Error {
            constructor(status, message) {
              super(message);
              this.status = status;
            }
          }

          function headers(apiKey) {
            const result = { "Content-Type": "application/json" };
            if (apiKey) result["Authorization"] = "Bearer " + apiKey;
            return result;
          }

          function errorMessage(body) {
            const error = body && body.error;
            if (typeof error === "string") return error;
            if (error && typeof error.message === "string") return error.message;
            return null;
          }

          async function failure(response) {
            let text = "";
            try { text = await response.text(); } catch (error) { text = ""; }
            let message = text.trim().slice(0, 500);
            try { message = errorMessage(JSON.parse(text)) || message; } catch (error) { /* not JSON: keep the text */ }
            if (response.status === 401) message = "the server needs an API key (open Settings): " + message;
            return new RequestError(response.status, `HTTP ${response.status}: ${message || response.statusText}`);
          }

          async function props(apiKey) {
            const response = await fetch("/props", { headers: headers(apiKey), cache: "no-store" });
            if (!response.ok) throw await failure(response);
            return response.json();
          }

          // Yields the data of each server-sent event (blocks end with a blank line; data lines start "data:").
          async function* serverSentEvents(response) {
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            let buffer = "";
            const take = (block) => block.split("\n").map((line) => line.replace(/\r$/, ""))
              .filter((line) => line.startsWith("data:")).map((line) => line.slice(5).replace(/^ /, "")).join("\n");
            for (;;) {
              const { value, done } = await reader.read();
              if (value) buffer += decoder.decode(value, { stream: true });
              let end;
              while ((end = buffer.indexOf("\n\n")) >= 0) {
                const data = take(buffer.slice(0, end));
                buffer = buffer.slice(end + 2);
                if (data) yield data;
              }
              if (done) {
                const data = take(buffer + decoder.decode());
                if (data) yield data;
                return;
              }
            }
          }

          // Streams one generation; `onText` gets each piece of text. Resolves with what the last chunks said.
          async function stream(path, body, { apiKey, signal, onText }) {
            const response = await fetch(path, { method: "POST", headers: headers(apiKey), body: JSON.stringify(body), signal });
            if (!response.ok) throw await failure(response);
            const result = { timings: null, usage: null, finishReason: null };
            for await (const data of serverSentEvents(response)) {
              if (data === "[DONE]") break;
              let chunk;
              try { chunk = JSON.parse(data); } catch (error) { continue; }
              if (!chunk || typeof chunk !== "object") continue;
              const message = errorMessage(chunk);
              if (message) throw new RequestError(0, message);
              if (chunk.timings) result.timings = chunk.timings;
              if (chunk.usage) result.usage = chunk.usage;
              let piece = "";
              if (Array.isArray(chunk.choices)) {
                const choice = chunk.choices[0];
                if (choice) {
                  if (choice.delta && typeof choice.delta.content === "string") piece = choice.delta.content;
                  else if (typeof choice.text === "string") piece = choice.text;
                  if (choice.finish_reason) result.finishReason = choice.finish_reason;
                }
              } else if (typeof chunk.content === "string") {
                piece = chunk.content; // llama.cpp /completion shape
                if (chunk.stop) {
                  result.finishReason = chunk.stop_type === "limit" ? "length" : "stop";
                  result.usage = { prompt_tokens: chunk.tokens_evaluated, completion_tokens: chunk.tokens_predicted };
                }
              }
              if (piece) onText(piece);
            }
            return result;
          }

          function chat(messages, settings, options) {
            return stream("/v1/chat/completions", {
              messages, stream: true, stream_options: { include_usage: true },
              temperature: settings.temperature, top_p: settings.topP, max_tokens: settings.maxTokens,
              ...(settings.jsonOutput ? { response_format: { type: "json_object" } } : {}),
            }, { ...options, apiKey: settings.apiKey });
          }

          function complete(prompt, settings, options) {
            return stream("/completion", {
              prompt, stream: true, temperature: settings.temperature, top_p: settings.topP, n_predict: settings.maxTokens,
              ...(settings.jsonOutput ? { response_format: { type: "json_object" } } : {}),
            }, { ...options, apiKey: settings.apiKey });
          }

          // The numbers shown under an answer, from the final chunk's `timings` and `usage`.
          function statistics(result, seconds) {
            const timings = result.timings || {}, usage = result.usage || {};
            const number = (...values) => values.find((value) => Number.isFinite(value));
            return {
              completionTokens: number(usage.completion_tokens, timings.predicted_n),
              promptTokens: number(usage.prompt_tokens, timings.prompt_n),
              tokensPerSecond: number(timings.predicted_per_second),
              promptPerSecond: number(timings.prompt_per_second),
              promptProcessed: number(timings.prompt_n),
              cachedTokens: number(timings.cache_n),
              finishReason: result.finishReason,
              seconds,
            };
          }

          return { props, chat, complete, statistics, RequestError };
        })();
        """#
}
