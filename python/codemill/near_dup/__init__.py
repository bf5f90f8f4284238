"""Exact and MinHash-LSH near-duplicate removal: signatures, the one decision, outputs, Ray.

config (DedupConfig: every parameter, validated) <- minhash (MinHasher) <- signing (what a
text contributes) <- decide (the one decision, used by dedup and by finetune's prepare)
<- api (dedup, dedup_texts); io reads inputs, output writes the kept documents, ray runs
signing and LSH pairing as Ray tasks.

May import: codemill._core, sources, errors, languages, _io, _batches, _ray, outputs.
"""
