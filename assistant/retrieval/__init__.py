"""Retrieval: dense, BM25 and structure-routed search, fused and reordered by the fitted record ranker."""
