"""The one document reader: trees (with .gitignore), files, JSONL(.gz/.zst), Parquet.

Every command reads its inputs through this layer; every input that is not read is counted
with its reason from one skip vocabulary. May import: errors, languages, _io. Nothing else.
"""
