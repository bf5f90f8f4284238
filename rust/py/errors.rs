//! The one mapping from the core's `Error` to Python exceptions.
use crate::error::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    codemill,
    CodemillError,
    PyValueError,
    "Base class of codemill's errors."
);
create_exception!(
    codemill,
    TokenizerFileError,
    CodemillError,
    "A tokenizer file is corrupt, of another format or of an unsupported version."
);

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Format(_) => TokenizerFileError::new_err(err.to_string()),
            _ => CodemillError::new_err(err.to_string()),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CodemillError", py.get_type::<CodemillError>())?;
    m.add("TokenizerFileError", py.get_type::<TokenizerFileError>())?;
    Ok(())
}

/// A language name (or None) to the scanner's language.
pub fn lang_arg(language: Option<&str>) -> PyResult<crate::lex::Lang> {
    Ok(match language {
        None => crate::lex::Lang::Generic,
        Some(name) => crate::lex::Lang::from_name(name)?,
    })
}
