"""The hybrid code index: chunking, embedders, HybridIndex (FAISS + BM25 + fusion), persistence.

May import: codemill._core, sources, syntax, tokenizer, errors, languages, _io, outputs,
progress.
"""
