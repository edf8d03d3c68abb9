// Request and response bodies are JSONValue, part of this module's API.
@_exported import JSON
