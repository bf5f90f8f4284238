"""tree-sitter parsers and queries, and the one table of definition kinds per language.

Modules: ``parsers`` (grammars, ``grammar_for_path``, one cached parser per grammar and
thread), ``queries`` (compiled queries, cached), ``definitions`` (the table of definition
node kinds per grammar, definition names, and the walk that finds definitions).

Feeds chunking (index), repository context and fine-tuning samples. May import: languages,
errors. Nothing above it.
"""
