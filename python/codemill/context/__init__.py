"""Repository context: imports, the persistent graph, symbol ranking, budgeted context, the assistant.

Modules, lower first: ``imports/`` (extraction and resolution per language), ``definitions``
(a file's definitions from the one syntax table), ``symbols`` (definitions, references and
build exclusions per file), ``relevance`` (what may give context: the relevance floor),
``ranking`` (the joint file+definition graph and its personalised PageRank, computed by the
native core), ``symbol_table`` (definition name -> where), ``graph_store`` (the saved graph),
``graph_report`` (statistics, JSON, DOT), ``graph`` (ImportGraph: build, update, save, load),
``builder`` (ContextBuilder, RepoContext), ``lookup`` (the definitions a search query names,
first among search results), ``retrieval`` (Hit, Retriever, IndexRetriever), ``chat``
(ChatClient), ``assistant`` (CodeAssistant).

May import: codemill._core, sources, syntax, index, tokenizer, errors, languages, _io,
progress.
"""
