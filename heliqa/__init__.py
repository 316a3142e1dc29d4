"""heliqa's surfaces: the terminal CLI, the chat REPL and the Helicone-compatible server."""
