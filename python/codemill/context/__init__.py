"""Repository context: imports, the import graph, ranking, budgeted context, the assistant.

May import: sources, syntax, index, tokenizer, errors, languages, _io.
"""
