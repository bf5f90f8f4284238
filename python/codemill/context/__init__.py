"""Repository context: imports, the import graph, ranking, budgeted context, the assistant.

Modules, lower first: ``imports/`` (extraction and resolution per language), ``definitions``
(a file's definitions from the one syntax table), ``ranking`` (personalised PageRank),
``graph`` (ImportGraph), ``builder`` (ContextBuilder, RepoContext), ``retrieval`` (Hit,
Retriever, IndexRetriever), ``chat`` (ChatClient), ``assistant`` (CodeAssistant).

May import: sources, syntax, index, tokenizer, errors, languages, _io.
"""
