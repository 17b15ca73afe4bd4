"""Answering: the grounded answerer, its sentences, citations, conflicts and refusals, and the optional LLM."""
