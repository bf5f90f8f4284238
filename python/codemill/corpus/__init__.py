"""Corpus-scale tokenization: task planning, shard formats (npy, Megatron), the job, engines.

May import: tokenizer, sources, errors, languages, _io. Engines (local, ray) run the tasks the
job plans; they import the task runner and the shard writer, never the job.
"""
