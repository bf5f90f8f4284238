//! PyO3 bindings only: argument conversion, `Python::detach` around the work, result conversion.
//! One file per concept; the module below is the private `codemill._core`.
mod base;
mod batch;
mod code_file;
mod embed;
mod encoding;
mod errors;
mod lex;
mod limit;
mod listing;
mod malloc;
mod minhash;
mod pagerank;
mod text;
mod tokenizer;

#[pyo3::pymodule]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::base::PyBaseTokenizer;
    #[pymodule_export]
    use super::batch::{pack_batches, PyEmbeddingBatcher};
    #[pymodule_export]
    use super::code_file::{decode_code, read_code_files};
    #[pymodule_export]
    use super::embed::{code_terms, embed_hashed};
    #[pymodule_export]
    use super::lex::{count_pieces, identifier_parts, pretokenize};
    #[pymodule_export]
    use super::listing::{list_dir, PyListingAhead};
    #[pymodule_export]
    use super::malloc::{cap_malloc_arenas, keep_freed_memory};
    #[pymodule_export]
    use super::minhash::{
        bucket_pairs, connected_components, content_hashes, exact_jaccard_pairs, lsh_band_keys,
        lsh_edges, lsh_pairs, lsh_params, minhash_signatures, minhash_signatures_from_hashes,
        read_record_texts, shingle_hashes, signature_estimates, PyFirstSeen, PyRecordTexts,
    };
    #[pymodule_export]
    use super::pagerank::personalized_pagerank;
    #[pymodule_export]
    use super::tokenizer::PyTokenizer;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        // The head a NUL byte is looked for in (a record's text is sniffed the same way).
        m.add("SNIFF", crate::code_file::SNIFF)?;
        // The head of an extension-less file a listing reads for its shebang line.
        m.add("HEAD_BYTES", crate::listing::HEAD_BYTES)?;
        // The MinHash limits the dedup config checks before any work.
        m.add("MAX_NUM_PERM", crate::minhash::MAX_NUM_PERM)?;
        m.add("MAX_NGRAM", crate::minhash::MAX_NGRAM)?;
        super::errors::register(m)
    }
}
