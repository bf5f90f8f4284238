"""Fine-tuning data preparation: filters, samples (completion, FIM, docstring), the pipeline.

May import: sources, syntax, near_dup (the one near-duplicate decision), tokenizer, errors,
languages, _io.
"""
