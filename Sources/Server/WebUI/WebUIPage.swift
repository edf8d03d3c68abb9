/// The built-in web UI: one HTML document with its style and script inline, so the runner needs no other
/// files and the page works offline. The parts live in separate files by concern (markup, style, the script's
/// modules); this file only joins them.
enum WebUIPage {
    static let html: String = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>swiftfile</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml">
        <style>
        \(WebUIStyle.css)
        </style>
        </head>
        <body>
        \(WebUIMarkup.body)
        <script>
        "use strict";
        \(WebUIScriptStore.source)
        \(WebUIScriptMarkdown.source)
        \(WebUIScriptAPI.source)
        \(WebUIScriptChat.source)
        \(WebUIScriptApp.source)
        </script>
        </body>
        </html>

        """

    /// A small icon so browsers do not log a 404 for /favicon.ico (the page's console stays clean).
    static let favicon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">\
        <rect width="32" height="32" rx="7" fill="#e8590c"/>\
        <path d="M9 21c3 3 11 3 13-1s-10-4-9-9 9-3 11 0" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/>\
        </svg>

        """
}
