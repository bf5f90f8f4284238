"""tree-sitter parsers and queries, and the one table of definition kinds per language.

Feeds chunking (index), repository context and fine-tuning samples. May import: languages,
errors. Nothing above it.
"""
