"""Exact and MinHash-LSH near-duplicate removal: signatures, the one decision, outputs, Ray.

May import: codemill._core, sources, errors, languages, _io.
"""
