"""Spider-style example: a LangGraph write → check → rewrite SQL agent, trained with Agent Lightning."""
