"""Fine-tuning data preparation: filters, samples (completion, FIM, docstring), the pipeline.

config (PrepareConfig) <- work (per-batch filter, sign, build in pool processes) <- pipeline
(Preparer, prepare: two passes around near_dup's one decision) -> writer (atomic output).

May import: sources, syntax, near_dup (the one near-duplicate decision), tokenizer, errors,
languages, _io, outputs, progress, _cpus, _workers.
"""
