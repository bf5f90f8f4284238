//! PyO3 bindings only: argument conversion, `Python::detach` around the work, result conversion.
//! One file per concept; the module below is the private `codemill._core`.
mod errors;
mod lex;
mod tokenizer;

#[pyo3::pymodule]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::lex::{count_pieces, identifier_parts, pretokenize};
    #[pymodule_export]
    use super::tokenizer::PyTokenizer;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::errors::register(m)
    }
}
