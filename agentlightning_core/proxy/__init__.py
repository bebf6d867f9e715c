"""The OpenAI-compatible LLM proxy mounted in the server, and the pass-through engine."""
